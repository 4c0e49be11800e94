package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/status"
)

// nextEvent returns the next event of kind want, skipping others (and
// failing on an event of a kind in fatal).
func nextEvent(t *testing.T, w *client.Watcher, want client.WatchKind, within time.Duration) client.WatchEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		ev, err := w.Next(ctx)
		require.NoError(t, err, "waiting for a %s event", want)
		if ev.Kind == want {
			return ev
		}
		t.Logf("skipped %s event (group %d, %s, err %v)", ev.Kind, ev.Group, ev.Address, ev.Err)
	}
}

// nodeOf returns the cluster's node listening on addr.
func nodeOf(t *testing.T, c *clustertest.Cluster, addr string) (int, *server.Server) {
	t.Helper()
	for i, a := range c.Addrs {
		if a == addr {
			return i, c.Nodes[i]
		}
	}
	t.Fatalf("no node at %s", addr)
	return -1, nil
}

// TestWatchWritesThroughOtherNode: a watcher hears of writes, appends and
// removals that a client sent through a node that does not own the key.
func TestWatchWritesThroughOtherNode(t *testing.T) {
	ctx := context.Background()
	c, cl, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	k := client.NewKey("watched")
	oid, err := sess.ID(k)
	require.NoError(t, err)
	owner, ok := cl.Table().Owner(oid, 1)
	require.True(t, ok)
	_, ownerNode := nodeOf(t, c, owner.Addr)
	var via string
	for _, a := range c.Addrs {
		if a != owner.Addr {
			via = a
			break
		}
	}
	_, viaNode := nodeOf(t, c, via)

	w, err := sess.Watch(ctx, k, client.WatchOptions{})
	require.NoError(t, err)
	defer w.Close()
	ev := nextEvent(t, w, client.WatchStarted, 5*time.Second)
	require.Equal(t, owner.Addr, ev.Address)
	require.Equal(t, 1, ownerNode.WatchStats().Watches)

	// A client that reaches the cluster only through another node.
	writer := client.NewNode(client.Config{Dial: c.Net.Dial, Proxy: true})
	defer writer.Close()
	require.NoError(t, writer.AddRemotes(ctx, via))
	ws := client.NewSession(writer)
	ws.SetGroups(1)
	ws.SetUserFlags(42)
	_, err = ws.Write(ctx, k, []byte("abc"))
	require.NoError(t, err)
	require.NotZero(t, viaNode.Relays()+viaNode.Forwards(), "the write did not go through %s", via)

	ev = nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, oid, ev.ID)
	require.Equal(t, uint32(1), ev.Group)
	require.Equal(t, uint64(3), ev.Size)
	require.Equal(t, uint64(42), ev.UserFlags)
	require.Equal(t, owner.Addr, ev.Address)
	require.False(t, ev.Timestamp.IsZero())
	// The proxy client watches too: its watch is relayed to the owner.
	pw, err := ws.Watch(ctx, k, client.WatchOptions{})
	require.NoError(t, err)
	defer pw.Close()
	ev = nextEvent(t, pw, client.WatchStarted, 5*time.Second)
	require.Equal(t, owner.Addr, ev.Address)

	_, err = ws.WriteWith(ctx, k, []byte("de"), client.WriteOptions{Append: true})
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, uint64(5), ev.Size)
	require.NotZero(t, ev.RecordFlags&proto.RecordAppend)

	_, err = ws.Write(ctx, k.WithColumn("meta"), []byte("x"))
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, "meta", ev.Column)

	_, err = ws.Remove(ctx, k)
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchRemove, 5*time.Second)
	require.Equal(t, oid, ev.ID)
	nextEvent(t, pw, client.WatchWrite, 5*time.Second) // the append
	nextEvent(t, pw, client.WatchWrite, 5*time.Second) // column meta
	ev = nextEvent(t, pw, client.WatchRemove, 5*time.Second)
	require.Equal(t, owner.Addr, ev.Address)
	pw.Close()

	// Another key's changes are not reported.
	_, err = ws.Write(ctx, client.NewKey("other"), []byte("x"))
	require.NoError(t, err)
	_, err = ws.Write(ctx, k, []byte("last"))
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, uint64(4), ev.Size, "an event of another key came first")

	w.Close()
	require.Eventually(t, func() bool { return ownerNode.WatchStats().Watches == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestWatchRemoveRange: a range removal reports each key's removal.
func TestWatchRemoveRange(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	k := client.NewKey("ranged")
	_, err := sess.Write(ctx, k, []byte("v"))
	require.NoError(t, err)
	w, err := sess.Watch(ctx, k, client.WatchOptions{})
	require.NoError(t, err)
	defer w.Close()
	_, err = sess.RemoveRange(ctx, client.Range{Start: id.Zero, End: id.Max})
	require.NoError(t, err)
	nextEvent(t, w, client.WatchRemove, 5*time.Second)
}

// TestWatchOwnerRestart: the owner stops and starts again on the same
// address; the watch is lost, established again, and reports writes made
// after that.
func TestWatchOwnerRestart(t *testing.T) {
	ctx := context.Background()
	c, cl, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{Manual: true}})
	sess.SetGroups(2) // node 1 alone serves group 2
	k := client.NewKey("restarted")
	w, err := sess.Watch(ctx, k, client.WatchOptions{RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	ev := nextEvent(t, w, client.WatchStarted, 5*time.Second)
	require.Equal(t, c.Addrs[1], ev.Address)

	_, err = c.Replace(ctx, 1)
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchLost, 10*time.Second)
	require.Error(t, ev.Err)
	ev = nextEvent(t, w, client.WatchStarted, 20*time.Second)
	require.Equal(t, c.Addrs[1], ev.Address)
	require.Eventually(t, func() bool { return c.Nodes[1].WatchStats().Watches == 1 }, 5*time.Second, 10*time.Millisecond)

	require.Eventually(t, func() bool {
		_, err := sess.Write(ctx, k, []byte("after"))
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "writes to the restarted node")
	ev = nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, uint64(5), ev.Size)
	require.Equal(t, c.Addrs[1], ev.Address)
	_ = cl
}

// TestWatchSlowWatcher: a watcher that does not read makes the node queue
// at most its queue's worth and drop the rest; when it reads again it gets
// a missed count, then later events.
func TestWatchSlowWatcher(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	node := c.Nodes[0]
	k := client.NewKey("busy")
	const queue = 4
	w, err := sess.Watch(ctx, k, client.WatchOptions{Queue: queue, Buffer: 1})
	require.NoError(t, err)
	defer w.Close()
	// Long columns make big events: the connection's buffers fill sooner.
	col := strings.Repeat("c", proto.MaxColumnLen)
	maxQueued := 0
	for i := 0; i < 4000 && node.WatchStats().Dropped < 100; i++ {
		_, err := sess.Write(ctx, k.WithColumn(col), []byte("x"))
		require.NoError(t, err)
		maxQueued = max(maxQueued, node.WatchStats().Queued)
	}
	st := node.WatchStats()
	require.NotZero(t, st.Dropped, "nothing was dropped: the watcher's buffers swallowed every event")
	require.LessOrEqual(t, maxQueued, queue)

	// Reading again: first the events that were buffered, then the count
	// of those dropped; a write after that is reported. The node may not
	// have taken its full queue yet when the count arrives (it can come on
	// an event): a write that finds the queue full is dropped and counted
	// too, so write again after each event until one is reported.
	var missed uint64
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		ev, err := w.Next(rctx)
		require.NoError(t, err, "missed %d so far", missed)
		require.NotEqual(t, client.WatchLost, ev.Kind, "lost: %v", ev.Err)
		missed += ev.Missed
		if ev.Kind == client.WatchWrite && ev.Size == 5 {
			break
		}
		if missed > 0 {
			_, err = sess.Write(ctx, k.WithColumn(col), []byte("final"))
			require.NoError(t, err)
		}
	}
	// Later finals may still be on their way: read until quiet.
	for {
		qctx, qcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		ev, err := w.Next(qctx)
		qcancel()
		if err != nil {
			break
		}
		missed += ev.Missed
	}
	require.Equal(t, node.WatchStats().Dropped, missed, "every dropped event is counted once")
}

