package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

const (
	e2eClusterSecret = "e2e-cluster-secret-0123456789"
	e2eAppSecret     = "e2e-app-secret-0123456789"
)

// appendSecurity adds a [security] table to a node's configuration.
func appendSecurity(t *testing.T, n *clusterNode, clusterSecret string) {
	t.Helper()
	f, err := os.OpenFile(n.conf, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = fmt.Fprintf(f, `
[security]
cluster_secret = %q
anonymous = []

[[security.keys]]
id = "app"
secret = %q
permissions = ["read", "write", "admin"]
`, clusterSecret, e2eAppSecret)
	require.NoError(t, err)
}

// TestAuthClusterAndCLI: two nodes with the same cluster secret form a
// cluster; the CLI with a key reads and writes, without one it is refused;
// a third node with a wrong secret never joins, and says so in its log.
func TestAuthClusterAndCLI(t *testing.T) {
	nodes := newCluster(t, 1, 3)
	appendSecurity(t, nodes[0], e2eClusterSecret)
	appendSecurity(t, nodes[1], e2eClusterSecret)
	appendSecurity(t, nodes[2], "a-wrong-cluster-secret-0123")
	// The node's built-in HTTP API is part of the node: it proves the
	// cluster secret and keeps working.
	httpAddr := freeAddr(t)
	f, err := os.OpenFile(nodes[0].conf, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "\n[http]\naddr = %q\n", httpAddr)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	startAll(t, nodes[:2])

	secretFile := filepath.Join(t.TempDir(), "app.secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(e2eAppSecret+"\n"), 0o600))
	key := []string{"--key-id", "app", "--key-secret-file", secretFile}
	remote := []string{"--remote", nodes[0].addr}

	// Both nodes appear in the routes once they joined each other.
	routes := func() string {
		out, errOut, code := cli(t, nil, append(append(remote, key...), "routes")...)
		require.Equal(t, 0, code, errOut)
		return out
	}
	require.Eventually(t, func() bool {
		out := routes()
		return strings.Contains(out, nodes[0].addr) && strings.Contains(out, nodes[1].addr)
	}, 15*time.Second, 100*time.Millisecond)

	// With the key: write through one node, read through the other.
	_, errOut, code := cli(t, []byte("secret data"), append(append(remote, key...), "write", "auth-key", "-")...)
	require.Equal(t, 0, code, errOut)
	out, errOut, code := cli(t, nil, append([]string{"--remote", nodes[1].addr, "--key-id", "app", "--key-secret-file", secretFile}, "read", "auth-key")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "secret data")
	// Ranges and iterators stream over connections of their own, which
	// authenticate too.
	out, errOut, code = cli(t, nil, append(append(remote, key...), "--groups", "1", "range", "read", "0", "max")...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "one record: %s", out)

	// Through the HTTP API.
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/v1/ns/auth-key")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond)
	req, err := http.NewRequest(http.MethodPut, "http://"+httpAddr+"/v1/ns/auth-key", strings.NewReader("via http"))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, resp.Status)
	resp, err = http.Get("http://" + httpAddr + "/v1/ns/auth-key")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "via http", string(body))
	require.Contains(t, nodes[0].d.stderr.String(), "does not authenticate its requests")

	// Without: refused, clearly.
	for _, args := range [][]string{{"read", "auth-key"}, {"routes"}} {
		_, errOut, code = cli(t, []byte("x"), append(remote, args...)...)
		require.NotEqual(t, 0, code)
		require.Contains(t, errOut, "not permitted", "%v", args)
	}
	// A wrong secret too.
	bad := filepath.Join(t.TempDir(), "bad.secret")
	require.NoError(t, os.WriteFile(bad, []byte("not-the-app-secret-0123"), 0o600))
	_, errOut, code = cli(t, nil, append(remote, "--key-id", "app", "--key-secret-file", bad, "read", "auth-key")...)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "not permitted")

	// A plain client library without credentials cannot connect either.
	n := client.NewNode(client.Config{WaitTimeout: 3 * time.Second})
	defer n.Close()
	require.Error(t, n.AddRemotes(context.Background(), nodes[0].addr))

	// The node with a wrong cluster secret is refused: it logs so, the
	// seed logs the attempt, and it never shows in the routes.
	nodes[2].start(t)
	require.Eventually(t, func() bool { return strings.Contains(nodes[2].d.stderr.String(), "refused by "+nodes[0].addr) },
		15*time.Second, 100*time.Millisecond, "joiner's log:\n%s", nodes[2].d.stderr)
	require.Eventually(t, func() bool { return strings.Contains(nodes[0].d.stderr.String(), "wrong cluster secret") },
		5*time.Second, 100*time.Millisecond, "seed's log:\n%s", nodes[0].d.stderr)
	time.Sleep(time.Second)
	for _, n := range nodes[:2] {
		out, errOut, code := cli(t, nil, append([]string{"--remote", n.addr}, append(key, "routes")...)...)
		require.Equal(t, 0, code, errOut)
		require.NotContains(t, out, nodes[2].addr)
	}
}
