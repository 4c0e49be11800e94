package server_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/status"
)

var fastRecovery = server.RecoveryOptions{MergeDelay: 100 * time.Millisecond}

// startCluster starts a cluster, waits for its tables to converge and
// returns it with a client and a session on it; all stop with the test.
func startCluster(t testing.TB, o clustertest.Options) (*clustertest.Cluster, *client.Node, *client.Session) {
	t.Helper()
	ctx := context.Background()
	c, err := clustertest.Start(o)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.WaitConverged(ctx))
	cl, err := c.Client(ctx, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return c, cl, client.NewSession(cl)
}

// waitJobs waits until every node has finished its recovery jobs and has
// had at least min of them.
func waitJobs(t *testing.T, c *clustertest.Cluster, kind recovery.Kind, min int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for ok := false; !ok; time.Sleep(20 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "recovery jobs: %s", jobsString(c))
		ok = func() bool {
			n := 0
			for _, s := range c.Nodes {
				for _, st := range s.Recovery().Jobs() {
					if st.Spec.Kind != kind {
						continue
					}
					if !st.State.Finished() {
						return false
					}
					n++
				}
			}
			return n >= min
		}()
	}
}

func jobsString(c *clustertest.Cluster) string {
	out := ""
	for i, s := range c.Nodes {
		for _, st := range s.Recovery().Jobs() {
			out += fmt.Sprintf("\n%s: %d %s b%d %s scanned %d moved %d kept %d errors %d %s %s", c.Addrs[i], st.ID, st.Spec.Kind,
				st.Spec.Backend, st.State, st.Scanned, st.Moved, st.Kept, st.Errors, st.LastError, st.Err)
			out += fmt.Sprintf(" equal %d ranges %d", st.Equal, len(st.Spec.Ranges))
		}
	}
	return out
}

// placement counts the records of every node, and fails if one does not
// live on its owner.
func placement(c *clustertest.Cluster) (int, error) {
	n := 0
	for i, s := range c.Nodes {
		tab := s.Table()
		for _, b := range s.Backends() {
			err := b.Store().Iterate(context.Background(), backend.IterateOptions{}, func(rec backend.Record) error {
				owner, _ := tab.Owner(rec.ID, b.Group)
				if owner.Addr != c.Addrs[i] || owner.ID != b.ID {
					return fmt.Errorf("%s on %s/%d is owned by %s", rec.ID.Short(), c.Addrs[i], b.ID, owner.Name())
				}
				n++
				return nil
			})
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// placed waits until want records live on their owners only.
func placed(t *testing.T, c *clustertest.Cluster, want int) {
	t.Helper()
	var n int
	var err error
	require.Eventually(t, func() bool {
		n, err = placement(c)
		return err == nil && n == want
	}, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, want, n)
}

// A node joining a group takes over its arcs: every object moves to its
// owner, none is lost, and reads made during the move never miss.
func TestJoinMovesData(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 1, Recovery: fastRecovery})
	sess.SetGroups(1)
	const n = 300
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("key-%d", i)) }
	for i := range n {
		_, err := sess.Write(ctx, key(i), []byte(fmt.Sprintf("value-%d", i)))
		require.NoError(t, err)
	}
	// Objects bigger than recovery.BigObject move in chunks.
	bigs := writeBigs(t, sess, 4)
	placed(t, c, n+len(bigs))

	// Readers run through the move and must never get "not found".
	var stop atomic.Bool
	var misses, reads atomic.Int64
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !stop.Load(); i = (i + 7) % n {
				e, err := sess.Read(ctx, key(i), 0, 0)
				reads.Add(1)
				if errors.Is(err, status.ErrNotFound) {
					misses.Add(1)
				} else if err == nil && string(e.Data) != fmt.Sprintf("value-%d", i) {
					misses.Add(1)
				}
			}
		}()
	}
	_, err := c.Add()
	require.NoError(t, err)
	require.NoError(t, c.WaitConverged(ctx))
	waitJobs(t, c, recovery.Merge, 3)
	// Jobs started by earlier route changes may still be followed by more.
	placed(t, c, n+len(bigs))
	stop.Store(true)
	wg.Wait()
	require.Zero(t, misses.Load(), "reads that missed during the move (of %d)", reads.Load())
	require.NotZero(t, c.Nodes[2].Backends()[0].Store().Stats().Records, "the new node got nothing")
	for i := range n {
		e, err := sess.Read(ctx, key(i), 0, 0)
		require.NoError(t, err, "key %d", i)
		require.Equal(t, fmt.Sprintf("value-%d", i), string(e.Data))
	}
	checkBigs(t, sess, bigs)
}

