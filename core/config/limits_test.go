package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimitsConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "node.example.toml"))
	require.NoError(t, err)
	for _, key := range []string{"max_conns_per_addr", "frame_timeout", "handshake_timeout"} {
		require.Contains(t, string(data), "\n"+key+" = ", key)
	}

	c := Default()
	c.Node.MaxConnsPerAddr, c.Node.FrameTimeout, c.Node.HandshakeTimeout = 0, Duration{}, Duration{-time.Second}
	err = c.Validate()
	require.Error(t, err)
	for _, want := range []string{"node.max_conns_per_addr: must be >= 1, got 0", "node.frame_timeout: must be > 0",
		"node.handshake_timeout: must be > 0"} {
		require.Contains(t, err.Error(), want)
	}

	path := filepath.Join(t.TempDir(), "n.toml")
	require.NoError(t, os.WriteFile(path, []byte("[node]\nmax_conns_per_addr = 7\nframe_timeout = \"2s\"\nhandshake_timeout = \"1s\"\n"), 0o644))
	c, err = Load(path)
	require.NoError(t, err)
	l := c.Node.connLimits()
	require.Equal(t, 7, l.MaxConnsPerAddr)
	require.Equal(t, 2*time.Second, l.FrameTimeout)
	require.Equal(t, time.Second, l.HandshakeTimeout)

	require.NoError(t, os.WriteFile(path, []byte("[node]\nframe_timeout = 30\n"), 0o644))
	_, err = Load(path)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "node.frame_timeout"), err.Error())
}