// TestWatchDisconnect: a watcher whose connection goes away without a drop
// leaves no watch behind on the node.
func TestWatchDisconnect(t *testing.T) {
	ctx := context.Background()
	c, _, _ := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	var mu sync.Mutex
	var conns []net.Conn
	dead := false
	cl := client.NewNode(client.Config{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		mu.Lock()
		gone := dead
		mu.Unlock()
		if gone {
			return nil, errors.New("the watcher's process is gone")
		}
		nc, err := c.Net.Dial(ctx, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
		}
		return nc, err
	}})
	defer cl.Close()
	require.NoError(t, cl.AddRemotes(ctx, c.Addrs[0]))
	sess := client.NewSession(cl)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := sess.Watch(wctx, client.NewKey("k"), client.WatchOptions{RetryMin: time.Hour})
	require.NoError(t, err)
	require.Equal(t, 1, c.Nodes[0].WatchStats().Watches)
	// The watcher's process dies: its connections close, no drop is sent
	// (and the Watcher cannot establish the watch again).
	mu.Lock()
	dead = true
	for _, nc := range conns {
		nc.Close()
	}
	mu.Unlock()
	require.Eventually(t, func() bool { return c.Nodes[0].WatchStats().Watches == 0 }, 10*time.Second, 10*time.Millisecond)
	w.Close()
}

