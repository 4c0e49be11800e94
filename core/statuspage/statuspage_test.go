package statuspage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/statuspage"
)

// serve starts the page of node 0 of c over HTTP.
func serve(t *testing.T, c *clustertest.Cluster, cacheFor time.Duration) string {
	t.Helper()
	s := c.Nodes[0]
	p := statuspage.New(statuspage.Config{
		Self:     func() string { return c.Addrs[0] },
		Table:    s.Table,
		Local:    s.MonitorStat,
		Peers:    func() *client.Node { return s.Peers() },
		Timeout:  time.Second,
		CacheFor: cacheFor,
	})
	mux := http.NewServeMux()
	p.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func startCluster(t *testing.T, nodes, groups int) *clustertest.Cluster {
	t.Helper()
	c, err := clustertest.Start(clustertest.Options{Nodes: nodes, Groups: groups})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.WaitConverged(ctx))
	return c
}

// The ring of a 6-node, 3-group cluster: every group, every backend, shares
// adding up to 100% per group, as route.Table.Share computes them.
func TestRing(t *testing.T) {
	c := startCluster(t, 6, 3)
	base := serve(t, c, time.Second)
	var ring statuspage.RingReply
	getJSON(t, base+"/status/ring", &ring)
	tab := c.Nodes[0].Table()
	require.Equal(t, c.Addrs[0], ring.Self)
	require.Equal(t, tab.Version(), ring.Version)
	require.Len(t, ring.Groups, 3)
	for i, g := range ring.Groups {
		require.Equal(t, uint32(i+1), g.Group)
		require.Len(t, g.Backends, 2)
		require.Equal(t, 2, g.Nodes)
		sum := 0.0
		for _, b := range g.Backends {
			require.Greater(t, b.SharePercent, 0.0)
			require.InDelta(t, 100*tab.Share(b.Address, b.Backend, g.Group), b.SharePercent, 1e-9)
			require.Equal(t, route.DefaultPoints, b.Points)
			sum += b.SharePercent
		}
		require.InDelta(t, 100, sum, 1e-6, "group %d", g.Group)
		require.Equal(t, 2*route.DefaultPoints, g.Points)
	}
}

