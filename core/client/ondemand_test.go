package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server/clustertest"
)

// A node that connects on demand keeps what its seed says of the nodes it
// also reaches directly: when such a connection is lost, the node stays in
// its table (routed through the seed) at once. It used to vanish until
// the seed's list changed again, which in a formed cluster may be never.
func TestOnDemandKeepsNodeAfterLostConnection(t *testing.T) {
	// No pulls or redials of their own: what the test sees comes from
	// the steps below.
	c, ctx := startOnDemand(t, func(cfg *client.Config) { cfg.RefreshInterval, cfg.PingInterval = time.Hour, time.Hour })
	n1, seed, other := c.Nodes[1].Peers(), clustertest.Addr(0), clustertest.Addr(3)
	if err := n1.AddRemotes(ctx, other); err != nil {
		t.Fatal(err)
	}
	// A new member changes the seed's list, so the pull below gets all of
	// it, the node reached directly included.
	if _, err := c.Add(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	client.Pull(n1, seed)
	client.BreakConn(n1, other)
	n1.Rebuild()
	if bs := n1.Table().NodeBackends(other); len(bs) != 1 {
		t.Fatalf("after losing its connection to %s, node 1 routes to %d of its backends, want 1 (through the seed)", other, len(bs))
	}
	if err := n1.WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == len(c.Nodes) }); err != nil {
		t.Fatal(err)
	}
}

// A node that joins learns the cluster from the remote it was given, even
// when other nodes connected to it first: their lists name only the nodes
// they reach.
func TestOnDemandJoinLearnsFromTheSeed(t *testing.T) {
	c, ctx := startOnDemand(t, nil)
	// Several tries: which connection a node happened to pick was chance.
	for i := range 4 {
		n := client.NewNode(client.Config{Dial: c.Net.Dial, ConnectOnDemand: true, RefreshInterval: time.Hour})
		if err := n.AddRemotes(ctx, clustertest.Addr(3)); err != nil {
			t.Fatal(err)
		}
		if err := n.AddRemotes(ctx, clustertest.Addr(0)); err != nil {
			t.Fatal(err)
		}
		n.Rebuild()
		if got := n.Table().Len(); got != len(c.Nodes) {
			t.Errorf("try %d: %d nodes in the table after joining through the seed, want %d", i, got, len(c.Nodes))
		}
		n.Close()
	}
}

// A connection to a node we learnt from that comes back (a redial) brings
// its member list again: what it pushed meanwhile would otherwise be lost
// until a pull happened to pick it.
func TestOnDemandRedialPullsTheList(t *testing.T) {
	c, ctx := startOnDemand(t, func(cfg *client.Config) { cfg.RefreshInterval, cfg.PingInterval = time.Hour, time.Hour })
	n1, seed := c.Nodes[1].Peers(), clustertest.Addr(0)
	client.BreakConn(n1, seed)
	// The seed tells the others of a new node while node 1 is away.
	if _, err := c.Add(); err != nil {
		t.Fatal(err)
	}
	newcomer := clustertest.Addr(len(c.Nodes) - 1)
	if err := c.Nodes[2].Peers().WaitRoutes(ctx, func(tb *route.Table) bool { return len(tb.NodeBackends(newcomer)) > 0 }); err != nil {
		t.Fatal(err)
	}
	if err := client.Redial(ctx, n1, seed); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := n1.WaitRoutes(wctx, func(tb *route.Table) bool { return len(tb.NodeBackends(newcomer)) > 0 }); err != nil {
		t.Fatalf("node 1 did not learn %s after reconnecting to the seed: %v", newcomer, err)
	}
}

// startOnDemand starts a converged cluster of 4 nodes that connect on
// demand, with cfg applied to their peer connections.
func startOnDemand(t *testing.T, cfg func(*client.Config)) (*clustertest.Cluster, context.Context) {
	t.Helper()
	opts := clustertest.Options{Nodes: 4}
	opts.Peer.ConnectOnDemand = true
	if cfg != nil {
		cfg(&opts.Peer)
	}
	c, err := clustertest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	return c, ctx
}