// writeBigs uploads n objects bigger than recovery.BigObject and returns
// their SHA-512s by key name.
func writeBigs(t *testing.T, sess *client.Session, n int) map[string][64]byte {
	t.Helper()
	out := map[string][64]byte{}
	for i := range n {
		data := make([]byte, recovery.BigObject+1<<20+i)
		for j := range data {
			data[j] = byte(j*7 + i)
		}
		name := fmt.Sprintf("big-%d", i)
		_, err := sess.WriteFrom(context.Background(), client.NewKey(name), bytes.NewReader(data), uint64(len(data)), client.StreamOptions{})
		require.NoError(t, err)
		out[name] = sha512.Sum512(data)
	}
	return out
}

func checkBigs(t *testing.T, sess *client.Session, bigs map[string][64]byte) {
	t.Helper()
	for name, sum := range bigs {
		h := sha512.New()
		_, err := sess.ReadTo(context.Background(), client.NewKey(name), h, client.StreamOptions{})
		require.NoError(t, err, name)
		require.Equal(t, sum[:], h.Sum(nil), name)
	}
}

// A node whose disk was wiped fills itself from the other groups, taking
// the newest version of each object.
func TestWipedNodeFills(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 3, Recovery: fastRecovery})
	sess.SetGroups(1, 2, 3)
	const n = 200
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("key-%d", i)) }
	for i := range n {
		_, err := sess.Write(ctx, key(i), []byte(fmt.Sprintf("old-%d", i)))
		require.NoError(t, err)
	}
	bigs := writeBigs(t, sess, 2)
	// Group 3 holds newer versions of some objects.
	g3 := sess.Clone()
	g3.SetGroups(3)
	for i := 0; i < n; i += 10 {
		_, err := g3.Write(ctx, key(i), []byte(fmt.Sprintf("new-%d", i)))
		require.NoError(t, err)
	}
	// Node 0 serves group 1: wipe it.
	s, err := c.Replace(ctx, 0)
	require.NoError(t, err)
	require.NoError(t, c.WaitConverged(ctx))
	// The client reconnects to the new node 0 by itself.
	require.Eventually(t, func() bool { return sess.Node().Table().Len() == 3 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, st := range s.Recovery().Jobs() {
			if st.Spec.Kind == recovery.DC && st.State == recovery.Done {
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, uint64(n+len(bigs)), s.Backends()[0].Store().Stats().Records)
	g1 := sess.Clone()
	g1.SetGroups(1)
	checkBigs(t, g1, bigs)
	for i := range n {
		e, err := g1.Read(ctx, key(i), 0, 0)
		require.NoError(t, err, "key %d", i)
		want := fmt.Sprintf("old-%d", i)
		if i%10 == 0 {
			want = fmt.Sprintf("new-%d", i)
		}
		require.Equal(t, want, string(e.Data), "key %d", i)
	}
}

// A read that finds the object only in a later group rewrites the earlier
// groups; ReadLatest also rewrites the groups with an older version.
func TestReadRepair(t *testing.T) {
	ctx := context.Background()
	// No automatic recovery: the dc of the empty backends at start would
	// fill the groups too.
	_, cl, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 3, Recovery: server.RecoveryOptions{Manual: true}})
	only := func(g ...uint32) *client.Session {
		x := sess.Clone()
		x.SetGroups(g...)
		return x
	}
	has := func(g uint32, k client.Key, want string) func() bool {
		return func() bool {
			e, err := only(g).Read(ctx, k, 0, 0)
			return err == nil && string(e.Data) == want
		}
	}

	// Group 2 only; a read with groups [1 2] repairs group 1.
	k := client.NewKey("repair-me")
	_, err := only(2).Write(ctx, k, []byte("payload"))
	require.NoError(t, err)
	e, err := only(1, 2).Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(2), e.Group)
	require.Eventually(t, has(1, k, "payload"), 5*time.Second, 10*time.Millisecond)
	e1, err := only(1).Lookup(ctx, k)
	require.NoError(t, err)
	require.True(t, e1.Timestamp.Equal(e.Timestamp), "the repair keeps the timestamp")
	require.Eventually(t, func() bool { done, _, _ := cl.ReadRepairs(); return done == 1 }, 5*time.Second, 10*time.Millisecond)

	// A ranged read, or a session with repair off, repairs nothing.
	k2 := client.NewKey("partial")
	_, err = only(3).Write(ctx, k2, []byte("0123456789"))
	require.NoError(t, err)
	_, err = only(1, 3).Read(ctx, k2, 2, 3)
	require.NoError(t, err)
	off := only(1, 3)
	off.SetReadRepair(false)
	_, err = off.Read(ctx, k2, 0, 0)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	_, err = only(1).Read(ctx, k2, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)

	// ReadLatest brings the older replicas up to the newest.
	k3 := client.NewKey("latest")
	_, err = only(1, 2, 3).Write(ctx, k3, []byte("v1"))
	require.NoError(t, err)
	_, err = only(3).Write(ctx, k3, []byte("v2"))
	require.NoError(t, err)
	e, _, err = only(1, 2, 3).ReadLatest(ctx, k3, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v2", string(e.Data))
	require.Eventually(t, has(1, k3, "v2"), 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, has(2, k3, "v2"), 5*time.Second, 10*time.Millisecond)
}

