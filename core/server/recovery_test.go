package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/status"
)

var fastRecovery = server.RecoveryOptions{MergeDelay: 100 * time.Millisecond}

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
		}
	}
	return out
}

// placement checks that every record of every node lives on its owner and
// returns how many records there are.
func placement(t *testing.T, c *clustertest.Cluster) int {
	t.Helper()
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
			require.NoError(t, err)
		}
	}
	return n
}

// A node joining a group takes over its arcs: every object moves to its
// owner, none is lost, and reads made during the move never miss.
func TestJoinMovesData(t *testing.T) {
	ctx := context.Background()
	c, err := clustertest.Start(clustertest.Options{Nodes: 2, Groups: 1, Recovery: fastRecovery})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.WaitConverged(ctx))
	cl, err := c.Client(ctx, client.Config{})
	require.NoError(t, err)
	defer cl.Close()
	sess := client.NewSession(cl)
	sess.SetGroups(1)
	const n = 300
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("key-%d", i)) }
	for i := range n {
		_, err := sess.Write(ctx, key(i), []byte(fmt.Sprintf("value-%d", i)))
		require.NoError(t, err)
	}
	require.Equal(t, n, placement(t, c))

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
	_, err = c.Add()
	require.NoError(t, err)
	require.NoError(t, c.WaitConverged(ctx))
	waitJobs(t, c, recovery.Merge, 3)
	// Jobs started by earlier route changes may still be followed by more.
	require.Eventually(t, func() bool { return placement(t, c) == n }, 20*time.Second, 50*time.Millisecond)
	stop.Store(true)
	wg.Wait()
	require.Zero(t, misses.Load(), "reads that missed during the move (of %d)", reads.Load())
	require.NotZero(t, c.Nodes[2].Backends()[0].Store().Stats().Records, "the new node got nothing")
	for i := range n {
		e, err := sess.Read(ctx, key(i), 0, 0)
		require.NoError(t, err, "key %d", i)
		require.Equal(t, fmt.Sprintf("value-%d", i), string(e.Data))
	}
}

// A node whose disk was wiped fills itself from the other groups, taking
// the newest version of each object.
func TestWipedNodeFills(t *testing.T) {
	ctx := context.Background()
	c, err := clustertest.Start(clustertest.Options{Nodes: 3, Groups: 3, Recovery: fastRecovery})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.WaitConverged(ctx))
	cl, err := c.Client(ctx, client.Config{})
	require.NoError(t, err)
	defer cl.Close()
	sess := client.NewSession(cl)
	sess.SetGroups(1, 2, 3)
	const n = 200
	key := func(i int) client.Key { return client.NewKey(fmt.Sprintf("key-%d", i)) }
	for i := range n {
		_, err := sess.Write(ctx, key(i), []byte(fmt.Sprintf("old-%d", i)))
		require.NoError(t, err)
	}
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
	require.Eventually(t, func() bool {
		for _, st := range s.Recovery().Jobs() {
			if st.Spec.Kind == recovery.DC && st.State == recovery.Done {
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, uint64(n), s.Backends()[0].Store().Stats().Records)
	g1 := sess.Clone()
	g1.SetGroups(1)
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
	c, err := clustertest.Start(clustertest.Options{Nodes: 3, Groups: 3, Recovery: server.RecoveryOptions{Manual: true}})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.WaitConverged(ctx))
	cl, err := c.Client(ctx, client.Config{})
	require.NoError(t, err)
	defer cl.Close()
	sess := client.NewSession(cl)
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
	_, err = only(2).Write(ctx, k, []byte("payload"))
	require.NoError(t, err)
	e, err := only(1, 2).Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(2), e.Group)
	require.Eventually(t, has(1, k, "payload"), 5*time.Second, 10*time.Millisecond)
	e1, err := only(1).Lookup(ctx, k)
	require.NoError(t, err)
	require.True(t, e1.Timestamp.Equal(e.Timestamp), "the repair keeps the timestamp")
	done, _, _ := cl.ReadRepairs()
	require.Equal(t, uint64(1), done)

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
