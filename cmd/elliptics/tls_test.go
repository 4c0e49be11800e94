package main

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/transport"
	"github.com/elliptics/elliptics/core/transport/tlstest"
)

// TestTLSFlags runs the CLI against a node over mutual TLS.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	caFile := ca.WriteCA(t, dir, "ca.crt")
	node := ca.Issue(t, "node", "127.0.0.1", "localhost")
	cert, key := ca.Issue(t, "client").Write(t, dir, "client")

	s, err := server.New(server.Options{Listen: []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}},
		Transport: &transport.TLS{Server: &tls.Config{Certificates: []tls.Certificate{node.TLS}, ClientCAs: ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}}})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	r := "--remote=" + s.Addrs()[0].String()
	flags := []string{r, "--timeout=3s", "--tls-ca", caFile, "--tls-cert", cert, "--tls-key", key}

	o := runCLI(t, []byte("secret"), append(flags, "write", "k", "-")...)
	require.Equal(t, exitOK, o.code, o.stderr)
	o = runCLI(t, nil, append(flags, "read", "k")...)
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Equal(t, "secret", o.stdout)
	// Global flags after the command, and a server name of the certificate.
	o = runCLI(t, nil, "read", "k", r, "--tls-ca="+caFile, "--tls-cert="+cert, "--tls-key="+key, "--tls-server-name=localhost")
	require.Equal(t, exitOK, o.code, o.stderr)

	o = runCLI(t, nil, r, "--timeout=3s", "--tls-ca", caFile, "read", "k")
	require.Equal(t, exitUnreachable, o.code)
	require.Contains(t, o.stderr, "certificate required")
	o = runCLI(t, nil, r, "--timeout=3s", "read", "k")
	require.Equal(t, exitUnreachable, o.code)

	o = runCLI(t, nil, r, "--tls-cert", cert, "read", "k")
	require.Equal(t, exitUsage, o.code)
	require.Contains(t, o.stderr, "--tls-cert and --tls-key go together")
	o = runCLI(t, nil, r, "--tls-ca", filepath.Join(dir, "nope.crt"), "read", "k")
	require.Equal(t, exitUsage, o.code)
	require.Contains(t, o.stderr, "nope.crt")
}