// An operator pauses, resumes and stops jobs; disabling a backend lets go
// of its running job, which goes on once the backend serves again.
func TestRecoveryControl(t *testing.T) {
	ctx := context.Background()
	// Slow jobs (50 records a second), started by hand.
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 1, Recovery: server.RecoveryOptions{
		Manual: true, MergeDelay: 50 * time.Millisecond, Limits: recovery.Limits{ObjectsPerSec: 50}}})
	sess.SetGroups(1)
	for i := range 200 {
		_, err := sess.Write(ctx, client.NewKey(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	_, err := c.Add()
	require.NoError(t, err)
	require.NoError(t, c.WaitConverged(ctx))
	s := c.Nodes[0]
	addr := c.Addrs[0]

	// A dry run plans and moves nothing.
	jobs, err := sess.StartRecovery(ctx, addr, recovery.Merge, client.RecoveryOptions{Backend: -1, DryRun: true})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	before := s.Backends()[0].Store().Stats().Records
	var plan recovery.Status
	require.Eventually(t, func() bool {
		st, err := sess.RecoveryStatus(ctx, addr)
		require.NoError(t, err)
		plan = st[0]
		return plan.State == recovery.Done
	}, 20*time.Second, 20*time.Millisecond)
	require.Len(t, plan.Plan, 1)
	require.Equal(t, c.Addrs[2]+"/0", plan.Plan[0].To)
	require.NotZero(t, plan.Plan[0].Objects)
	require.Equal(t, before, s.Backends()[0].Store().Stats().Records, "a dry run moved records")

	// A second job of the same kind on the same backend is refused.
	jobs, err = sess.StartRecovery(ctx, addr, recovery.Merge, client.RecoveryOptions{Backend: 0})
	require.NoError(t, err)
	job := jobs[0].ID
	_, err = sess.StartRecovery(ctx, addr, recovery.Merge, client.RecoveryOptions{Backend: 0})
	require.ErrorIs(t, err, status.ErrAlready)

	// Pause: progress stops.
	st, err := sess.ControlRecovery(ctx, addr, job, recovery.Pause)
	require.NoError(t, err)
	require.Equal(t, recovery.Paused, st.State)
	time.Sleep(100 * time.Millisecond)
	a, _ := sess.ControlRecovery(ctx, addr, job, recovery.Pause)
	time.Sleep(200 * time.Millisecond)
	b, _ := sess.ControlRecovery(ctx, addr, job, recovery.Pause)
	require.Equal(t, a.Scanned, b.Scanned, "a paused job went on")

	// Disable while it runs: the job lets go of the backend and stays
	// running; after the enable it finishes.
	_, err = sess.ControlRecovery(ctx, addr, job, recovery.Resume)
	require.NoError(t, err)
	_, err = s.ControlBackend(ctx, 0, proto.ControlDisable)
	require.NoError(t, err)
	st, err = sess.ControlRecovery(ctx, addr, job, recovery.Pause)
	require.NoError(t, err)
	require.Equal(t, recovery.Paused, st.State, "the job ended with its backend: %s", st.Err)
	_, err = s.ControlBackend(ctx, 0, proto.ControlEnable)
	require.NoError(t, err)
	_, err = sess.ControlRecovery(ctx, addr, job, recovery.Resume)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := sess.RecoveryStatus(ctx, addr)
		require.NoError(t, err)
		for _, j := range st {
			if j.ID == job {
				require.NotEqual(t, recovery.Failed, j.State, j.Err)
				return j.State == recovery.Done
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)

	// Stop ends a job for good; controlling a finished or unknown job is
	// an error.
	jobs, err = sess.StartRecovery(ctx, c.Addrs[1], recovery.Merge, client.RecoveryOptions{Backend: -1})
	require.NoError(t, err)
	st, err = sess.ControlRecovery(ctx, c.Addrs[1], jobs[0].ID, recovery.Stop)
	require.NoError(t, err)
	require.Equal(t, recovery.Stopped, st.State)
	_, err = sess.ControlRecovery(ctx, c.Addrs[1], jobs[0].ID, recovery.Resume)
	require.ErrorIs(t, err, status.ErrInvalid)
	_, err = sess.ControlRecovery(ctx, c.Addrs[1], 12345, recovery.Pause)
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = sess.StartRecovery(ctx, c.Addrs[1], recovery.Merge, client.RecoveryOptions{Backend: 7})
	require.ErrorIs(t, err, status.ErrNotFound)
}

// A node gone for good (declared, or missing longer than LeaveAfter):
// the backend that took over its ranges fills them from the other groups.
func TestLeaveFillsFromOtherGroups(t *testing.T) {
	for _, tc := range []struct {
		name       string
		leaveAfter time.Duration
		forget     bool
	}{
		{"node remove", time.Hour, true},
		{"leave_after", 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			// Nodes 0 and 3 serve group 1, nodes 1 and 2 groups 2 and 3.
			c, _, sess := startCluster(t, clustertest.Options{Nodes: 4, Groups: 3, Recovery: server.RecoveryOptions{
				MergeDelay: 100 * time.Millisecond, LeaveAfter: tc.leaveAfter}})
			sess.SetGroups(1, 2, 3)
			const n = 200
			for i := range n {
				_, err := sess.Write(ctx, client.NewKey(fmt.Sprintf("k%d", i)), []byte("v"))
				require.NoError(t, err)
			}
			records := func() uint64 { return c.Nodes[0].Backends()[0].Store().Stats().Records }
			require.Less(t, records(), uint64(n), "node 0 already holds every object")

			if tc.forget {
				err := sess.ForgetNode(ctx, c.Addrs[0], c.Addrs[3])
				require.ErrorIs(t, err, status.ErrInvalid, "removing a live node")
			}
			// Under load a node may drop a peer it then takes a while to
			// rejoin: node 0 must know node 3 (and have handed it its
			// ranges) for this test to mean anything.
			require.Eventually(t, func() bool { return c.Nodes[0].Table().Len() == 4 }, 10*time.Second, 10*time.Millisecond)
			// Node 0's recovery loop looks at its table at least once a
			// second: give it one look with node 3 there (a change
			// notice alone has been seen to go missing under load).
			time.Sleep(1500 * time.Millisecond)
			require.NoError(t, c.Nodes[3].Shutdown(ctx))
			require.Eventually(t, func() bool { return c.Nodes[0].Table().Len() == 3 }, 10*time.Second, 10*time.Millisecond)
			if tc.forget {
				time.Sleep(300 * time.Millisecond) // well past MergeDelay: nothing may happen yet
				require.Less(t, records(), uint64(n), "filled before the node was declared gone")
				require.NoError(t, sess.ForgetNode(ctx, c.Addrs[0], c.Addrs[3]))
			}
			if !assert.Eventually(t, func() bool { return records() == n }, 20*time.Second, 20*time.Millisecond) {
				t.Logf("node 0 holds %d of %d objects; jobs: %s", records(), n, jobsString(c))
			}
		})
	}
}

// A remove leaves a tombstone: older copies (read repair, dc from a
// replica that missed the remove) do not bring the object back, and dc
// carries the remove to the replica that missed it. Clients never see
// tombstones.
func TestTombstones(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 3, Recovery: server.RecoveryOptions{Manual: true}})
	only := func(g ...uint32) *client.Session {
		x := sess.Clone()
		x.SetGroups(g...)
		return x
	}
	k := client.NewKey("doomed")
	_, err := only(1, 2, 3).Write(ctx, k, []byte("old"))
	require.NoError(t, err)
	_, err = only(1, 2).Remove(ctx, k) // group 3 misses the remove
	require.NoError(t, err)
	_, err = only(1, 2).Remove(ctx, k)
	require.ErrorIs(t, err, status.ErrNotFound, "a second remove finds nothing")

	// Read repair from group 3 is refused by the tombstones.
	e, err := only(1, 2, 3).Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(3), e.Group)
	time.Sleep(200 * time.Millisecond)
	for _, g := range []uint32{1, 2} {
		_, err := only(g).Read(ctx, k, 0, 0)
		require.ErrorIs(t, err, status.ErrNotFound, "group %d got the removed object back", g)
	}

	// Tombstones are invisible: iterators, range counts, reserved columns.
	node1 := c.Nodes[0] // group 1
	n, err := only(1).CountRange(ctx, client.Range{Start: id.Zero, End: id.Max})
	require.NoError(t, err)
	require.Zero(t, n)
	it, err := only(1).StartIterator(ctx, client.IteratorOptions{Address: c.Addrs[0], Backend: 0})
	require.NoError(t, err)
	for e := range it.Entries() {
		t.Fatalf("the iterator showed %s/%q", e.ID.Short(), e.Column)
	}
	require.NoError(t, it.Err())
	_, err = only(1).Write(ctx, k.WithColumn(backend.TombstoneColumn("", true)), []byte("x"))
	require.ErrorIs(t, err, status.ErrInvalid)
	require.NotZero(t, node1.Backends()[0].Store().Stats().Records, "the tombstone is a record of the backend")

	// dc on group 1 from groups 2 and 3 keeps it removed; dc on group 3
	// carries the remove there.
	for _, addr := range []string{c.Addrs[0], c.Addrs[2]} {
		jobs, err := sess.StartRecovery(ctx, addr, recovery.DC, client.RecoveryOptions{Backend: -1})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			st, _ := sess.RecoveryStatus(ctx, addr)
			for _, j := range st {
				if j.ID == jobs[0].ID {
					require.NotEqual(t, recovery.Failed, j.State, j.Err)
					return j.State == recovery.Done
				}
			}
			return false
		}, 10*time.Second, 10*time.Millisecond)
	}
	for _, g := range []uint32{1, 2, 3} {
		_, err := only(g).Read(ctx, k, 0, 0)
		require.ErrorIs(t, err, status.ErrNotFound, "group %d holds the removed object", g)
	}

	// A write after the remove is newer: it stands.
	_, err = only(1, 2, 3).Write(ctx, k, []byte("new"))
	require.NoError(t, err)
	e, err = only(3).Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "new", string(e.Data))
}

