package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/server"
)

func TestAuthFlags(t *testing.T) {
	t.Setenv(envKeyID, "")
	t.Setenv(envKeySecret, "")
	s, err := server.New(server.Options{
		Listen:   []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}},
		Auth: server.AuthOptions{Keys: []auth.Key{
			{ID: "app", Secret: "app-secret-0123456789", Perms: auth.Read | auth.Write},
			{ID: "viewer", Secret: "viewer-secret-0123456789", Perms: auth.Read},
		}},
	})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	addr := s.Addrs()[0].String()
	dir := t.TempDir()
	appFile := filepath.Join(dir, "app.secret")
	require.NoError(t, os.WriteFile(appFile, []byte("app-secret-0123456789\n"), 0o600))

	o := runCLI(t, []byte("hello"), "--remote", addr, "write", "k", "-")
	require.Equal(t, exitFailed, o.code, o.stderr)
	require.Contains(t, o.stderr, "not permitted")

	o = runCLI(t, []byte("hello"), "--remote", addr, "--key-id", "app", "--key-secret-file", appFile, "write", "k", "-")
	require.Equal(t, exitOK, o.code, o.stderr)
	o = runCLI(t, nil, "--remote", addr, "--key-id", "app", "--key-secret-file", appFile, "read", "k")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Contains(t, o.stdout, "hello")

	// The secret from the environment; a read-only key may not write.
	t.Setenv(envKeySecret, "viewer-secret-0123456789")
	o = runCLI(t, nil, "--remote", addr, "--key-id", "viewer", "read", "k")
	require.Equal(t, exitOK, o.code, o.stderr)
	o = runCLI(t, []byte("x"), "--remote", addr, "--key-id", "viewer", "write", "k", "-")
	require.Equal(t, exitFailed, o.code, o.stderr)
	require.Contains(t, o.stderr, "not permitted")

	// A wrong secret is refused; a key without a secret is a usage error.
	t.Setenv(envKeySecret, "wrong-secret-0123456789")
	o = runCLI(t, nil, "--remote", addr, "--key-id", "viewer", "read", "k")
	require.Equal(t, exitFailed, o.code, o.stderr)
	require.Contains(t, o.stderr, "not permitted")
	t.Setenv(envKeySecret, "")
	o = runCLI(t, nil, "--remote", addr, "--key-id", "viewer", "read", "k")
	require.Equal(t, exitUsage, o.code, o.stderr)
}
