package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/status"
)

// recoveryNode configures a node with one blob backend of group g and a
// [recovery] table (extra lines), joining remote unless it is "".
func recoveryNode(t *testing.T, g int, remote, recoveryTable string) *clusterNode {
	t.Helper()
	n := &clusterNode{dir: t.TempDir(), addr: freeAddr(t), group: g}
	n.conf = filepath.Join(n.dir, "node.toml")
	remotes := ""
	if remote != "" {
		remotes = fmt.Sprintf("remotes = [%q]", remote)
	}
	require.NoError(t, os.WriteFile(n.conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
%s
data_dir = %q
log_level = "info"
ping_interval = "200ms"
ping_timeout = "500ms"

[recovery]
merge_delay = "300ms"
%s

[[backend]]
group = %d
type = "blob"
sync = "none"
`, n.addr, remotes, filepath.Join(n.dir, "data"), recoveryTable, g)), 0o644))
	return n
}

// jobsOf returns the recovery jobs of kind on the node at addr; none when
// the node cannot answer (just restarted, its old connection not yet
// replaced): callers poll it, and an error now is not a failure.
func jobsOf(t *testing.T, s *client.Session, addr string, kind recovery.Kind) []recovery.Status {
	t.Helper()
	jobs, err := s.RecoveryStatus(context.Background(), addr)
	if err != nil {
		t.Logf("recovery status of %s: %v", addr, err)
		return nil
	}
	var out []recovery.Status
	for _, j := range jobs {
		if j.Spec.Kind == kind {
			out = append(out, j)
		}
	}
	return out
}

// placed counts the records of backend 0 of the node at addr, and fails
// if the route table gives one of them to another node.
func placed(s *client.Session, addr string, g uint32) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Group: g})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	tab := s.Node().Table()
	n := 0
	for e := range it.Entries() {
		if owner, ok := tab.Owner(e.ID, g); !ok || owner.Addr != addr {
			return n, fmt.Errorf("record %s lives on %s, owned by %s", e.ID.Short(), addr, owner.Addr)
		}
		n++
	}
	return n, it.Err()
}

func iterateCount(t *testing.T, s *client.Session, addr string, g uint32) int {
	t.Helper()
	n, err := placed(s, addr, g)
	require.NoError(t, err)
	return n
}

// waitNodesKnow waits until each node at addrs has want nodes in its own
// route table (itself included).
func waitNodesKnow(t *testing.T, s *client.Session, want int, addrs ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, a := range addrs {
			res, err := s.MonitorStat(context.Background(), a, stats.CategoryStats)
			if err != nil || res[0].Stats.Stats == nil || res[0].Stats.Stats.RouteSize != want {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "nodes %v never all knew %d nodes", addrs, want)
}

// TestRecoveryJoinKillResume: objects of a 2-node group move to a third
// node when it joins, reads never miss meanwhile; a node SIGKILLed in the
// middle of its move resumes the job after a restart; at the end every
// object is readable and lives on its owner only.
func TestRecoveryJoinKillResume(t *testing.T) {
	// 100 objects a second per node: the move takes seconds, long enough to
	// kill a node in the middle of it.
	const table = "objects_rate = 100"
	n0 := recoveryNode(t, 1, "", table)
	n1 := recoveryNode(t, 1, n0.addr, table)
	n2 := recoveryNode(t, 1, n0.addr, table)
	startAll(t, []*clusterNode{n0, n1})
	s := session(t, n0.addr, n1.addr)
	s.SetGroups(1)
	waitTable(t, s, 2)
	ctx := context.Background()
	const n = 900
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("obj-%d", i)) }
	val := func(i int) string { return fmt.Sprintf("value of object %d", i) }
	for i := range n {
		_, err := s.Write(ctx, key(i), []byte(val(i)))
		require.NoError(t, err)
	}

	// The two nodes know each other before the third joins: a node that
	// joins a cluster still forming learns only the members its seed
	// knows, and could not name the previous owner of a key it takes over.
	waitNodesKnow(t, s, 2, n0.addr, n1.addr)

	var stop atomic.Bool
	var misses atomic.Int64
	var missed sync.Map
	var wg sync.WaitGroup
	reader := func(from int) {
		defer wg.Done()
		for i := from; !stop.Load(); i = (i + 13) % n {
			_, tried, err := s.ReadAll(ctx, key(i), 0, 0)
			if errors.Is(err, status.ErrNotFound) {
				misses.Add(1)
				where := ""
				for _, e := range tried {
					where += fmt.Sprintf(" [group %d at %s: %v]", e.Group, e.Address, e.Err)
				}
				missed.Store(i, fmt.Sprintf("%s at %s, table %s:%s", err, time.Now().Format("15:04:05.000"), s.Node().Table(), where))
			}
		}
	}
	wg.Add(2)
	go reader(0)
	go reader(5)

	n2.start(t)
	waitTable(t, s, 3)
	// Kill n0 while its merge runs.
	var job recovery.Status
	require.Eventually(t, func() bool {
		jobs := jobsOf(t, s, n0.addr, recovery.Merge)
		if len(jobs) == 0 || jobs[0].State != recovery.Running || jobs[0].Moved < 20 {
			return false
		}
		job = jobs[0]
		return true
	}, 30*time.Second, 50*time.Millisecond, "n0 never ran a merge that moved objects")
	stop.Store(true)
	wg.Wait()
	if misses.Load() > 0 {
		for _, n := range []*clusterNode{n0, n1, n2} {
			t.Logf("log of %s:\n%s", n.addr, tail(n.d.stderr.String(), 40))
		}
	}
	require.Zero(t, misses.Load(), "reads that missed during the move: %v", syncMapKeys(&missed))
	n0.d.kill()
	n0.start(t)
	waitTable(t, s, 3)

	// The job resumes (same id, past where it was) and finishes.
	require.Eventually(t, func() bool {
		for _, j := range jobsOf(t, s, n0.addr, recovery.Merge) {
			if j.ID == job.ID && j.State == recovery.Done {
				require.GreaterOrEqual(t, j.Scanned, job.Scanned)
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "n0's job %d did not resume and finish", job.ID)
	// Then (maybe after another pass, started when the restarted node
	// learned the others) every object is on its owner only.
	var lastErr error
	require.Eventually(t, func() bool {
		total := 0
		for _, addr := range []string{n0.addr, n1.addr, n2.addr} {
			c, err := placed(s, addr, 1)
			if err != nil {
				lastErr = err
				return false
			}
			total += c
		}
		lastErr = fmt.Errorf("%d objects over the three nodes, want %d", total, n)
		return total == n
	}, 60*time.Second, 200*time.Millisecond, "placement: %v", &lastErr)
	require.NotZero(t, iterateCount(t, s, n2.addr, 1), "the new node got nothing")
	for i := range n {
		e, err := s.Read(ctx, key(i), 0, 0)
		require.NoError(t, err, "object %d", i)
		require.Equal(t, val(i), string(e.Data))
	}

	// The CLI shows the jobs, and a dry run finds nothing left to move.
	out, errOut, code := cli(t, nil, "--remote", n0.addr, "recovery", "status")
	require.Zero(t, code, errOut)
	require.Contains(t, out, "merge (auto)")
	require.Contains(t, out, "done")
	out, errOut, code = cli(t, nil, "--remote", n0.addr, "recovery", "merge", "--dry-run")
	require.Zero(t, code, errOut)
	require.NotContains(t, out, "plan of job", "a dry run after the move still plans moves")
	require.Equal(t, 3, strings.Count(out, "started merge job"))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func syncMapKeys(m *sync.Map) []any {
	var out []any
	m.Range(func(k, v any) bool { out = append(out, k, v); return len(out) < 20 })
	return out
}

// TestRecoveryWipedNode: a node of group 2 loses its data directory and
// starts again: it fills itself from groups 1 and 3, newest versions
// winning.
func TestRecoveryWipedNode(t *testing.T) {
	n1 := recoveryNode(t, 1, "", "")
	n2 := recoveryNode(t, 2, n1.addr, "")
	n3 := recoveryNode(t, 3, n1.addr, "")
	startAll(t, []*clusterNode{n1, n2, n3})
	s := session(t, n1.addr)
	s.SetGroups(1, 2, 3)
	waitTable(t, s, 3)
	ctx := context.Background()
	const n = 300
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("obj-%d", i)) }
	for i := range n {
		_, err := s.Write(ctx, key(i), []byte(fmt.Sprintf("v1-%d", i)))
		require.NoError(t, err)
	}
	g3 := s.Clone()
	g3.SetGroups(3)
	for i := 0; i < n; i += 7 {
		_, err := g3.Write(ctx, key(i), []byte(fmt.Sprintf("v2-%d", i)))
		require.NoError(t, err)
	}
	require.NoError(t, n2.d.stop())
	require.NoError(t, os.RemoveAll(filepath.Join(n2.dir, "data")))
	n2.start(t)
	waitTable(t, s, 3)
	require.Eventually(t, func() bool {
		for _, j := range jobsOf(t, s, n2.addr, recovery.DC) {
			if j.State == recovery.Done {
				return true
			}
			require.NotEqual(t, recovery.Failed, j.State, "dc failed: %s", j.Err)
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "n2 did not fill itself")
	require.Equal(t, n, iterateCount(t, s, n2.addr, 2))
	g2 := s.Clone()
	g2.SetGroups(2)
	for i := range n {
		e, err := g2.Read(ctx, key(i), 0, 0)
		require.NoError(t, err, "object %d", i)
		want := fmt.Sprintf("v1-%d", i)
		if i%7 == 0 {
			want = fmt.Sprintf("v2-%d", i)
		}
		require.Equal(t, want, string(e.Data), "object %d", i)
	}
}

// TestRecoveryNodeRemove: a node of group 1 dies for good; 'elliptics node
// remove' makes the other node of group 1 fill the dead node's ranges
// from groups 2 and 3.
func TestRecoveryNodeRemove(t *testing.T) {
	a := recoveryNode(t, 1, "", "")
	b := recoveryNode(t, 1, a.addr, "")
	g2 := recoveryNode(t, 2, a.addr, "")
	g3 := recoveryNode(t, 3, a.addr, "")
	startAll(t, []*clusterNode{a, b, g2, g3})
	s := session(t, a.addr)
	s.SetGroups(1, 2, 3)
	waitTable(t, s, 4)
	ctx := context.Background()
	const n = 300
	for i := range n {
		_, err := s.Write(ctx, client.NewKey(fmt.Sprintf("obj-%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	before := iterateCount(t, s, a.addr, 1)
	require.Less(t, before, n)

	_, errOut, code := cli(t, nil, "--remote", a.addr, "node", "remove", b.addr)
	require.Equal(t, 1, code, "removing a live node must fail")
	require.Contains(t, errOut, "stop it before removing it")

	b.d.kill()
	waitTable(t, s, 3)
	// The other nodes notice the death within a few pings.
	var out string
	require.Eventually(t, func() bool {
		out, errOut, code = cli(t, nil, "--remote", a.addr, "node", "remove", b.addr)
		return code == 0
	}, 20*time.Second, 200*time.Millisecond, "node remove: %s", &errOut)
	require.Contains(t, out, "declared gone on 3 nodes")
	require.Eventually(t, func() bool {
		c, err := placed(s, a.addr, 1)
		return err == nil && c == n
	}, 60*time.Second, 200*time.Millisecond, "the remaining node of group 1 did not fill itself")
	out, errOut, code = cli(t, nil, "--remote", a.addr, "--json", "recovery", "status", "--address", a.addr)
	require.Zero(t, code, errOut)
	require.Contains(t, out, `"kind": "dc"`)
}

// TestRecoveryDivergentAndCorrupt: three groups hold three states of one
// object — group 1 an old version, groups 2 and 3 the newest, group 2's
// copy with a byte flipped on disk — plus objects only some groups got.
// An operator's dc with --verify on each node (as the periodic scrub does)
// leaves every group the newest intact version: the corrupt copy is never
// sent, and is itself replaced.
func TestRecoveryDivergentAndCorrupt(t *testing.T) {
	n1 := recoveryNode(t, 1, "", "")
	n2 := recoveryNode(t, 2, n1.addr, "")
	n3 := recoveryNode(t, 3, n1.addr, "")
	nodes := []*clusterNode{n1, n2, n3}
	startAll(t, nodes)
	s := session(t, n1.addr)
	s.SetGroups(1, 2, 3)
	waitTable(t, s, 3)
	ctx := context.Background()
	in := func(g ...uint32) *client.Session {
		x := s.Clone()
		x.SetGroups(g...)
		x.SetReadRepair(false)
		return x
	}
	key := client.NewKey("divergent")
	newest := []byte(strings.Repeat("newest-intact|", 300))
	old := in(1)
	old.SetTimestamp(time.Now().Add(-time.Hour))
	_, err := old.Write(ctx, key, []byte("old version"))
	require.NoError(t, err)
	_, err = in(2, 3).Write(ctx, key, newest)
	require.NoError(t, err)
	_, err = in(3).Write(ctx, client.NewKey("only-in-3"), []byte("3"))
	require.NoError(t, err)

	require.NoError(t, n2.d.stop())
	backendtest.CorruptValue(t, filepath.Join(n2.dir, "data"), newest)
	n2.start(t)
	waitTable(t, s, 3)
	// Until the client is connected to the restarted node again, a read
	// of group 2 may find no route.
	require.Eventually(t, func() bool {
		_, err = in(2).Read(ctx, key, 0, 0)
		return !errors.Is(err, status.ErrNoRoute)
	}, 20*time.Second, 50*time.Millisecond)
	require.ErrorIs(t, err, status.ErrCorrupt)

	for _, n := range nodes {
		out, errOut, code := cli(t, nil, "--remote", n1.addr, "recovery", "dc", "--verify", "--address", n.addr, "--wait")
		require.Zero(t, code, "dc on %s: %s%s", n.addr, out, errOut)
		require.Contains(t, out, "done", "dc on %s", n.addr)
	}
	for _, g := range []uint32{1, 2, 3} {
		e, err := in(g).Read(ctx, key, 0, 0)
		require.NoError(t, err, "group %d", g)
		require.Equal(t, newest, e.Data, "group %d", g)
		e, err = in(g).Read(ctx, client.NewKey("only-in-3"), 0, 0)
		require.NoError(t, err, "group %d", g)
		require.Equal(t, "3", string(e.Data))
	}
	var corrupt uint64
	for _, j := range jobsOf(t, s, n2.addr, recovery.DC) {
		corrupt += j.Corrupt
	}
	require.NotZero(t, corrupt, "the verify pass on group 2 reported nothing")
}