// Anti-entropy copies what a group lacks even when no route change shows
// it (a write that reached one group only), and carries removes.
func TestAntiEntropy(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{
		MergeDelay: 50 * time.Millisecond, AntiEntropy: 300 * time.Millisecond}})
	only := func(g ...uint32) *client.Session {
		x := sess.Clone()
		x.SetGroups(g...)
		return x
	}
	_, err := only(2).Write(ctx, client.NewKey("lonely"), []byte("v"))
	require.NoError(t, err)
	_, err = only(1, 2).Write(ctx, client.NewKey("doomed"), []byte("v"))
	require.NoError(t, err)
	_, err = only(2).Remove(ctx, client.NewKey("doomed"))
	require.NoError(t, err)
	g1 := only(1)
	g1.SetReadRepair(false)
	require.Eventually(t, func() bool {
		_, err1 := g1.Read(ctx, client.NewKey("lonely"), 0, 0)
		_, err2 := g1.Read(ctx, client.NewKey("doomed"), 0, 0)
		return err1 == nil && errors.Is(err2, status.ErrNotFound)
	}, 10*time.Second, 20*time.Millisecond)
}

// With Concurrency 1 a node runs one job at a time: the second waits for
// the first.
func TestRecoveryConcurrency(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{
		Manual: true, Concurrency: 1, Limits: recovery.Limits{ObjectsPerSec: 100}}})
	only2 := sess.Clone()
	only2.SetGroups(2)
	only1 := sess.Clone()
	only1.SetGroups(1)
	for i := range 150 {
		_, err := only2.Write(ctx, client.NewKey(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
		_, err = only1.Write(ctx, client.NewKey(fmt.Sprintf("g1-%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	// Node 0 serves group 1: its dc copies 150 records at 100 a second;
	// its merge would scan its records at once (nothing to move).
	addr := c.Addrs[0]
	first, err := sess.StartRecovery(ctx, addr, recovery.DC, client.RecoveryOptions{Backend: 0})
	require.NoError(t, err)
	second, err := sess.StartRecovery(ctx, addr, recovery.Merge, client.RecoveryOptions{Backend: 0})
	require.NoError(t, err)
	status := func(id uint64) recovery.Status {
		jobs, err := sess.RecoveryStatus(ctx, addr)
		require.NoError(t, err)
		for _, j := range jobs {
			if j.ID == id {
				return j
			}
		}
		t.Fatalf("no job %d", id)
		return recovery.Status{}
	}
	// The dc scans quickly, then copies at 100 records a second: about
	// 1.5 s during which the merge must not start.
	require.Eventually(t, func() bool { return status(first[0].ID).Scanned > 0 }, 10*time.Second, 5*time.Millisecond)
	for range 5 {
		if st := status(first[0].ID); st.State != recovery.Running {
			break
		}
		require.Zero(t, status(second[0].ID).Scanned, "the second job ran beside the first")
		time.Sleep(100 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		return status(first[0].ID).State == recovery.Done && status(second[0].ID).State == recovery.Done
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, uint64(150), status(first[0].ID).Moved)
}

// Before any merge, a read of a key the new node now owns is served from
// the key's previous owner (the handoff window), and a remove there
// reaches the previous owner too; without the window the read misses.
func TestHandoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
	}{{"window", time.Hour}, {"no window", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 1, Recovery: server.RecoveryOptions{
				Manual: true, HandoffWindow: tc.window}})
			sess.SetGroups(1)
			const n = 100
			key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("k%d", i)) }
			for i := range n {
				_, err := sess.Write(ctx, key(i), []byte("v"))
				require.NoError(t, err)
			}
			_, err := c.Add()
			require.NoError(t, err)
			require.NoError(t, c.WaitConverged(ctx))
			require.Eventually(t, func() bool { return sess.Node().Table().Len() == 3 }, 10*time.Second, 10*time.Millisecond)
			var moved []int // keys the new node owns, still on their old holders
			for i := range n {
				oid, err := sess.ID(key(i))
				require.NoError(t, err)
				if o, _ := sess.Node().Table().Owner(oid, 1); o.Addr == c.Addrs[2] {
					moved = append(moved, i)
				}
			}
			require.NotEmpty(t, moved)
			misses := 0
			for _, i := range moved {
				if _, err := sess.Read(ctx, key(i), 0, 0); errors.Is(err, status.ErrNotFound) {
					misses++
				}
			}
			if tc.window < 0 {
				require.Equal(t, len(moved), misses, "reads found keys the new node does not hold")
				return
			}
			require.Zero(t, misses, "reads of keys still on their previous owner")
			// A remove reaches the previous owner: the key is gone, even
			// through the window.
			_, err = sess.Remove(ctx, key(moved[0]))
			require.NoError(t, err)
			_, err = sess.Read(ctx, key(moved[0]), 0, 0)
			require.ErrorIs(t, err, status.ErrNotFound)
		})
	}
}

