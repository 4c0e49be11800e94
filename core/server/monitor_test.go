package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/stats"
)

// cmdCount sums a command's count of one source over the nodes' results.
func cmdCount(t *testing.T, rs []client.MonitorStatResult, cmd string, src stats.Source) (count, errors, bytes uint64) {
	t.Helper()
	for _, r := range rs {
		require.NoError(t, r.Err)
		cs, ok := r.Stats.Commands[cmd]
		if !ok {
			continue
		}
		if f := cs.Figures(src); f != nil {
			count, errors, bytes = count+f.Count, errors+f.Errors, bytes+f.Bytes
		}
	}
	return count, errors, bytes
}

// The statistics of every node, gathered in one call, add up to the
// traffic sent: writes and reads served where the keys live, and writes
// sent through one node (a proxy client) counted there as proxied.
func TestMonitorStatCluster(t *testing.T) {
	ctx := context.Background()
	// No handoff reads: a miss would be asked again of the key's previous
	// owner, a READ the test did not send.
	c, cl, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 1,
		Recovery: server.RecoveryOptions{HandoffWindow: -1}})
	// Until the client knows every node it sends through the seed, which
	// forwards: the test counts proxied requests of its own.
	require.NoError(t, cl.WaitRoutes(ctx, func(t *route.Table) bool { return len(t.Addresses()) == 3 }))
	sess.SetGroups(1)
	const writes, reads, misses, proxied = 40, 25, 5, 30
	value := []byte("statistics value")
	for i := range writes {
		_, err := sess.Write(ctx, client.NewKey(fmt.Sprintf("stat-%d", i)), value)
		require.NoError(t, err)
	}
	for i := range reads {
		e, err := sess.Read(ctx, client.NewKey(fmt.Sprintf("stat-%d", i)), 0, 0)
		require.NoError(t, err)
		require.Equal(t, value, e.Data)
	}
	for i := range misses {
		_, err := sess.Read(ctx, client.NewKey(fmt.Sprintf("missing-%d", i)), 0, 0)
		require.Error(t, err)
	}
	// A client that reaches the cluster only through the seed: the seed
	// forwards the keys it does not own.
	pn, err := c.Client(ctx, client.Config{Proxy: true})
	require.NoError(t, err)
	defer pn.Close()
	ps := client.NewSession(pn)
	ps.SetGroups(1)
	for i := range proxied {
		_, err := ps.Write(ctx, client.NewKey(fmt.Sprintf("proxied-%d", i)), value)
		require.NoError(t, err)
	}

	// The proxy client reaches only the seed, which relays its requests
	// for the others.
	relays := c.Nodes[0].Relays()
	prs, err := ps.MonitorStat(ctx, "", stats.CategoryStats)
	require.NoError(t, err)
	require.Len(t, prs, 3)
	for _, r := range prs {
		require.NoError(t, r.Err)
		require.Equal(t, r.Address, r.Stats.Address)
	}
	require.Equal(t, relays+2, c.Nodes[0].Relays(), "the seed relayed the requests for the other two")

	rs, err := sess.MonitorStat(ctx, "", stats.CategoryAll)
	require.NoError(t, err)
	require.Len(t, rs, 3, "one result per node")
	addrs := map[string]bool{}
	for _, r := range rs {
		require.NoError(t, r.Err)
		addrs[r.Address] = true
		require.Equal(t, r.Address, r.Stats.Address)
		require.Equal(t, "enabled", r.Stats.MonitorStatus)
		require.Len(t, r.Stats.Backends, 1)
		require.NotNil(t, r.Stats.Procfs)
		require.GreaterOrEqual(t, r.Stats.IO.Peers, 2, "the other two nodes connect to each node")
		require.GreaterOrEqual(t, r.Stats.IO.Clients, 1, "the test's client connects to every node")
		require.Equal(t, 2, r.Stats.IO.Outgoing, "each node connects to the other two")
		require.Len(t, r.Stats.IO.States, 2)
		for a := range r.Stats.IO.States {
			require.Contains(t, c.Addrs, a)
			require.NotEqual(t, r.Address, a)
		}
		require.Len(t, r.Stats.IO.Accepted, r.Stats.IO.Connections)
		require.Equal(t, 3, r.Stats.Stats.RouteSize)
		require.NotNil(t, r.Stats.Top)
		require.NotNil(t, r.Stats.Recovery, "asked for: present even without jobs")
		require.NotNil(t, r.Stats.Recovery.Jobs)
		require.True(t, json.Valid(r.Raw))
	}
	require.Len(t, addrs, 3)

	n, errs, bytes := cmdCount(t, rs, "WRITE", stats.Storage)
	require.Equal(t, uint64(writes+proxied), n, "every write stored once")
	require.Zero(t, errs)
	require.GreaterOrEqual(t, bytes, uint64((writes+proxied)*len(value)))
	n, errs, _ = cmdCount(t, rs, "READ", stats.Storage)
	require.Equal(t, uint64(reads+misses), n)
	require.Equal(t, uint64(misses), errs, "a miss is an error reply")

	// The seed forwarded the proxied writes of keys it does not own (a
	// node whose table lags may forward too) and relayed the proxy
	// client's MONITOR_STATs: every forward and relay of a node is counted
	// as proxy there.
	for _, r := range rs {
		i := slices.Index(c.Addrs, r.Address)
		require.GreaterOrEqual(t, i, 0, r.Address)
		var proxy uint64
		for _, cs := range r.Stats.Commands {
			if cs.Proxy != nil {
				proxy += cs.Proxy.Count
			}
		}
		require.Equal(t, c.Nodes[i].Forwards()+c.Nodes[i].Relays(), proxy, "%s: every forward and relay is counted", r.Address)
		if r.Address == c.Addrs[0] {
			w := r.Stats.Commands["WRITE"]
			require.NotNil(t, w.Proxy, "the seed forwarded writes")
			require.NotZero(t, w.Proxy.P99US)
		}
	}

	// Objects stored add up, and the top keys saw the reads.
	var objects uint64
	var topReqs uint64
	for _, r := range rs {
		objects += r.Stats.Backends["0"].Objects
		for _, k := range r.Stats.Top.Requests {
			topReqs += k.Requests
		}
	}
	require.Equal(t, uint64(writes+proxied), objects)
	require.Equal(t, uint64(writes+reads+proxied), topReqs, "fewer keys than the lists hold: every request is listed")

	// Categories select sections; one node answers for itself.
	one, err := sess.MonitorStat(ctx, c.Addrs[1], stats.CategoryCommands)
	require.NoError(t, err)
	require.Len(t, one, 1)
	require.NotEmpty(t, one[0].Stats.Commands)
	require.Nil(t, one[0].Stats.Backends)
	require.Nil(t, one[0].Stats.Procfs)
	require.Nil(t, one[0].Stats.Top)
	require.NotContains(t, string(one[0].Raw), `"backends"`)

	// A node that cannot be reached has its error; the others still answer.
	some, err := sess.MonitorStatOf(ctx, []string{c.Addrs[2], "node99:1025"}, stats.CategoryStats)
	require.NoError(t, err)
	require.Len(t, some, 2)
	require.NoError(t, some[0].Err)
	require.NotNil(t, some[0].Stats.Stats)
	require.Equal(t, "node99:1025", some[1].Address)
	require.Error(t, some[1].Err)
	_, err = sess.MonitorStat(ctx, "node99:1025", stats.CategoryAll)
	require.Error(t, err)
}
