package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFrontendBeforeCluster: a frontend whose remote does not answer yet
// serves, answering 503 (no route) until it joins, and stops on SIGTERM.
func TestFrontendBeforeCluster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	remote := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	var logs syncBuffer
	addr, sigs, done := startDaemon(t, &logs, "--frontend", "--remote", remote, "--http-api", "127.0.0.1:0")
	resp, err := http.Get("http://" + addr + "/v1/ns/key")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
	var e struct {
		Code int32 `json:"code"`
	}
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, int32(-6), e.Code)
	// The join runs in the background: its first failed attempt may come
	// after the request above was answered.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "no remote reachable yet") },
		10*time.Second, 10*time.Millisecond, logs.String())

	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("frontend did not stop")
	}
}