// A joining node that clients route to before it has the member list (its
// discovery is slow here) waits for the list on a miss instead of
// answering "not found" from a table that names only itself and its seed.
func TestJoinRace(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	sess.SetGroups(1)
	const n = 200
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("key-%d", i)) }
	for i := range n {
		_, err := sess.Write(ctx, key(i), []byte("v"))
		require.NoError(t, err)
	}
	for _, s := range c.Nodes {
		server.SlowRouteLists(s, 500*time.Millisecond)
	}
	var stop atomic.Bool
	var misses, reads atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { stop.Store(true); wg.Wait() }) // before the cluster closes
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !stop.Load(); i = (i + 3) % n {
				_, err := sess.Read(ctx, key(i), 0, 0)
				reads.Add(1)
				if err != nil && !stop.Load() {
					misses.Add(1)
					t.Logf("read %d: %v", i, err)
				}
			}
		}()
	}
	newcomer, err := c.Add()
	require.NoError(t, err)
	// Until the slow list arrives, clients (told by the seed's push) send
	// the newcomer the keys it now owns; none of them is there yet.
	owned := func() int {
		k := 0
		for i := range n {
			oid, err := sess.ID(key(i))
			require.NoError(t, err)
			if o, ok := sess.Node().Table().Owner(oid, 1); ok && o.Addr == c.Addrs[2] {
				k++
			}
		}
		return k
	}
	t0 := time.Now()
	if !assert.Eventually(t, func() bool { return owned() > 0 }, 5*time.Second, 5*time.Millisecond) {
		t.Fatalf("client table %v; newcomer's %v; node0's %v", sess.Node().Table(), newcomer.Table(), c.Nodes[0].Table())
	}
	t.Logf("client routes to the newcomer after %v; newcomer's table: %d backends", time.Since(t0), newcomer.Table().Len())
	require.Eventually(t, func() bool { return newcomer.Table().Len() == 3 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	require.NotZero(t, reads.Load())
	require.Zero(t, misses.Load(), "reads that failed while the newcomer joined (of %d)", reads.Load())
}

// A dc compares range hashes first: of many objects both groups hold, it
// looks at the records of the few buckets that differ only. (Run by hand:
// an automatic pass could overlap the writes, when most buckets differ.)
func TestAntiEntropyByRangeHashes(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{Manual: true}})
	const n = 2000
	for i := range n {
		_, err := sess.Write(ctx, client.NewKey(fmt.Sprintf("both-%d", i)), []byte("v"))
		require.NoError(t, err)
	}
	only2 := sess.Clone()
	only2.SetGroups(2)
	_, err := only2.Write(ctx, client.NewKey("lonely"), []byte("v"))
	require.NoError(t, err)

	// Node 0 serves group 1.
	jobs, err := sess.StartRecovery(ctx, c.Addrs[0], recovery.DC, client.RecoveryOptions{Backend: 0})
	require.NoError(t, err)
	var st recovery.Status
	require.Eventually(t, func() bool {
		all, err := sess.RecoveryStatus(ctx, c.Addrs[0])
		require.NoError(t, err)
		for _, j := range all {
			if j.ID == jobs[0].ID {
				st = j
			}
		}
		return st.State.Finished()
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, recovery.Done, st.State, "%+v", st)
	require.Equal(t, uint64(1), st.Moved, "the object group 1 lacked")
	require.NotZero(t, st.Equal, "buckets found equal by their hashes: %+v", st)
	require.Less(t, st.Scanned, uint64(n/4), "records looked at, of %d in the group", n)
	g1 := sess.Clone()
	g1.SetGroups(1)
	g1.SetReadRepair(false)
	_, err = g1.Read(ctx, client.NewKey("lonely"), 0, 0)
	require.NoError(t, err)
}

