package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
)

// clusterNode is one ellipticsd of a test cluster.
type clusterNode struct {
	dir, addr, conf string
	group           int
	d               *daemon
}

// freeAddr returns a loopback address nothing listens on right now.
//
// The port is drawn below Linux's ephemeral range (32768 and up by
// default): a port the kernel picked for a listener is as likely to be
// picked next for some test's outgoing connection, which then holds it
// when the daemon binds (seen with the connection floods of TestGarbage).
// Ports are handed out once per test process.
func freeAddr(t *testing.T) string {
	t.Helper()
	freePorts.Lock()
	defer freePorts.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if freePorts.used[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		freePorts.used[port] = true
		return ln.Addr().String()
	}
	t.Fatal("no free port in 20000..31999")
	return ""
}

var freePorts = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}

// newCluster configures groups×perGroup nodes, each with one blob backend;
// every node names the first node as its remote. Nodes are not started.
func newCluster(t *testing.T, groups, perGroup int) []*clusterNode {
	var nodes []*clusterNode
	var first string
	for g := 1; g <= groups; g++ {
		for i := 0; i < perGroup; i++ {
			n := &clusterNode{dir: t.TempDir(), addr: freeAddr(t), group: g}
			if first == "" {
				first = n.addr
			}
			n.conf = filepath.Join(n.dir, "node.toml")
			remotes := ""
			if n.addr != first {
				remotes = fmt.Sprintf("remotes = [%q]", first)
			}
			require.NoError(t, os.WriteFile(n.conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
%s
data_dir = %q
log_level = "info"

[[backend]]
group = %d
type = "blob"
sync = "none"
`, n.addr, remotes, filepath.Join(n.dir, "data"), g)), 0o644))
			nodes = append(nodes, n)
		}
	}
	return nodes
}

func (n *clusterNode) start(t *testing.T) { n.d = startDaemon(t, n.dir, "--config", n.conf) }

func startAll(t *testing.T, nodes []*clusterNode) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.start(t) }()
	}
	wg.Wait()
}

// waitTable waits until a client connected to addr sees want backends.
func waitTable(t *testing.T, s *client.Session, want int) *route.Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := s.Node().WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == want })
	require.NoError(t, err, "route table: %v", s.Node().Table())
	return s.Node().Table()
}

// TestClusterJoinForwardFailover runs 3 groups × 2 nodes, each joining
// through the first node only, and checks: everyone learns the whole table;
// a client that talks to one node only (proxy) reaches every key through
// forwarding; keys land on their owners; a SIGKILLed node is dropped and
// reads fall through to other groups while writes go to the remaining
// node of its group; the node rejoins after a restart.
func TestClusterJoinForwardFailover(t *testing.T) {
	nodes := newCluster(t, 3, 2)
	startAll(t, nodes)

	// Every node's view converges, whichever node a client asks.
	for _, n := range nodes {
		s := session(t, n.addr)
		tb := waitTable(t, s, 6)
		require.Equal(t, []uint32{1, 2, 3}, tb.Groups())
	}

	// A client that reaches only nodes[0]: every request is forwarded.
	pn := client.NewNode(client.Config{Proxy: true, WaitTimeout: 3 * time.Second})
	defer pn.Close()
	require.NoError(t, pn.AddRemotes(context.Background(), nodes[0].addr))
	proxy := client.NewSession(pn)
	proxy.SetGroups(1, 2, 3)
	proxy.SetChecker(client.CheckAll)
	ctx := context.Background()
	const keys = 200
	for i := 0; i < keys; i++ {
		_, err := proxy.Write(ctx, client.NewKey(fmt.Sprintf("key-%d", i)), []byte(fmt.Sprintf("value-%d", i)))
		require.NoError(t, err, "key %d through one node", i)
	}

	// Each key sits on its owner: every backend holds exactly the keys the
	// ring gives it, so the other nodes did get forwarded writes.
	direct := session(t, nodes[0].addr)
	tb := waitTable(t, direct, 6)
	want := map[string]int{}
	for i := 0; i < keys; i++ {
		oid, _ := direct.ID(client.NewKey(fmt.Sprintf("key-%d", i)))
		for g := uint32(1); g <= 3; g++ {
			o, ok := tb.Owner(oid, g)
			require.True(t, ok)
			want[o.Addr]++
		}
	}
	forwardedTo := 0
	for _, n := range nodes {
		st, err := direct.BackendStatus(ctx, n.addr)
		require.NoError(t, err)
		require.Len(t, st, 1)
		require.Equal(t, uint64(want[n.addr]), st[0].Records, "records on %s", n.addr)
		if n.addr != nodes[0].addr && st[0].Records > 0 {
			forwardedTo++
		}
	}
	require.Equal(t, 5, forwardedTo, "writes sent to node 0 reached the other five nodes")

	// Reads through the proxy and directly.
	direct.SetGroups(1, 2, 3)
	for i := 0; i < keys; i++ {
		for _, s := range []*client.Session{proxy, direct} {
			e, err := s.Read(ctx, client.NewKey(fmt.Sprintf("key-%d", i)), 0, 0)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("value-%d", i), string(e.Data))
		}
	}

	// Kill a node of group 1 (not the one everyone joined through).
	victim := nodes[1]
	require.Equal(t, 1, victim.group)
	victim.d.kill()
	waitTable(t, direct, 5)
	for i := 0; i < keys; i++ {
		e, all, err := direct.ReadAll(ctx, client.NewKey(fmt.Sprintf("key-%d", i)), 0, 0)
		require.NoError(t, err, "key %d after a node died", i)
		require.Equal(t, fmt.Sprintf("value-%d", i), string(e.Data))
		if e.Group != 1 {
			require.False(t, all[0].OK(), "group 1 missed the key, so the read fell through")
		}
	}
	// Writes with checker all succeed: group 1's keys now map to the
	// surviving node of group 1.
	for i := 0; i < 50; i++ {
		_, err := direct.Write(ctx, client.NewKey(fmt.Sprintf("after-%d", i)), []byte("x"))
		require.NoError(t, err)
	}

	// Restart: the node rejoins on its own and serves its data again.
	victim.start(t)
	waitTable(t, direct, 6)
	direct.SetGroups(1)
	found := 0
	for i := 0; i < keys; i++ {
		oid, _ := direct.ID(client.NewKey(fmt.Sprintf("key-%d", i)))
		if o, _ := direct.Node().Table().Owner(oid, 1); o.Addr == victim.addr {
			e, err := direct.Read(ctx, client.NewKey(fmt.Sprintf("key-%d", i)), 0, 0)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("value-%d", i), string(e.Data))
			found++
		}
	}
	require.Positive(t, found, "the restarted node owns keys again")
}

// TestClusterRouteConflict gives two nodes of one group the same ring
// points: the second is refused from route tables with a clear log line,
// and nothing crashes.
func TestClusterRouteConflict(t *testing.T) {
	nodes := newCluster(t, 1, 2)
	nodes[0].start(t)
	ids := filepath.Join(nodes[0].dir, "data", "backend-0", route.IDsFileName)
	data, err := os.ReadFile(ids)
	require.NoError(t, err)
	dup := filepath.Join(nodes[1].dir, "data", "backend-0")
	require.NoError(t, os.MkdirAll(dup, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dup, route.IDsFileName), data, 0o644))
	nodes[1].start(t)

	s := session(t, nodes[0].addr, nodes[1].addr)
	time.Sleep(time.Second)
	require.Equal(t, 1, s.Node().Table().Len(), "only one of the conflicting nodes is routed to")
	_, err = s.Write(context.Background(), client.NewKey("k"), []byte("v"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(nodes[0].d.stderr.String()+nodes[1].d.stderr.String(), "route conflict")
	}, 5*time.Second, 50*time.Millisecond)
	for _, n := range nodes {
		_, err := s.BackendStatus(context.Background(), n.addr)
		require.NoError(t, err, "both nodes still serve")
	}
}

// A node that disables a backend tells its clients: they stop routing to
// it at once.
func TestClusterPushesBackendChanges(t *testing.T) {
	nodes := newCluster(t, 2, 1)
	startAll(t, nodes)
	watcher := session(t, nodes[1].addr)
	waitTable(t, watcher, 2)
	admin := session(t, nodes[0].addr)
	_, err := admin.DisableBackend(context.Background(), nodes[0].addr, 0)
	require.NoError(t, err)
	waitTable(t, watcher, 1) // learnt by push from node 0, not by asking
	_, err = admin.EnableBackend(context.Background(), nodes[0].addr, 0)
	require.NoError(t, err)
	waitTable(t, watcher, 2)
}