// TestWatchBulkUploadAndRecovery: bulk writes, the steps of a chunked
// upload and a dc recovery copy are reported.
func TestWatchBulkUploadAndRecovery(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{Manual: true}})
	k := client.NewKey("many")
	one := sess.Clone()
	one.SetGroups(1)
	w, err := one.Watch(ctx, k, client.WatchOptions{})
	require.NoError(t, err)
	defer w.Close()

	require.NoError(t, one.BulkWrite(ctx, []client.Key{client.NewKey("a"), k}, [][]byte{[]byte("x"), []byte("bulk")},
		func(int, client.Result, error) {}))
	ev := nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, uint64(4), ev.Size)

	data := strings.Repeat("u", 10)
	_, err = one.WriteFrom(ctx, k, strings.NewReader(data), uint64(len(data)), client.StreamOptions{Chunk: 4})
	require.NoError(t, err)
	var last client.WatchEvent
	for last.RecordFlags&proto.RecordUncommitted != 0 || last.Kind == 0 {
		last = nextEvent(t, w, client.WatchWrite, 5*time.Second)
	}
	require.Equal(t, uint64(len(data)), last.Size, "the commit reports the whole object")

	// Group 2 gets a newer copy; dc on group 1 copies it here.
	two := sess.Clone()
	two.SetGroups(2)
	_, err = two.Write(ctx, k, []byte("from group two"))
	require.NoError(t, err)
	_, err = sess.StartRecovery(ctx, c.Addrs[0], "dc", client.RecoveryOptions{Backend: -1})
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchWrite, 10*time.Second)
	require.Equal(t, uint64(len("from group two")), ev.Size)
	require.Equal(t, uint32(1), ev.Group)
}