// Divergent replicas, one of them corrupt on disk: group 1 holds an old
// version, groups 2 and 3 the newest, and group 2's copy has a flipped
// byte. Anti-entropy with a scrub leaves every group the newest intact
// version: the corrupt copy is never sent, and is itself replaced.
func TestAntiEntropyRepairsCorruption(t *testing.T) {
	ctx := context.Background()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 3,
		Recovery: server.RecoveryOptions{MergeDelay: 50 * time.Millisecond, AntiEntropy: 300 * time.Millisecond, Scrub: 300 * time.Millisecond},
		Backend: func(i int) (backend.Backend, error) {
			return blob.Open(dirs[i], blob.Options{Sync: blob.SyncNone})
		}})
	in := func(g ...uint32) *client.Session {
		x := sess.Clone()
		x.SetGroups(g...)
		x.SetReadRepair(false)
		return x
	}
	newest := bytes.Repeat([]byte("newest-intact-"), 300)
	key := client.NewKey("divergent")
	old := in(1)
	old.SetTimestamp(time.Now().Add(-time.Hour))
	_, err := old.Write(ctx, key, []byte("old version"))
	require.NoError(t, err)
	_, err = in(2, 3).Write(ctx, key, newest)
	require.NoError(t, err)
	for i := range 50 { // bystanders, equal everywhere
		_, err := sess.Write(ctx, client.NewKey(fmt.Sprint("same-", i)), []byte("same"))
		require.NoError(t, err)
	}

	// Node 1 serves group 2: flip a byte of its copy on disk.
	backendtest.CorruptValue(t, dirs[1], newest)
	_, err = in(2).Read(ctx, key, 0, 0)
	require.ErrorIs(t, err, status.ErrCorrupt)

	for _, g := range []uint32{1, 2, 3} {
		require.Eventually(t, func() bool {
			e, err := in(g).Read(ctx, key, 0, 0)
			return err == nil && bytes.Equal(e.Data, newest)
		}, 20*time.Second, 20*time.Millisecond, "group %d never got the newest intact version: %s", g, jobsString(c))
	}
	var corrupt uint64
	for _, st := range c.Nodes[1].Recovery().Jobs() {
		corrupt += st.Corrupt
	}
	require.NotZero(t, corrupt, "the scrub on group 2 found nothing: %s", jobsString(c))
}
