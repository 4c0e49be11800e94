package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

// nextWatchEvent returns the next event of kind want (and, if addr is not
// empty, from addr), skipping others, within d.
func nextWatchEvent(t *testing.T, w *client.Watcher, want client.WatchKind, addr string, d time.Duration) (client.WatchEvent, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return ev, false
		}
		if ev.Kind == want && (addr == "" || ev.Address == addr) {
			return ev, true
		}
		t.Logf("watch: %s group %d %s %v", ev.Kind, ev.Group, ev.Address, ev.Err)
	}
}

// TestWatchAgainstDaemons: two ellipticsd nodes of one group. A watcher
// (Go client, and the CLI) hears of writes, appends and removals that a
// client sent through the node that does not own the key; the owner is
// killed and restarted on its address and data, and the watch comes back.
func TestWatchAgainstDaemons(t *testing.T) {
	nodes := newCluster(t, 1, 2)
	startAll(t, nodes)
	ctx := context.Background()
	watcher := session(t, nodes[0].addr)
	tb := waitTable(t, watcher, 2)

	// A key the second node owns, so writes through the first are
	// forwarded.
	var k client.Key
	var owner, other *clusterNode
	for i := 0; owner == nil; i++ {
		k = client.NewKey(fmt.Sprintf("watched-%d", i))
		oid, err := watcher.ID(k)
		require.NoError(t, err)
		o, ok := tb.Owner(oid, 1)
		require.True(t, ok)
		if o.Addr == nodes[1].addr {
			owner, other = nodes[1], nodes[0]
		}
	}
	w, err := watcher.Watch(ctx, k, client.WatchOptions{RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	_, ok := nextWatchEvent(t, w, client.WatchStarted, owner.addr, 5*time.Second)
	require.True(t, ok, "watch started on the owner")

	// The CLI watches too, through the other node.
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, filepath.Join(binDir, "elliptics"), "--remote", other.addr, "watch", k.Name, "--count", "3")
	var cliOut, cliErr syncBuffer
	cmd.Stdout, cmd.Stderr = &cliOut, &cliErr
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { return strings.Contains(cliOut.String(), "started") }, 20*time.Second, 20*time.Millisecond,
		"CLI watch: %s", cliErr.String())

	pn := client.NewNode(client.Config{Proxy: true, WaitTimeout: 3 * time.Second})
	defer pn.Close()
	require.NoError(t, pn.AddRemotes(ctx, other.addr))
	writer := client.NewSession(pn)
	writer.SetGroups(1)
	_, err = writer.Write(ctx, k, []byte("abc"))
	require.NoError(t, err)
	ev, ok := nextWatchEvent(t, w, client.WatchWrite, "", 5*time.Second)
	require.True(t, ok)
	require.Equal(t, uint64(3), ev.Size)
	require.Equal(t, owner.addr, ev.Address)
	_, err = writer.WriteWith(ctx, k, []byte("de"), client.WriteOptions{Append: true})
	require.NoError(t, err)
	ev, ok = nextWatchEvent(t, w, client.WatchWrite, "", 5*time.Second)
	require.True(t, ok)
	require.Equal(t, uint64(5), ev.Size)
	_, err = writer.Remove(ctx, k)
	require.NoError(t, err)
	_, ok = nextWatchEvent(t, w, client.WatchRemove, "", 5*time.Second)
	require.True(t, ok)
	require.NoError(t, cmd.Wait(), "CLI watch: %s", cliErr.String())
	out := cliOut.String()
	require.Equal(t, 2, strings.Count(out, "\nwrite "), out)
	require.Equal(t, 1, strings.Count(out, "\nremove "), out)

	// The owner dies and comes back on its address and data.
	owner.d.kill()
	_, ok = nextWatchEvent(t, w, client.WatchLost, owner.addr, 10*time.Second)
	require.True(t, ok, "the watch on the killed owner is lost")
	owner.start(t)
	_, ok = nextWatchEvent(t, w, client.WatchStarted, owner.addr, 30*time.Second)
	require.True(t, ok, "the watch is back on the restarted owner")
	// The writer's node may still route the key elsewhere for a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := writer.Write(ctx, k, []byte("again"))
		if err == nil {
			if ev, ok := nextWatchEvent(t, w, client.WatchWrite, owner.addr, time.Second); ok {
				require.Equal(t, uint64(5), ev.Size)
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "no write event from the restarted owner (last write: %v)", err)
	}
}
