package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/transport"
	"github.com/elliptics/elliptics/core/transport/tlstest"
)

// tlsSession connects to addrs with TLS: the CA and, if cert is set, a
// client certificate.
func tlsSession(t *testing.T, files transport.TLSFiles, addrs ...string) (*client.Session, error) {
	t.Helper()
	tr, err := transport.NewTLS(files)
	require.NoError(t, err)
	n := client.NewNode(client.Config{Dial: tr.Dial, WaitTimeout: 3 * time.Second, DialTimeout: 3 * time.Second})
	t.Cleanup(func() { n.Close() })
	if err := n.AddRemotes(context.Background(), addrs...); err != nil {
		return nil, err
	}
	return client.NewSession(n), nil
}

// TestTLSCluster runs two ellipticsd (groups 1 and 2) with [tls] and
// client_auth = "require": they join over mutual TLS and replicate; the
// Go client and the CLI with certificates work, the HTTP API of a node
// reaches the cluster over TLS; a plain client and a client without a
// certificate are refused within seconds.
func TestTLSCluster(t *testing.T) {
	pki := t.TempDir()
	ca := tlstest.NewCA(t, "elliptics test ca")
	caFile := ca.WriteCA(t, pki, "ca.crt")
	nodeCert, nodeKey := ca.Issue(t, "node", "127.0.0.1", "localhost").Write(t, pki, "node")
	cliCert, cliKey := ca.Issue(t, "client").Write(t, pki, "client")

	nodes := newCluster(t, 2, 1)
	httpAddr := freeAddr(t)
	for i, n := range nodes {
		extra := ""
		if i == 0 {
			extra = fmt.Sprintf("\n[http]\naddr = %q\ntls = true\n", httpAddr)
		}
		f, err := os.OpenFile(n.conf, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = fmt.Fprintf(f, `
[tls]
cert_file = %q
key_file = %q
ca_file = %q
client_auth = "require"
%s`, nodeCert, nodeKey, caFile, extra)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	startAll(t, nodes)

	withCert := transport.TLSFiles{CAFile: caFile, CertFile: cliCert, KeyFile: cliKey}
	s0, err := tlsSession(t, withCert, nodes[0].addr)
	require.NoError(t, err)
	waitTable(t, s0, 2) // the nodes joined each other over TLS
	s1, err := tlsSession(t, withCert, nodes[1].addr)
	require.NoError(t, err)
	waitTable(t, s1, 2)

	// Written through node 0 to both groups, read from group 2 (node 1).
	ctx := context.Background()
	s0.SetGroups(1, 2)
	s0.SetChecker(client.CheckAll)
	for i := 0; i < 20; i++ {
		_, err := s0.Write(ctx, client.NewKey(fmt.Sprintf("tls-%d", i)), []byte(fmt.Sprintf("value-%d", i)))
		require.NoError(t, err)
	}
	s1.SetGroups(2)
	for i := 0; i < 20; i++ {
		e, err := s1.Read(ctx, client.NewKey(fmt.Sprintf("tls-%d", i)), 0, 0)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("value-%d", i), string(e.Data))
	}
	st, err := s1.BackendStatus(ctx, nodes[1].addr)
	require.NoError(t, err)
	require.Equal(t, uint64(20), st[0].Records)

	// The CLI with --tls-* flags.
	tlsFlags := []string{"--tls-ca", caFile, "--tls-cert", cliCert, "--tls-key", cliKey}
	out, errOut, code := cli(t, []byte("from the cli"), append(tlsFlags, "--remote", nodes[1].addr, "write", "cli-key", "-")...)
	require.Equal(t, 0, code, "stdout %s stderr %s", out, errOut)
	out, errOut, code = cli(t, nil, append(tlsFlags, "--remote", nodes[0].addr, "--groups", "1", "read", "cli-key")...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "from the cli", out)
	// The same host under another name fails verification, unless told.
	_, errOut, code = cli(t, nil, append(tlsFlags, "--remote", nodes[0].addr, "--tls-server-name", "elsewhere.example", "read", "cli-key")...)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "elsewhere.example")
	t.Logf("CLI, wrong server name: %s", strings.TrimSpace(errOut))
	out, errOut, code = cli(t, nil, append(tlsFlags, "--remote", nodes[0].addr, "--tls-server-name", "localhost", "--groups", "2", "read", "cli-key")...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "from the cli", out)

	// The HTTP API, over HTTPS (http.tls) with the node's certificate,
	// reaches its node and the other over TLS.
	caPEM, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + httpAddr + "/v1/ns/tls-http"
	waitHTTP(t, hc, url)
	// The API's client learns the other node in the background; a PUT
	// before it does would reach group 1 only.
	require.Eventually(t, func() bool {
		resp, err := hc.Get(url + "?groups=2")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound
	}, 10*time.Second, 50*time.Millisecond, "the HTTP API never routed group 2")
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader("over https"))
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300)
	resp, err = hc.Get(url + "?groups=2")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Equal(t, "over https", string(body))
	resp, err = http.Get("http://" + httpAddr + "/v1/ns/tls-http") // plain HTTP to the HTTPS port
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// A client without a certificate is refused.
	start := time.Now()
	_, err = tlsSession(t, transport.TLSFiles{CAFile: caFile}, nodes[0].addr)
	require.Error(t, err)
	require.Contains(t, err.Error(), "certificate")
	require.Less(t, time.Since(start), 5*time.Second)
	_, errOut, code = cli(t, nil, "--tls-ca", caFile, "--remote", nodes[0].addr, "read", "cli-key")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "certificate")
	t.Logf("CLI without a certificate: %s", strings.TrimSpace(errOut))

	// A client without the CA does not trust the nodes.
	_, err = tlsSession(t, transport.TLSFiles{CertFile: cliCert, KeyFile: cliKey}, nodes[0].addr)
	require.ErrorContains(t, err, "certificate signed by unknown authority")

	// A plain client gets an error within seconds, no hang.
	start = time.Now()
	n := client.NewNode(client.Config{WaitTimeout: 3 * time.Second, DialTimeout: 3 * time.Second})
	defer n.Close()
	require.Error(t, n.AddRemotes(ctx, nodes[0].addr))
	require.Less(t, time.Since(start), 5*time.Second)
	start = time.Now()
	_, errOut, code = cli(t, nil, "--remote", nodes[1].addr, "--timeout", "3s", "read", "cli-key")
	require.NotEqual(t, 0, code)
	require.Less(t, time.Since(start), 8*time.Second, errOut)
	t.Logf("plain CLI: %s", strings.TrimSpace(errOut))

	// The nodes logged the refused handshakes and kept serving.
	for _, n := range nodes {
		require.NotContains(t, n.d.stderr.String(), "panic")
	}
	e, err := s0.Read(ctx, client.NewKey("tls-0"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "value-0", string(e.Data))
}

// waitHTTP waits until the HTTP API answers (any status but 503).
func waitHTTP(t *testing.T, hc *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no answer", url)
}
