// Package statuspage is the status page a node serves on its monitor HTTP
// port: one HTML page with its script and style sheet (embedded in the
// binary, no external assets, no build step) and the JSON endpoints the
// page polls:
//
//	GET /status/          the page (also GET / for a browser: see WantsHTML)
//	GET /status/app.js, /status/style.css
//	GET /status/ring      the ring of this node's route table: groups, backends, share of each
//	GET /status/nodes     the members as this node sees them: connected or not, latency
//	GET /status/cluster   the MONITOR_STAT of every node, gathered by this node, summed up
//
// Every request does bounded work: the ring is computed once per route
// table, the nodes come from memory, and the cluster gather (the only one
// that talks to other nodes) is bounded by a timeout, asks at most
// MaxNodes nodes, a few at a time, and is shared by every request within
// CacheFor of it, so many open tabs do not multiply the load.
package statuspage

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/stats"
)

//go:embed assets
var assets embed.FS

// Defaults of Config.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultCacheFor    = time.Second
	DefaultForgetAfter = time.Hour
	// MaxNodes bounds the nodes a cluster gather asks, and the nodes
	// remembered after they left the route table.
	MaxNodes = 1024
	// gatherParallel is how many nodes a gather asks at once.
	gatherParallel = 16
	// maxJobs is how many recovery jobs of a node the cluster reply
	// carries (the newest).
	maxJobs = 10
)

// gatherCategories are the MONITOR_STAT categories the page summarizes.
const gatherCategories = stats.CategoryCommands | stats.CategoryBackend | stats.CategoryStats |
	stats.CategoryProcfs | stats.CategoryRecovery

// Config is where a Page reads the node's state. Only Self, Table and
// Local are required.
type Config struct {
	// Self is the node's address, as its route table names it.
	Self func() string
	// Table is the node's route table.
	Table func() *route.Table
	// Local is the node's own statistics (its MonitorStat).
	Local func(categories uint64) *stats.Snapshot
	// Peers is the node's connections to the other nodes (nil: none yet,
	// or a node alone).
	Peers func() *client.Node
	// Fetch asks the node at addr for its statistics; nil asks it through
	// Peers with MONITOR_STAT (tests replace it).
	Fetch func(ctx context.Context, addr string, categories uint64) (*stats.Snapshot, error)
	// Timeout bounds the gather of every node's statistics
	// (DefaultTimeout); CacheFor is how long a gather serves later
	// requests (DefaultCacheFor); ForgetAfter is how long a node that
	// left the route table is still listed as unreachable
	// (DefaultForgetAfter).
	Timeout, CacheFor, ForgetAfter time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Page serves the status page and its data.
type Page struct {
	cfg Config

	mu       sync.Mutex
	seen     map[string]seenNode // every node of a table seen, and when last in it
	ringOf   *route.Table        // the table ring was computed from
	ring     *RingReply
	gatherMu sync.Mutex // held by the gather in progress
	cluster  *ClusterReply
	prev     map[string]sample // each node's figures at the previous gather
}

// seenNode is what the page remembers of a node, to describe it after it
// left the route table.
type seenNode struct {
	at       time.Time
	backends int
	groups   []uint32
}

// sample is a node's counters at a gather, for rates over the next one.
type sample struct {
	at      time.Time
	count   uint64
	errors  uint64
	buckets [stats.NumBuckets]uint64
}

// New returns a page reading the node's state through cfg.
func New(cfg Config) *Page {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CacheFor <= 0 {
		cfg.CacheFor = DefaultCacheFor
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = DefaultForgetAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Peers == nil {
		cfg.Peers = func() *client.Node { return nil }
	}
	p := &Page{cfg: cfg, seen: map[string]seenNode{}, prev: map[string]sample{}}
	if p.cfg.Fetch == nil {
		p.cfg.Fetch = p.fetch
	}
	return p
}

// WantsHTML tells whether a request to / comes from a browser: it accepts
// text/html and names no categories. Scripts (curl, Python, Prometheus)
// send */* or application/json and keep getting the JSON.
func WantsHTML(r *http.Request) bool {
	if r.URL.Query().Has("categories") {
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

// Register adds the page's routes (under /status) to mux.
func (p *Page) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /status/{$}", p.ServeIndex)
	mux.HandleFunc("GET /status/app.js", asset("app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /status/style.css", asset("style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /status/ring", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, p.Ring()) })
	mux.HandleFunc("GET /status/nodes", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, p.Nodes()) })
	mux.HandleFunc("GET /status/cluster", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, p.Cluster(r.Context()))
	})
}