// TestWatchFollowsJoin: a node joins and takes over some watched keys; their
// watches move to it and report writes served there.
func TestWatchFollowsJoin(t *testing.T) {
	ctx := context.Background()
	c, cl, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	const n = 16
	watchers := make([]*client.Watcher, n)
	for i := range watchers {
		w, err := sess.Watch(ctx, client.NewKey(fmt.Sprintf("k%d", i)), client.WatchOptions{
			RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
		require.NoError(t, err)
		defer w.Close()
		nextEvent(t, w, client.WatchStarted, 5*time.Second)
		watchers[i] = w
	}
	_, err := c.Add()
	require.NoError(t, err)
	require.NoError(t, c.WaitConverged(ctx))
	require.Eventually(t, func() bool { return cl.Table().Len() == 2 }, 10*time.Second, 10*time.Millisecond)
	moved := 0
	for i, w := range watchers {
		oid, _ := sess.ID(client.NewKey(fmt.Sprintf("k%d", i)))
		owner, _ := cl.Table().Owner(oid, 1)
		if owner.Addr != c.Addrs[1] {
			continue
		}
		moved++
		ev := nextEvent(t, w, client.WatchStarted, 10*time.Second)
		require.Equal(t, c.Addrs[1], ev.Address, "key %d", i)
		_, err := sess.Write(ctx, client.NewKey(fmt.Sprintf("k%d", i)), []byte("new home"))
		require.NoError(t, err)
		ev = nextEvent(t, w, client.WatchWrite, 5*time.Second)
		require.Equal(t, c.Addrs[1], ev.Address)
	}
	t.Logf("%d of %d keys moved", moved, n)
	require.NotZero(t, moved, "no watched key moved to the new node")
	require.Eventually(t, func() bool {
		return c.Nodes[0].WatchStats().Watches+c.Nodes[1].WatchStats().Watches == n
	}, 5*time.Second, 10*time.Millisecond, "one watch per key in all")
}

// TestWatchColumn: a key with a column reports that column's writes and
// the removal of the whole object, not other columns.
func TestWatchColumn(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	k := client.NewKey("columns")
	w, err := sess.Watch(ctx, k.WithColumn("meta"), client.WatchOptions{})
	require.NoError(t, err)
	defer w.Close()
	_, err = sess.Write(ctx, k, []byte("default column"))
	require.NoError(t, err)
	_, err = sess.Write(ctx, k.WithColumn("meta"), []byte("m"))
	require.NoError(t, err)
	ev := nextEvent(t, w, client.WatchWrite, 5*time.Second)
	require.Equal(t, "meta", ev.Column)
	require.Equal(t, uint64(1), ev.Size)
	_, err = sess.Remove(ctx, k)
	require.NoError(t, err)
	ev = nextEvent(t, w, client.WatchRemove, 5*time.Second)
	require.Equal(t, "", ev.Column)

	// The iterator form.
	_, err = sess.Write(ctx, k.WithColumn("meta"), []byte("again"))
	require.NoError(t, err)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for ev, err := range w.All(ictx) {
		require.NoError(t, err)
		if ev.Kind == client.WatchWrite {
			require.Equal(t, uint64(5), ev.Size)
			break
		}
	}
	w.Close()
	_, err = w.Next(ctx)
	require.ErrorIs(t, err, status.ErrCanceled)
}

// TestWatchConcurrent: writers, removers and watchers that come and go at
// once (for -race); in the end no watch is left on the node.
func TestWatchConcurrent(t *testing.T) {
	ctx := context.Background()
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	keys := []client.Key{client.NewKey("c0"), client.NewKey("c1")}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[(i+n)%len(keys)]
				if n%5 == 4 {
					_, _ = sess.Remove(ctx, k)
				} else {
					_, _ = sess.Write(ctx, k, []byte("v"))
				}
			}
		}()
	}
	var seen sync.Map
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 5; round++ {
				w, err := sess.Watch(ctx, keys[(i+round)%len(keys)], client.WatchOptions{Queue: 2, Buffer: 1})
				if err != nil {
					t.Errorf("watch: %v", err)
					return
				}
				rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				for ev, err := range w.All(rctx) {
					if err != nil {
						break
					}
					seen.Store(ev.Kind, true)
					if round%2 == 0 {
						break // a watcher that stops reading, then closes
					}
				}
				cancel()
				w.Close()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	_, sawWrite := seen.Load(client.WatchWrite)
	require.True(t, sawWrite)
	require.Eventually(t, func() bool { return c.Nodes[0].WatchStats().Watches == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Zero(t, c.Nodes[0].WatchStats().Queued)
}
