package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

// freeAddrOn returns an address on host (a loopback address) nothing
// listens on right now.
func freeAddrOn(t *testing.T, host string) string {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMultiAddressRouteGroups runs 3 nodes (groups 1-3) each listening on
// two networks, 127.0.0.1 (index 0, which names the node and which the
// nodes join by) and 127.0.0.2 (index 1). A client given only a 127.0.0.2
// address must dial every other node on its 127.0.0.2 address (the
// original's route groups), while its route table names the nodes by their
// first addresses, as the nodes' own tables do; and it reads and writes
// every group.
func TestMultiAddressRouteGroups(t *testing.T) {
	type mnode struct {
		dir, conf, a0, a1 string
	}
	var nodes []*mnode
	for g := 1; g <= 3; g++ {
		n := &mnode{dir: t.TempDir(), a0: freeAddrOn(t, "127.0.0.1"), a1: freeAddrOn(t, "127.0.0.2")}
		remotes := ""
		if g > 1 {
			remotes = fmt.Sprintf("remotes = [%q]", nodes[0].a0)
		}
		n.conf = filepath.Join(n.dir, "node.toml")
		require.NoError(t, os.WriteFile(n.conf, []byte(fmt.Sprintf(`[node]
listen = [%q, %q]
%s
data_dir = %q
log_level = "info"

[[backend]]
group = %d
type = "blob"
sync = "none"
`, n.a0, n.a1, remotes, filepath.Join(n.dir, "data"), g)), 0o644))
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		d := startDaemon(t, n.dir, "--config", n.conf)
		require.Equal(t, n.a0, d.Addr)
	}

	// The nodes' own tables converge (every node reaches the other two).
	for _, n := range nodes {
		s := session(t, n.a0)
		waitTable(t, s, 3)
	}

	cn := client.NewNode(client.Config{WaitTimeout: 3 * time.Second})
	t.Cleanup(func() { cn.Close() })
	require.NoError(t, cn.AddRemotes(context.Background(), nodes[1].a1))
	require.Equal(t, 1, cn.RouteIndexInUse())
	s := client.NewSession(cn)
	tb := waitTable(t, s, 3)
	want := map[string]string{}
	for _, n := range nodes {
		want[n.a0] = n.a1 // identity -> address dialed
	}
	require.ElementsMatch(t, []string{nodes[0].a0, nodes[1].a0, nodes[2].a0}, tb.Addresses())
	require.Eventually(t, func() bool { return len(cn.Connections()) == 3 }, 15*time.Second, 20*time.Millisecond,
		"connections: %v", cn.Connections())
	require.Equal(t, want, cn.Connections())

	ctx := context.Background()
	s.SetGroups(1, 2, 3)
	for i := range 20 {
		key := client.NewKey(fmt.Sprintf("multi-%d", i))
		data := []byte(fmt.Sprintf("value %d", i))
		res, err := s.Write(ctx, key, data)
		require.NoError(t, err)
		require.Equal(t, 3, res.Succeeded)
		for g := uint32(1); g <= 3; g++ {
			gs := client.NewSession(cn)
			gs.SetGroups(g)
			e, err := gs.Read(ctx, key, 0, 0)
			require.NoError(t, err, "group %d", g)
			require.Equal(t, data, e.Data)
		}
	}
	// Still only the 127.0.0.2 connections: nothing went to a first address.
	require.Equal(t, want, cn.Connections())

	// The CLI shows where it dialed each node.
	out, errOut, code := cli(t, nil, "--remote", nodes[1].a1, "--json", "nodes")
	require.Equal(t, 0, code, errOut)
	var listed struct {
		Nodes []struct {
			Address, Dialed string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &listed), out)
	require.Len(t, listed.Nodes, 3, out)
	for _, n := range listed.Nodes {
		require.Equal(t, want[n.Address], n.Dialed, out)
	}
}