// ServeIndex serves the page itself.
func (p *Page) ServeIndex(w http.ResponseWriter, r *http.Request) {
	// The page loads nothing from elsewhere and is framed by nobody; its
	// script sets style attributes (bar widths, colors).
	w.Header().Set("Content-Security-Policy",
		"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	index(w, r)
}

var index = asset("index.html", "text/html; charset=utf-8")

func asset(name, contentType string) http.HandlerFunc {
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		panic("statuspage: embedded asset missing: " + name) // a build error, not a runtime one
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n')) // a failed write is the client's loss
}

// RingReply is /status/ring.
type RingReply struct {
	Self    string      `json:"self"`
	Version uint64      `json:"version"`
	Groups  []RingGroup `json:"groups"`
}

// RingGroup is one group (replica) of the ring: its backends, by address
// then backend id, and their shares of the group's ring, which add up to
// 100.
type RingGroup struct {
	Group    uint32        `json:"group"`
	Nodes    int           `json:"nodes"`
	Points   int           `json:"points"`
	Backends []RingBackend `json:"backends"`
}

// RingBackend is one backend of a group.
type RingBackend struct {
	Address      string  `json:"address"`
	Backend      int32   `json:"backend"`
	Points       int     `json:"points"`
	SharePercent float64 `json:"share_percent"`
	ReadOnly     bool    `json:"read_only"`
}

// Ring describes the node's route table, computed once per table.
func (p *Page) Ring() *RingReply {
	t := p.cfg.Table()
	p.mu.Lock()
	defer p.mu.Unlock()
	if t != nil && t == p.ringOf {
		return p.ring
	}
	out := &RingReply{Self: p.cfg.Self(), Groups: []RingGroup{}}
	if t != nil {
		out.Version = t.Version()
		for _, g := range t.Groups() {
			bs, shares := t.Group(g), t.Shares(g)
			rg := RingGroup{Group: g, Backends: make([]RingBackend, len(bs))}
			for i, b := range bs {
				rg.Backends[i] = RingBackend{Address: b.Addr, Backend: b.ID, Points: len(b.Points), ReadOnly: b.ReadOnly}
				if i < len(shares) {
					rg.Backends[i].SharePercent = 100 * shares[i]
				}
				rg.Points += len(b.Points)
				if i == 0 || bs[i-1].Addr != b.Addr {
					rg.Nodes++
				}
			}
			out.Groups = append(out.Groups, rg)
		}
	}
	p.ringOf, p.ring = t, out
	return out
}

// Node states of /status/nodes.
const (
	StateSelf      = "self"      // the node serving the page
	StateConnected = "connected" // this node has a connection to it
	// StateIndirect: in the route table as other nodes describe it, but
	// this node has no connection of its own (a node connecting on
	// demand, or one it cannot reach).
	StateIndirect = "indirect"
	// StateUnreachable: it was in the route table and was dropped (down,
	// or gone for good); listed for ForgetAfter.
	StateUnreachable = "unreachable"
)

// NodesReply is /status/nodes.
type NodesReply struct {
	Self  string      `json:"self"`
	Nodes []NodeState `json:"nodes"`
}

// NodeState is one node as this node sees it.
type NodeState struct {
	Address  string   `json:"address"`
	State    string   `json:"state"`
	InTable  bool     `json:"in_table"`
	Backends int      `json:"backends"`
	Groups   []uint32 `json:"groups"`
	// Dialed is the address this node's connection to it was dialed at;
	// LatencyUS its smoothed reply latency (0: no reply yet), Pending the
	// requests waiting for a reply, SendQueue the frames waiting to be sent.
	Dialed    string `json:"dialed,omitempty"`
	LatencyUS int64  `json:"latency_us"`
	Pending   int    `json:"pending"`
	SendQueue int    `json:"send_queue"`
	// LastSeen is when it was last in the route table. An unreachable
	// node keeps the backends and groups it had then.
	LastSeen time.Time `json:"last_seen"`
}

// Nodes lists the nodes of the route table and those dropped from it
// within ForgetAfter, by address. It does no network work.
func (p *Page) Nodes() *NodesReply {
	now := p.cfg.Now()
	self := p.cfg.Self()
	t := p.cfg.Table()
	var conns map[string]client.ConnStats
	if n := p.cfg.Peers(); n != nil {
		conns = n.ConnStats()
	}
	byAddr := map[string]*NodeState{}
	get := func(a string) *NodeState {
		ns := byAddr[a]
		if ns == nil {
			ns = &NodeState{Address: a, State: StateIndirect, Groups: []uint32{}}
			byAddr[a] = ns
		}
		return ns
	}
	if t != nil {
		for _, b := range t.Backends() {
			ns := get(b.Addr)
			ns.InTable = true
			ns.Backends++
			if !slices.Contains(ns.Groups, b.Group) {
				ns.Groups = append(ns.Groups, b.Group)
			}
		}
	}
	if self != "" {
		get(self).InTable = true
	}
	for a, cs := range conns {
		ns := get(a)
		ns.InTable = true // a connection's node is in the table, backends or not
		ns.State, ns.Dialed = StateConnected, cs.Addr
		ns.LatencyUS, ns.Pending, ns.SendQueue = cs.Latency.Microseconds(), cs.Pending, cs.SendQueue
	}
	p.mu.Lock()
	for a, ns := range byAddr {
		slices.Sort(ns.Groups)
		p.seen[a] = seenNode{at: now, backends: ns.Backends, groups: ns.Groups}
		ns.LastSeen = now
	}
	for a, sn := range p.seen {
		if _, ok := byAddr[a]; ok {
			continue
		}
		if now.Sub(sn.at) > p.cfg.ForgetAfter {
			delete(p.seen, a)
			continue
		}
		ns := get(a)
		ns.State, ns.LastSeen = StateUnreachable, sn.at
		ns.Backends, ns.Groups = sn.backends, slices.Clone(sn.groups)
	}
	p.forgetOldestLocked()
	p.mu.Unlock()
	if ns := byAddr[self]; ns != nil {
		ns.State = StateSelf
	}
	out := &NodesReply{Self: self, Nodes: make([]NodeState, 0, len(byAddr))}
	for _, ns := range byAddr {
		out.Nodes = append(out.Nodes, *ns)
	}
	slices.SortFunc(out.Nodes, func(a, b NodeState) int { return strings.Compare(a.Address, b.Address) })
	return out
}

// forgetOldestLocked keeps at most MaxNodes remembered nodes.
func (p *Page) forgetOldestLocked() {
	for len(p.seen) > MaxNodes {
		var oldest string
		var at time.Time
		for a, sn := range p.seen {
			if oldest == "" || sn.at.Before(at) {
				oldest, at = a, sn.at
			}
		}
		delete(p.seen, oldest)
	}
}

// ClusterReply is /status/cluster.
type ClusterReply struct {
	Self     string    `json:"self"`
	Gathered time.Time `json:"gathered"`
	TookMS   float64   `json:"took_ms"`
	// Nodes are every node of /status/nodes, by address; Skipped counts
	// those left out beyond MaxNodes.
	Nodes   []NodeStats `json:"nodes"`
	Skipped int         `json:"skipped,omitempty"`
}

// NodeStats are one node's statistics, summed up.
type NodeStats struct {
	Address   string `json:"address"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`

	Version string  `json:"version,omitempty"`
	UptimeS float64 `json:"uptime_s"`
	// Requests and Errors count every command since the node started;
	// RequestsPerS, P50US and P99US are over the interval since the
	// previous gather (since the start at the first one). P50US and P99US
	// are bucket upper bounds, 0 without requests.
	Requests     uint64  `json:"requests"`
	Errors       uint64  `json:"errors"`
	RequestsPerS float64 `json:"requests_per_s"`
	ErrorsPerS   float64 `json:"errors_per_s"`
	P50US        int64   `json:"p50_us"`
	P99US        int64   `json:"p99_us"`
	// Objects and Bytes add up the node's backends; DiskFree and DiskTotal
	// are of the backend file system with the least free space (0: none
	// known).
	Objects   uint64 `json:"objects"`
	Bytes     uint64 `json:"bytes"`
	DiskFree  uint64 `json:"disk_free_bytes"`
	DiskTotal uint64 `json:"disk_total_bytes"`
	// Load is the 1-minute load average (nil where unknown); RSS the
	// process's resident memory.
	Load     *float64         `json:"load,omitempty"`
	RSS      uint64           `json:"rss_bytes"`
	Backends []BackendSummary `json:"backends"`
	Recovery []JobSummary     `json:"recovery"`
}

// BackendSummary is one backend of a node.
type BackendSummary struct {
	Backend  int32  `json:"backend"`
	Group    uint32 `json:"group"`
	State    string `json:"state"`
	ReadOnly bool   `json:"read_only"`
	Type     string `json:"type,omitempty"`
	Objects  uint64 `json:"objects"`
	Bytes    uint64 `json:"bytes"`
	Defrag   string `json:"defrag,omitempty"`
}

// JobSummary is one recovery job of a node; Percent is its progress (nil
// when its total is unknown).
type JobSummary struct {
	ID      uint64   `json:"id"`
	Kind    string   `json:"kind"`
	Backend int32    `json:"backend"`
	Group   uint32   `json:"group"`
	State   string   `json:"state"`
	Scanned uint64   `json:"scanned"`
	Total   uint64   `json:"total"`
	Moved   uint64   `json:"moved"`
	Bytes   uint64   `json:"bytes"`
	Errors  uint64   `json:"errors"`
	Rate    float64  `json:"rate"`
	ETA     float64  `json:"eta"`
	Percent *float64 `json:"percent,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Cluster gathers the statistics of every node of Nodes (itself from
// Local, the others over the network, bounded by Timeout), or returns the
// gather made within CacheFor. Concurrent callers share one gather.
func (p *Page) Cluster(ctx context.Context) *ClusterReply {
	p.gatherMu.Lock()
	defer p.gatherMu.Unlock()
	p.mu.Lock()
	c := p.cluster
	p.mu.Unlock()
	if c != nil && p.cfg.Now().Sub(c.Gathered) < p.cfg.CacheFor {
		return c
	}
	c = p.gather(ctx)
	p.mu.Lock()
	p.cluster = c
	p.mu.Unlock()
	return c
}

func (p *Page) gather(ctx context.Context) *ClusterReply {
	// The gather outlives a client that goes away: its result serves the
	// next requests. It is bounded by Timeout all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Timeout)
	defer cancel()
	start := p.cfg.Now()
	nodes := p.Nodes()
	out := &ClusterReply{Self: nodes.Self, Nodes: make([]NodeStats, len(nodes.Nodes))}
	if len(nodes.Nodes) > MaxNodes {
		out.Skipped = len(nodes.Nodes) - MaxNodes
		out.Nodes = out.Nodes[:MaxNodes]
	}
	snaps := make([]*stats.Snapshot, len(out.Nodes))
	errs := make([]error, len(out.Nodes))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(gatherParallel, len(out.Nodes)) {
		wg.Go(func() {
			for i := range next {
				addr := nodes.Nodes[i].Address
				if addr == nodes.Self {
					snaps[i] = p.cfg.Local(gatherCategories)
					continue
				}
				snaps[i], errs[i] = p.cfg.Fetch(ctx, addr, gatherCategories)
				if errs[i] == nil && snaps[i] == nil {
					errs[i] = errors.New("no statistics")
				}
			}
		})
	}
	for i := range out.Nodes {
		next <- i
	}
	close(next)
	wg.Wait()

	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.prev
	p.prev = make(map[string]sample, len(out.Nodes))
	for i := range out.Nodes {
		addr := nodes.Nodes[i].Address
		if errs[i] != nil {
			out.Nodes[i] = NodeStats{Address: addr, Error: oneLine(errs[i].Error()), Backends: []BackendSummary{},
				Recovery: []JobSummary{}}
			continue
		}
		var s sample
		out.Nodes[i], s = summarize(addr, snaps[i], prev)
		p.prev[addr] = s
	}
	out.Gathered = now
	out.TookMS = float64(now.Sub(start).Microseconds()) / 1000
	return out
}

// fetch asks the node at addr for its statistics through the node's peers.
func (p *Page) fetch(ctx context.Context, addr string, categories uint64) (*stats.Snapshot, error) {
	n := p.cfg.Peers()
	if n == nil {
		return nil, errors.New("not connected to the cluster")
	}
	s := client.NewSession(n)
	if d, ok := ctx.Deadline(); ok {
		s.SetTimeout(time.Until(d))
	}
	rs, err := s.MonitorStat(ctx, addr, categories)
	if err != nil {
		return nil, err
	}
	return rs[0].Stats, nil
}

// summarize sums up a node's snapshot, with rates since its previous
// sample, and returns the sample to keep for the next gather.
func summarize(addr string, snap *stats.Snapshot, prev map[string]sample) (NodeStats, sample) {
	ns := NodeStats{Address: addr, Reachable: true, Backends: []BackendSummary{}, Recovery: []JobSummary{}}
	cur := sample{at: snap.Timestamp.Time()}
	for _, cs := range snap.Commands {
		for _, f := range []*stats.CommandFigures{cs.Storage, cs.Proxy} {
			if f == nil {
				continue
			}
			cur.count += f.Count
			cur.errors += f.Errors
			for i, n := range f.Buckets {
				cur.buckets[i] += n
			}
		}
	}
	ns.Requests, ns.Errors = cur.count, cur.errors
	if st := snap.Stats; st != nil {
		ns.Version, ns.UptimeS = st.Version, st.UptimeS
	}
	window, secs := cur, ns.UptimeS
	if p, ok := prev[addr]; ok && cur.at.After(p.at) && cur.count >= p.count {
		window.count -= p.count
		window.errors -= min(p.errors, cur.errors)
		for i := range window.buckets {
			window.buckets[i] -= min(p.buckets[i], cur.buckets[i])
		}
		secs = cur.at.Sub(p.at).Seconds()
	}
	if secs > 0 {
		ns.RequestsPerS = float64(window.count) / secs
		ns.ErrorsPerS = float64(window.errors) / secs
	}
	if window.count > 0 {
		f := stats.CommandFigures{Buckets: window.buckets}
		ns.P50US, ns.P99US = f.Quantile(0.5).Microseconds(), f.Quantile(0.99).Microseconds()
	}

	minFree := 2.0
	for _, b := range snap.Backends {
		ns.Objects += b.Objects
		ns.Bytes += b.Bytes
		bs := BackendSummary{Backend: b.BackendID, Group: b.Group, State: b.State, ReadOnly: b.ReadOnly, Type: b.Type,
			Objects: b.Objects, Bytes: b.Bytes}
		if b.Defrag != nil {
			bs.Defrag = b.Defrag.State
		}
		ns.Backends = append(ns.Backends, bs)
		if d := b.Disk; d != nil && d.TotalBytes > 0 {
			if f := float64(d.FreeBytes) / float64(d.TotalBytes); f < minFree {
				minFree, ns.DiskFree, ns.DiskTotal = f, d.FreeBytes, d.TotalBytes
			}
		}
	}
	slices.SortFunc(ns.Backends, func(a, b BackendSummary) int { return cmp.Compare(a.Backend, b.Backend) })
	if pr := snap.Procfs; pr != nil {
		if len(pr.LoadAvg) > 0 {
			l := pr.LoadAvg[0]
			ns.Load = &l
		}
		if pr.RSSBytes != nil {
			ns.RSS = *pr.RSSBytes
		} else {
			ns.RSS = pr.SysBytes
		}
	}
	if r := snap.Recovery; r != nil {
		for _, j := range r.Jobs[:min(len(r.Jobs), maxJobs)] {
			js := JobSummary{ID: j.ID, Kind: string(j.Spec.Kind), Backend: j.Spec.Backend, Group: j.Group,
				State: string(j.State), Scanned: j.Scanned, Total: j.Total, Moved: j.Moved, Bytes: j.Bytes,
				Errors: j.Errors, Rate: j.Rate, ETA: j.ETA, Error: j.Err}
			if j.Total > 0 {
				pct := min(100, 100*float64(j.Scanned)/float64(j.Total))
				js.Percent = &pct
			} else if j.State == recovery.Done {
				pct := 100.0
				js.Percent = &pct
			}
			ns.Recovery = append(ns.Recovery, js)
		}
	}
	return ns, cur
}

// oneLine keeps the first line of an error message.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
