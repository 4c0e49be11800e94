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
	opts := clustertest.Options{Nodes: 4}
	opts.Peer.ConnectOnDemand = true
	// No pulls or redials of their own: what the test sees comes from
	// the steps below.
	opts.Peer.RefreshInterval = time.Hour
	opts.Peer.PingInterval = time.Hour
	c, err := clustertest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
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
