package clustertest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
)

// clusterSize is the number of nodes of TestCluster: 100, 30 with -short
// or -race, or ELLIPTICS_CLUSTER_NODES.
func clusterSize(t *testing.T) int {
	n := 100
	if testing.Short() || raceEnabled {
		n = 30
	}
	if v := os.Getenv("ELLIPTICS_CLUSTER_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("ELLIPTICS_CLUSTER_NODES=%q: %v", v, err)
		}
	}
	return n
}

// TestCluster starts n nodes over 3 groups, every one joining through the
// seed, and checks that every route table converges, that one more node
// joining the formed cluster reaches every table, that a key sent
// through any node lands on its owner in every group (forwarding), and that
// a client sees the whole table and reads the key back.
func TestCluster(t *testing.T) {
	testCluster(t, os.Getenv("ELLIPTICS_CLUSTER_ONDEMAND") != "")
}

// TestClusterOnDemand is TestCluster with Peer.ConnectOnDemand: nodes learn
// the cluster from the seed's member lists instead of connecting to
// everyone.
func TestClusterOnDemand(t *testing.T) { testCluster(t, true) }

func testCluster(t *testing.T, onDemand bool) {
	n := clusterSize(t)
	if onDemand && raceEnabled && !testing.Short() && os.Getenv("ELLIPTICS_CLUSTER_NODES") == "" {
		n = 100 // a few hundred connections: fast enough under -race
	}
	start := time.Now()

	if os.Getenv("ELLIPTICS_CLUSTER_TRACE") != "" {
		last := time.Now()
		Trace = func(c *Cluster) {
			if time.Since(last) < 250*time.Millisecond {
				return
			}
			last = time.Now()
			sum, minLen := 0, len(c.Nodes)
			for _, s := range c.Nodes {
				l := s.Table().Len()
				sum += l
				minLen = min(minLen, l)
			}
			t.Logf("%v: %d converged, seed table %d, mean table %d, smallest %d", time.Since(start).Round(time.Millisecond),
				c.Converged(), c.Nodes[0].Table().Len(), sum/len(c.Nodes), minLen)
		}
		defer func() { Trace = nil }()
	}
	opts := Options{Nodes: n}
	if os.Getenv("ELLIPTICS_CLUSTER_LOG") != "" {
		opts.Logger = zap.Must(zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel)))
	}
	opts.Peer.ConnectOnDemand = onDemand
	c, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	started := time.Since(start)
	joins, _ := strconv.Atoi(os.Getenv("ELLIPTICS_CLUSTER_JOINS"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second+time.Duration(joins)*10*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes (on demand: %v): started in %v, converged %v after the last start (%d goroutines); route table of node 0: %d bytes",
		n, onDemand, started, time.Since(start)-started, runtime.NumGoroutine(), TableBytes(c.Nodes[0].Table()))

	// Tables follow pushes and pulls by applying what changed; rebuilt
	// from scratch, they must come out the same.
	for i := 0; i < n; i += max(1, n/10) {
		peers := c.Nodes[i].Peers()
		before := peers.Table()
		peers.Rebuild()
		if after := peers.Table(); !after.Equal(before) {
			t.Errorf("node %d: its table changed when rebuilt from scratch: %d backends before, %d after", i, before.Len(), after.Len())
		}
	}

	// One more node joins the formed cluster: every node must learn it.
	joinStart := time.Now()
	if _, err := c.Add(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatalf("after one more node joined: %v", err)
	}
	t.Logf("node %d joined: known to all %d nodes after %v", n, n+1, time.Since(joinStart))
	n++

	// The join above lands while the formation's recovery wave (each node
	// pulls the ranges it gained once its table has been still for
	// merge_delay) may still run. ELLIPTICS_CLUSTER_JOINS more joins, each
	// after 5 s, time joins into a settled cluster (scale runs).
	for range joins {
		time.Sleep(5 * time.Second)
		joinStart := time.Now()
		if _, err := c.Add(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitConverged(ctx); err != nil {
			t.Fatalf("after node %d joined a settled cluster: %v", n, err)
		}
		t.Logf("node %d joined the settled cluster: known to all %d nodes after %v", n, n+1, time.Since(joinStart))
		n++
	}

	// Keys sent through a proxy client reach their owners through whichever
	// node the client talks to.
	table := c.Nodes[0].Table()
	for i, via := range []int{0, n / 2, n - 1} {
		p, err := client.NewNode(client.Config{Dial: c.Net.Dial, Proxy: true}), error(nil)
		if err = p.AddRemotes(ctx, c.Addrs[via]); err != nil {
			t.Fatal(err)
		}
		s := client.NewSession(p)
		s.SetGroups(1, 2, 3)
		key := client.NewKey(fmt.Sprintf("key-%d", i))
		oid, _ := s.ID(key)
		res, err := s.Write(ctx, key, []byte("data"))
		if err != nil {
			t.Fatalf("write through %s: %v", c.Addrs[via], err)
		}
		for _, e := range res.Entries {
			owner, _ := table.Owner(oid, e.Group)
			if e.Address != owner.Addr {
				t.Errorf("group %d: written on %s, owner is %s", e.Group, e.Address, owner.Addr)
			}
		}
		p.Close()
	}
	var forwards uint64
	for _, s := range c.Nodes {
		forwards += s.Forwards()
	}
	if forwards == 0 {
		t.Error("no request was forwarded")
	}

	cl, err := c.Client(ctx, client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == n }); err != nil {
		t.Fatal(err)
	}
	s := client.NewSession(cl)
	s.SetGroups(3)
	if e, err := s.Read(ctx, client.NewKey("key-1"), 0, 0); err != nil || string(e.Data) != "data" {
		t.Fatalf("read: %q %v", e.Data, err)
	}
}