// Nodes and the cluster gather: every node listed and reachable; with one
// node down, the gather shows it unreachable and the page keeps listing
// it after the route table drops it.
func TestNodesAndClusterWithANodeDown(t *testing.T) {
	c := startCluster(t, 3, 3)
	base := serve(t, c, time.Nanosecond) // no cache: every request gathers

	var nodes statuspage.NodesReply
	getJSON(t, base+"/status/nodes", &nodes)
	require.Equal(t, c.Addrs[0], nodes.Self)
	require.Len(t, nodes.Nodes, 3)
	for i, n := range nodes.Nodes {
		require.Equal(t, c.Addrs[i], n.Address)
		require.True(t, n.InTable)
		require.Equal(t, 1, n.Backends)
		require.Equal(t, []uint32{uint32(i + 1)}, n.Groups)
		if i == 0 {
			require.Equal(t, statuspage.StateSelf, n.State)
		} else {
			require.Equal(t, statuspage.StateConnected, n.State)
			require.Equal(t, c.Addrs[i], n.Dialed)
		}
	}

	// Retried: under -race on a loaded machine a node may miss the
	// gather's deadline.
	var cl statuspage.ClusterReply
	require.Eventually(t, func() bool {
		getJSON(t, base+"/status/cluster", &cl)
		for _, n := range cl.Nodes {
			if !n.Reachable {
				return false
			}
		}
		return len(cl.Nodes) == 3
	}, 15*time.Second, 20*time.Millisecond, "every node answers the gather")
	for i, n := range cl.Nodes {
		require.Equal(t, c.Addrs[i], n.Address)
		require.True(t, n.Reachable, n.Error)
		require.Len(t, n.Backends, 1)
		require.Equal(t, uint32(i+1), n.Backends[0].Group)
		require.Equal(t, "enabled", n.Backends[0].State)
		require.NotNil(t, n.Recovery)
	}
	// Node 0 was asked MONITOR_STAT by the gather (node 1 and 2 once
	// each): a second gather sees requests.
	getJSON(t, base+"/status/cluster", &cl)
	require.Greater(t, cl.Nodes[1].Requests, uint64(0))

	require.NoError(t, c.Nodes[2].Shutdown(context.Background()))
	down := c.Addrs[2]
	require.Eventually(t, func() bool {
		var cl statuspage.ClusterReply
		getJSON(t, base+"/status/cluster", &cl)
		for _, n := range cl.Nodes {
			if n.Address == down {
				return !n.Reachable && n.Error != ""
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "the gather shows %s unreachable", down)

	// Once the table drops it, /status/nodes still lists it, unreachable.
	require.Eventually(t, func() bool {
		var nodes statuspage.NodesReply
		getJSON(t, base+"/status/nodes", &nodes)
		for _, n := range nodes.Nodes {
			if n.Address == down {
				return n.State == statuspage.StateUnreachable && !n.InTable && n.Backends == 1 &&
					slices.Equal(n.Groups, []uint32{3})
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "%s listed unreachable, with its group, after it left the table", down)
	getJSON(t, base+"/status/cluster", &cl)
	require.Len(t, cl.Nodes, 3)
	require.False(t, cl.Nodes[2].Reachable)
	require.True(t, cl.Nodes[0].Reachable)
	require.True(t, cl.Nodes[1].Reachable)
}

// The gather is shared: requests within CacheFor do not ask the nodes
// again, and concurrent requests wait for the one gather.
func TestClusterCache(t *testing.T) {
	var calls, local int
	p1, err := route.RandomPoints(4)
	require.NoError(t, err)
	p2, err := route.RandomPoints(4)
	require.NoError(t, err)
	tab, err := route.New([]route.Backend{
		{Addr: "10.0.0.1:1025", Group: 1, Points: p1},
		{Addr: "10.0.0.2:1025", Group: 1, Points: p2},
	})
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	p := statuspage.New(statuspage.Config{
		Self:  func() string { return "10.0.0.1:1025" },
		Table: func() *route.Table { return tab },
		Local: func(cat uint64) *stats.Snapshot {
			local++
			return &stats.Snapshot{Address: "10.0.0.1:1025", Categories: cat}
		},
		Fetch: func(context.Context, string, uint64) (*stats.Snapshot, error) {
			calls++
			return nil, errors.New("connection refused")
		},
		CacheFor: time.Second,
		Now:      func() time.Time { return now },
	})
	c1 := p.Cluster(context.Background())
	require.Len(t, c1.Nodes, 2)
	require.True(t, c1.Nodes[0].Reachable)
	require.False(t, c1.Nodes[1].Reachable)
	require.Equal(t, "connection refused", c1.Nodes[1].Error)
	require.Same(t, c1, p.Cluster(context.Background()))
	require.Equal(t, 1, calls)
	now = now.Add(2 * time.Second)
	require.NotSame(t, c1, p.Cluster(context.Background()))
	require.Equal(t, 2, calls)
	require.Equal(t, 2, local)
}

// Many tabs at once: concurrent requests share one gather.
func TestClusterConcurrentRequestsShareAGather(t *testing.T) {
	tab, err := route.New([]route.Backend{{Addr: "10.0.0.1:1025", Group: 1, Points: []id.ID{{1}}},
		{Addr: "10.0.0.2:1025", Group: 1, Points: []id.ID{{2}}}, {Addr: "10.0.0.3:1025", Group: 2, Points: []id.ID{{3}}}})
	require.NoError(t, err)
	var calls atomic.Int32
	p := statuspage.New(statuspage.Config{
		Self:  func() string { return "10.0.0.1:1025" },
		Table: func() *route.Table { return tab },
		Local: func(cat uint64) *stats.Snapshot { return &stats.Snapshot{Categories: cat} },
		Fetch: func(_ context.Context, addr string, _ uint64) (*stats.Snapshot, error) {
			calls.Add(1)
			time.Sleep(50 * time.Millisecond)
			return &stats.Snapshot{Address: addr}, nil
		},
		CacheFor: time.Minute,
	})
	var wg sync.WaitGroup
	replies := make([]*statuspage.ClusterReply, 20)
	for i := range replies {
		wg.Go(func() { replies[i] = p.Cluster(context.Background()) })
	}
	wg.Wait()
	require.Equal(t, int32(2), calls.Load(), "one MONITOR_STAT per other node")
	for _, r := range replies {
		require.Same(t, replies[0], r)
		require.Len(t, r.Nodes, 3)
		for _, n := range r.Nodes {
			require.True(t, n.Reachable)
		}
	}
}

func TestWantsHTML(t *testing.T) {
	for _, tc := range []struct {
		accept, query string
		html          bool
	}{
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", true},
		{"TEXT/HTML", "", true},
		{"*/*", "", false},
		{"", "", false},
		{"application/json", "", false},
		{"text/html", "categories=4", false},
	} {
		r := httptest.NewRequest("GET", "/?"+tc.query, nil)
		r.Header.Set("Accept", tc.accept)
		require.Equal(t, tc.html, statuspage.WantsHTML(r), "%q %q", tc.accept, tc.query)
	}
}

// The page and its assets come from the binary, with their types, and
// reference nothing outside the node.
func TestAssets(t *testing.T) {
	p := statuspage.New(statuspage.Config{Self: func() string { return "" }, Table: func() *route.Table { return nil },
		Local: func(uint64) *stats.Snapshot { return &stats.Snapshot{} }})
	mux := http.NewServeMux()
	p.Register(mux)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	for path, ctype := range map[string]string{"/status/": "text/html", "/status/app.js": "text/javascript",
		"/status/style.css": "text/css"} {
		resp, err := http.Get(hs.URL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), ctype), path)
		if path == "/status/" {
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
		}
		require.NotContains(t, string(body), "http://", path)
		require.NotContains(t, string(body), "https://", path)
	}
	var ring statuspage.RingReply
	getJSON(t, hs.URL+"/status/ring", &ring)
	require.Empty(t, ring.Groups)
	require.NotNil(t, ring.Groups)
}
