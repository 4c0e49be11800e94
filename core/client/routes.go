package client

import (
	"bytes"
	"context"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// routing is an immutable view of the cluster: the route table of every
// node the Node is connected to (plus itself, for a Node inside a server)
// and the connection that reaches each node. Sessions read it without
// locks; every change builds a new one.
type routing struct {
	table *route.Table
	conns map[string]*conn // node identity -> connection
	// descs names the description each node of the table was built from
	// (its first backend; descriptions are never modified, updates replace
	// them), so the next rebuild finds the unchanged nodes by one lookup.
	descs map[string]*proto.BackendInfo
	// leftOut: a node was left out of the table by a conflict of ring
	// points; every rebuild then starts from scratch, since any change
	// may let it in.
	leftOut bool
}

var emptyRouting = &routing{table: mustTable(), conns: map[string]*conn{}, descs: map[string]*proto.BackendInfo{}}

func descOf(bs []proto.BackendInfo) *proto.BackendInfo {
	if len(bs) == 0 {
		return nil
	}
	return &bs[0]
}

func mustTable() *route.Table {
	t, err := route.New(nil)
	if err != nil {
		panic(err)
	}
	return t
}

// Identity is the address that names a node in route tables: the first
// address it advertises, with an unspecified host ("0.0.0.0:1025",
// ":1025") replaced by the host we reached it at.
func Identity(info *proto.NodeInfo, reachedAt string) string { return identity(info, reachedAt) }

func identity(info *proto.NodeInfo, reachedAt string) string {
	if len(info.Addresses) == 0 {
		return reachedAt
	}
	return fixHost(info.Addresses[0], reachedAt)
}

// fixHost replaces an unspecified host in addr by the host of seenFrom.
func fixHost(addr, seenFrom string) string {
	if addr != "" && addr[0] != ':' && addr[0] != '[' && addr[0] != '0' {
		return addr // a named or non-zero host: the common case, no parsing
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return addr
	}
	sh, _, err := net.SplitHostPort(seenFrom)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(sh, port)
}

func toRoute(addr string, bs []proto.BackendInfo) []route.Backend {
	out := make([]route.Backend, 0, len(bs))
	for _, b := range bs {
		if len(b.Points) == 0 {
			continue // a node that announces no points cannot own keys
		}
		out = append(out, route.Backend{Addr: addr, Group: b.Group, ID: b.ID, Points: b.Points, ReadOnly: b.ReadOnly})
	}
	return out
}

// Table returns the current route table.
func (n *Node) Table() *route.Table { return n.routes.Load().table }

// Self returns the identity of the node this Node belongs to (a server's
// own address), or "" for a plain client.
func (n *Node) Self() string {
	if n.cfg.Join == nil {
		return ""
	}
	// The addresses a node listens on do not change while it runs.
	n.selfOnce.Do(func() {
		info := n.cfg.Join()
		n.self = identity(&info, "")
	})
	return n.self
}

// Rebuild recomputes the route table, for a server whose own description
// (Config.Join) changed.
func (n *Node) Rebuild() { n.rebuild() }

// rebuild recomputes the routing from the live connections. A node whose
// backends conflict with those already placed (same group and point) is
// left out and logged, never a crash.
//
// Rebuilds coalesce: when the table reflects every change made before a
// call (a rebuild started after the call did), the call returns at once.
// While a cluster forms, hundreds of connections come up at once and each
// asks for a rebuild; one rebuild serves all that queued behind the
// running one.
func (n *Node) rebuild() {
	ticket := n.rebuildReq.Add(1)
	n.rebuildMu.Lock()
	defer n.rebuildMu.Unlock()
	if n.rebuildDone >= ticket {
		return
	}
	n.rebuildAll()
}

// rebuildAll recomputes the whole routing; the caller holds rebuildMu.
func (n *Node) rebuildAll() {
	n.rebuildDone = n.rebuildReq.Load()
	began := time.Now()
	n.mu.Lock()
	// Taken before the state is read: a change recorded after this is
	// either seen below or applied again by the next rebuildChanged.
	n.dirty = nil
	remotes := slices.Clone(n.remotes)
	closed := n.closed
	n.mu.Unlock()

	prev := n.routes.Load()
	views := make([]nodeView, 0, len(prev.descs)+1)
	if n.cfg.Join != nil && !closed {
		info := n.cfg.Join()
		views = append(views, nodeView{addr: identity(&info, ""), bs: info.Backends})
	}
	seen := make(map[string]bool, len(prev.descs)+1)
	for _, v := range views {
		seen[v.addr] = true
	}
	for _, r := range remotes {
		c := r.live()
		if c == nil {
			continue
		}
		addr := c.identity()
		if seen[addr] {
			continue // two dial addresses of one node, or ourselves
		}
		seen[addr] = true
		views = append(views, nodeView{addr: addr, c: c, rank: 1, bs: c.backends()})
	}
	n.mu.RLock()
	for addr, info := range n.indirect {
		if !seen[addr] {
			seen[addr] = true
			views = append(views, nodeView{addr: addr, rank: 2, bs: info.Backends})
		}
	}
	if len(n.indirectFrom) > 0 {
		direct := len(views)
		// Only the lists of nodes we still reach count; sources in a fixed
		// order, so the same node described differently by two sources
		// (one has not seen its update yet) resolves the same way each time.
		srcs := make([]string, 0, len(n.indirectFrom))
		for src := range n.indirectFrom {
			srcs = append(srcs, src)
		}
		slices.Sort(srcs)
		// A set, not a scan of views per source: a seed has a source per
		// node, and the scan made its rebuilds O(nodes^2).
		live := make(map[string]bool, direct)
		for _, v := range views[:direct] {
			if v.c != nil {
				live[v.addr] = true
			}
		}
		for _, src := range srcs {
			if !live[src] {
				continue
			}
			for addr, info := range n.indirectFrom[src] {
				if !seen[addr] {
					seen[addr] = true
					views = append(views, nodeView{addr: addr, rank: 2, bs: info.Backends})
				}
			}
		}
	}
	n.mu.RUnlock()
	// The connections rarely change between two rebuilds: keep the map.
	conns, same := prev.conns, true
	direct := 0
	for _, v := range views {
		if v.c != nil {
			direct++
			same = same && prev.conns[v.addr] == v.c
		}
	}
	connsChanged := !same || direct != len(prev.conns)
	if connsChanged {
		conns = make(map[string]*conn, direct)
		for _, v := range views {
			if v.c != nil {
				conns[v.addr] = v.c
			}
		}
	}
	next := n.nextRouting(prev, views, seen)
	next.conns = conns
	n.publish(prev, next, connsChanged, began)
}

// publish makes next the routing; changed says whether anything besides
// the table (which is compared here) changed.
func (n *Node) publish(prev, next *routing, changed bool, began time.Time) {
	if next.table != prev.table {
		next.table = next.table.WithVersion(prev.table.Version() + 1)
		changed = true
	}
	n.routes.Store(next)
	n.lastRebuild.Store(int64(time.Since(began)))
	n.lastRebuildAt.Store(time.Now().UnixNano())
	if changed && n.cfg.OnChange != nil {
		n.cfg.OnChange()
	}
}

// rebuildChanged applies what pushes and pulls changed since the last
// rebuild: the descriptions of the nodes in the dirty set, and nothing
// else. While a thousand-node cluster forms, every node learns a few
// joiners per push; recomputing its whole table for each (every member of
// every source looked up again) took half the CPU of the cluster. A
// rebuild of everything is still done when the dirty set is a large part
// of the table, or when the table leaves a node out (a conflict), since
// any change may let it in.
func (n *Node) rebuildChanged() {
	n.rebuildMu.Lock()
	defer n.rebuildMu.Unlock()
	began := time.Now()
	prev := n.routes.Load()
	self := n.Self() // before mu: the first call asks Config.Join
	n.mu.Lock()
	dirty := n.dirty
	n.dirty = nil
	if len(dirty) == 0 {
		n.mu.Unlock()
		return
	}
	if prev.leftOut || prev.table.Len() == 0 || len(dirty) > max(64, len(prev.descs)/4) {
		n.mu.Unlock()
		n.rebuildAll()
		return
	}
	diff := newTableDiff(prev)
	for addr := range dirty {
		if addr == self || prev.conns[addr] != nil {
			continue // a full rebuild follows any change of these
		}
		if bs, ok := n.describedLocked(addr, prev.conns); ok {
			diff.put(nodeView{addr: addr, rank: 2, bs: bs})
		} else {
			diff.drop(addr)
		}
	}
	n.mu.Unlock()
	if len(diff.changes) == 0 {
		if diff.copied {
			n.routes.Store(&routing{table: prev.table, conns: prev.conns, descs: diff.descs})
		}
		return
	}
	t, err := diff.table()
	if err != nil {
		n.rebuildAll() // a conflict: the full build decides who stays out
		return
	}
	n.publish(prev, &routing{table: t, conns: prev.conns, descs: diff.descs}, false, began)
}

// connected applies a new connection: the node it reaches becomes a
// direct one. A node that connects on demand opens connections one by one
// as it needs them (the owners of keys and ranges it works on); a whole
// rebuild for each cost a forming thousand-node cluster a third of its
// CPU. Anything unusual (a second connection to the node, a conflict, a
// table that leaves a node out) takes the whole rebuild.
func (n *Node) connected(c *conn) {
	n.rebuildMu.Lock()
	defer n.rebuildMu.Unlock()
	began := time.Now()
	prev := n.routes.Load()
	addr := c.identity()
	// A connection that failed already was seen by disconnected before
	// it could be published (that runs under rebuildMu too): published
	// now, it would stay in the routing.
	if !c.alive() || prev.leftOut || prev.conns[addr] != nil || addr == n.Self() || n.isSelfAlias(addr) || n.isClosed() {
		n.rebuildAll()
		return
	}
	diff := newTableDiff(prev)
	diff.put(nodeView{addr: addr, c: c, rank: 1, bs: c.backends()})
	t, err := diff.table()
	if err != nil {
		n.rebuildAll() // a conflict: the full build decides who stays out
		return
	}
	conns := maps.Clone(prev.conns)
	conns[addr] = c
	n.publish(prev, &routing{table: t, conns: conns, descs: diff.descs}, true, began)
	if n.cfg.ConnectOnDemand && n.isSource(addr) {
		// A connection to a node we learnt from before (redialed): what it
		// pushed while we were apart is lost, so ask for its list now.
		go n.pullFrom(c)
	}
}

func (n *Node) isSource(addr string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	_, ok := n.indirectFrom[addr]
	return ok
}

// disconnected applies a lost connection: the node it reached is routed
// through whoever else describes it, or leaves the table.
func (n *Node) disconnected(c *conn) {
	n.rebuildMu.Lock()
	defer n.rebuildMu.Unlock()
	began := time.Now()
	prev := n.routes.Load()
	addr := c.identity()
	if prev.conns[addr] != c {
		return // never routed through (a second connection to the node)
	}
	n.mu.RLock()
	remotes := slices.Clone(n.remotes)
	n.mu.RUnlock()
	for _, r := range remotes {
		if o := r.live(); o != nil && o != c && o.identity() == addr {
			n.rebuildAll() // another connection takes over: the rebuild picks it
			return
		}
	}
	if prev.leftOut {
		n.rebuildAll()
		return
	}
	conns := maps.Clone(prev.conns)
	delete(conns, addr)
	diff := newTableDiff(prev)
	n.mu.RLock()
	bs, ok := n.describedLocked(addr, conns)
	n.mu.RUnlock()
	if ok {
		diff.put(nodeView{addr: addr, rank: 2, bs: bs})
	} else {
		diff.drop(addr)
	}
	t, err := diff.table()
	if err != nil {
		n.rebuildAll() // a conflict: the full build decides who stays out
		return
	}
	n.publish(prev, &routing{table: t, conns: conns, descs: diff.descs}, true, began)
}

// describedLocked returns the backends of a node we do not reach, as the
// full rebuild would pick them: from the indirect list, else from the
// first (in address order) source we reach that lists it. The caller
// holds mu.
func (n *Node) describedLocked(addr string, conns map[string]*conn) ([]proto.BackendInfo, bool) {
	if info, ok := n.indirect[addr]; ok {
		return info.Backends, true
	}
	var best string
	var bs []proto.BackendInfo
	for src := range n.describers[addr] {
		info := n.indirectFrom[src][addr]
		if conns[src] != nil && (bs == nil || src < best) {
			best, bs = src, info.Backends
			if bs == nil {
				bs = []proto.BackendInfo{} // described, with no backends
			}
		}
	}
	return bs, bs != nil
}

// describedByLocked records that src lists addr (or no longer does): the
// index describedLocked searches, since every node we pull from becomes a
// source and a scan of all of them per changed node cost more than the
// change. The caller holds mu.
func (n *Node) describedByLocked(addr, src string, listed bool) {
	if !listed {
		if srcs := n.describers[addr]; srcs != nil {
			delete(srcs, src)
			if len(srcs) == 0 {
				delete(n.describers, addr)
			}
		}
		return
	}
	if n.describers == nil {
		n.describers = map[string]map[string]struct{}{}
	}
	srcs := n.describers[addr]
	if srcs == nil {
		srcs = map[string]struct{}{}
		n.describers[addr] = srcs
	}
	srcs[src] = struct{}{}
}

// markDirtyLocked records that the description of addr changed (the
// caller holds mu).
func (n *Node) markDirtyLocked(addr string) {
	if n.dirty == nil {
		n.dirty = map[string]struct{}{}
	}
	n.dirty[addr] = struct{}{}
}

// rebuildSoon asks for a rebuild a little later, for changes learnt from
// pushes and pulls: while a cluster forms, pushes arrive several times a
// second from every node we reach, and a table rebuilt for each would cost
// a thousand-node cluster more CPU than everything else. Rebuilds are
// spaced by twenty times the duration of the last one (at most 500 ms), so
// a node spends at most about 5% of its time on its table; a change after
// a quiet spell (one node joining a formed cluster) is applied after 5 ms.
func (n *Node) rebuildSoon() {
	if !n.rebuildPending.CompareAndSwap(false, true) {
		return // the scheduled rebuild will see this change too
	}
	gap := min(20*time.Duration(n.lastRebuild.Load()), 500*time.Millisecond)
	d := max(time.Until(time.Unix(0, n.lastRebuildAt.Load()).Add(gap)), 5*time.Millisecond)
	time.AfterFunc(d, func() {
		n.rebuildPending.Store(false)
		n.rebuildChanged()
	})
}

// nodeView is one node as a rebuild sees it.
type nodeView struct {
	addr string
	c    *conn
	rank int // 0 ourselves, 1 reached directly, 2 known through another node
	bs   []proto.BackendInfo
}

// nextRouting returns the table for views and the descriptions it was
// built from (conns is left to the caller); the table is prev's when
// nothing changed. On a conflict of ring points, ourselves win, then nodes
// we reach, then the rest, in address order. seen holds the addresses of
// views.
//
// Most rebuilds change a few nodes of a large table (a push names the nodes
// that joined since the previous one): those are applied with one
// route.Table.Update, O(points), instead of sorting every point again,
// O(points log points), which at a thousand nodes made a node spend 5 ms
// per push on its table. Nodes whose description did not change are found
// in O(1) each, since the table shares their points. A large change, or a
// conflict, builds the table from scratch.
func (n *Node) nextRouting(prev *routing, views []nodeView, seen map[string]bool) *routing {
	old := prev.table
	if old.Len() > 0 && !prev.leftOut {
		diff := newTableDiff(prev)
		found := 0
		for _, v := range views {
			if diff.put(v) {
				found++
			}
		}
		if found < len(prev.descs) {
			for addr := range prev.descs {
				if !seen[addr] {
					diff.drop(addr)
				}
			}
		}
		if len(diff.changes) == 0 {
			return &routing{table: old, descs: diff.descs}
		}
		if t, err := old.Update(diff.changes); err == nil {
			return &routing{table: t, descs: diff.descs}
		}
		// A conflict: the full build below decides who stays out.
	}
	slices.SortFunc(views, func(a, b nodeView) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.addr, b.addr)
	})
	// The common case, no conflict, builds the table in one pass; the
	// node descriptions are never modified (updates replace them), so the
	// table shares their points.
	var all []route.Backend
	for _, v := range views {
		all = append(all, toRoute(v.addr, v.bs)...)
	}
	t, err := route.NewShared(all)
	if err != nil {
		// Add the nodes one by one, leaving out those that conflict.
		t = emptyRouting.table
		for _, v := range views {
			nt, err := t.WithBackends(v.addr, toRoute(v.addr, v.bs))
			if err != nil {
				n.log.Error("route conflict: node left out of the route table", zap.String("node", v.addr), zap.Error(err))
				continue
			}
			t = nt
		}
	}
	// Nodes left out by a conflict are not recorded: the next rebuild
	// tries them again (their rival may have left).
	next := &routing{descs: make(map[string]*proto.BackendInfo, len(views))}
	for _, v := range views {
		if sameBackends(t.NodeBackends(v.addr), v.bs) {
			next.descs[v.addr] = descOf(v.bs)
		} else {
			next.leftOut = true
		}
	}
	if t.Equal(old) {
		t = old
	}
	next.table = t
	return next
}

// tableDiff collects the changes some node views make to a routing's
// table, and the descriptions map that goes with them (prev's until a
// description changes, then a copy).
type tableDiff struct {
	prev    *routing
	changes map[string][]route.Backend
	descs   map[string]*proto.BackendInfo
	copied  bool
}

func newTableDiff(prev *routing) *tableDiff {
	return &tableDiff{prev: prev, changes: map[string][]route.Backend{}, descs: prev.descs}
}

func (d *tableDiff) own() {
	if !d.copied {
		d.descs, d.copied = maps.Clone(d.descs), true
	}
}

// put notes v's description, and reports whether the table already held
// the node.
func (d *tableDiff) put(v nodeView) (known bool) {
	desc := descOf(v.bs)
	pd, known := d.prev.descs[v.addr]
	if known && pd == desc {
		return true
	}
	same := sameBackends(d.prev.table.NodeBackends(v.addr), v.bs)
	if known && same {
		// Another description with the same backends (ours: Join makes a
		// new one each call): the table holds; keep the map rather than
		// copy it.
		return true
	}
	d.own()
	d.descs[v.addr] = desc
	if !same {
		d.changes[v.addr] = toRoute(v.addr, v.bs)
	}
	return known
}

// table returns prev's table with the changes applied (prev's own when
// there are none); an error is a conflict of ring points.
func (d *tableDiff) table() (*route.Table, error) {
	if len(d.changes) == 0 {
		return d.prev.table, nil
	}
	return d.prev.table.Update(d.changes)
}

// drop notes that the node at addr is gone.
func (d *tableDiff) drop(addr string) {
	if _, ok := d.prev.descs[addr]; !ok {
		return
	}
	d.own()
	d.changes[addr] = nil
	delete(d.descs, addr)
}

// sameBackends reports whether the table's backends of a node (tbs) are
// those of its description (bs).
func sameBackends(tbs []route.Backend, bs []proto.BackendInfo) bool {
	k := 0
	for _, b := range bs {
		if len(b.Points) == 0 {
			continue // never in a table
		}
		k++
		var tb *route.Backend
		for i := range tbs {
			if tbs[i].ID == b.ID {
				tb = &tbs[i]
				break
			}
		}
		if tb == nil || tb.Group != b.Group || tb.ReadOnly != b.ReadOnly || len(tb.Points) != len(b.Points) {
			return false
		}
		if unsafe.SliceData(tb.Points) != unsafe.SliceData(b.Points) && !sameSet(tb.Points, b.Points) {
			return false
		}
	}
	return k == len(tbs)
}

// sameSet compares sorted table points with a description's points, which
// may be in any order.
func sameSet(sorted, pts []id.ID) bool {
	if slices.Equal(sorted, pts) {
		return true
	}
	c := slices.Clone(pts)
	slices.SortFunc(c, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Equal(sorted, c)
}

// Members lists the nodes of the route table with the versions of their
// descriptions (the ROUTE_LIST reply of a server), and the descriptions
// themselves when withNodes is set. Nodes known only through others are
// not listed: each node vouches only for what it reaches.
func (n *Node) Members(withNodes bool) []proto.Member {
	rt := n.routes.Load()
	var out []proto.Member
	if n.cfg.Join != nil {
		info := n.cfg.Join()
		m := proto.Member{Addr: identity(&info, ""), Version: info.Version}
		if withNodes {
			m.Node = &info
		}
		out = append(out, m)
	}
	for addr, c := range rt.conns {
		m := proto.Member{Addr: addr, Version: c.version()}
		if withNodes {
			info := c.nodeInfo()
			m.Node = &info
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b proto.Member) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// connForKey returns the connection for a key in a group: the owner's when
// it is reachable; otherwise any live connection, whose node forwards the
// request to the owner (a client behind NAT reaches everything through one
// node). A dial it needs is bounded by ctx and deadline (zero: none).
func (n *Node) connForKey(ctx context.Context, deadline time.Time, key id.ID, g uint32) (*conn, error) {
	if n.isClosed() {
		return nil, status.Errorf(status.Canceled, "node closed")
	}
	rt := n.routes.Load()
	if n.cfg.Proxy {
		if c := rt.anyLive(); c != nil {
			return c, nil
		}
	} else if owner, ok := rt.table.Owner(key, g); ok {
		if c := rt.conns[owner.Addr]; c != nil && c.alive() {
			return c, nil
		}
	}
	// The slow paths may dial.
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if n.cfg.Proxy {
		return n.anyConn(ctx)
	}
	owner, ok := rt.table.Owner(key, g)
	if !ok && len(rt.conns) == 0 {
		// Not connected to anything: redial the remotes and look again.
		if _, err := n.anyConn(ctx); err != nil {
			return nil, err
		}
		rt = n.routes.Load()
		owner, ok = rt.table.Owner(key, g)
	}
	if !ok {
		return nil, status.Errorf(status.NoRoute, "no known node serves group %d", g)
	}
	if c := rt.conns[owner.Addr]; c != nil && c.alive() {
		return c, nil
	}
	// The owner is not reachable from here (yet): try to connect in the
	// background and meanwhile go through any node, which forwards. A
	// request never waits for a dial to an owner that may be unreachable.
	n.AddRemoteAsync(owner.Addr)
	return n.anyConn(ctx)
}

// anyLive returns some live connection of the table, or nil.
func (rt *routing) anyLive() *conn {
	for _, c := range rt.conns {
		if c.alive() {
			return c
		}
	}
	return nil
}

// anyConn returns some live connection, redialing the known remotes if
// none is up.
func (n *Node) anyConn(ctx context.Context) (*conn, error) {
	if c := n.routes.Load().anyLive(); c != nil {
		return c, nil
	}
	n.mu.RLock()
	remotes := slices.Clone(n.remotes)
	n.mu.RUnlock()
	var lastErr error = status.Errorf(status.NoRoute, "no node known")
	for _, r := range remotes {
		c, err := r.get(ctx, n, false)
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// Forward sends a request to the node named addr and returns its final
// reply payload; a reply with an error status is returned as that error.
// Servers use it to forward requests for keys they do not own.
func (n *Node) Forward(ctx context.Context, addr string, h proto.Header, parts ...[]byte) ([]byte, error) {
	rt := n.routes.Load()
	c := rt.conns[addr]
	if c == nil || !c.alive() {
		var err error
		if c, err = n.connTo(ctx, n.dialAddress(addr)); err != nil {
			return nil, err
		}
	}
	rep, err := c.roundTrip(ctx, h, parts...)
	if err != nil {
		return nil, err
	}
	return rep.payload, nil
}

// AddRemoteAsync connects to addr in the background unless it is known (or
// the node is a Proxy client, which talks only to its own remotes). A node
// identity is dialed at the address of the Node's route index when the
// node's addresses are known (LearnAddresses).
func (n *Node) AddRemoteAsync(addr string) {
	if n.cfg.Proxy || n.isClosed() || addr == "" || addr == n.Self() || n.known(addr) || n.isSelfAlias(addr) {
		return
	}
	if d := n.dialAddress(addr); d != addr {
		if n.known(d) || n.isSelfAlias(d) {
			return
		}
		addr = d
	}
	r := n.remote(addr)
	if r == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DialTimeout+n.cfg.WaitTimeout)
		defer cancel()
		if _, err := r.get(ctx, n, false); err != nil {
			n.log.Debug("connect to a learnt node failed", zap.String("node", addr), zap.Error(err))
		}
	}()
}

// known reports whether addr is a remote's dial address or a live node's
// identity.
func (n *Node) known(addr string) bool {
	if _, ok := n.routes.Load().conns[addr]; ok {
		return true
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.byAddr[addr] != nil
}

func (n *Node) isClosed() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.closed
}

// learn acts on a member list: connect to nodes not known yet, refresh the
// descriptions of known ones whose version moved on, and, for a list with
// descriptions, remember the nodes we do not reach so keys they own are
// routed through the node that told us.
func (n *Node) learn(c *conn, members []proto.Member, withNodes, partial bool) {
	if n.cfg.ConnectOnDemand {
		n.learnFrom(c, members, partial)
		return
	}
	from := c.addr
	self := n.Self()
	rt := n.routes.Load()
	n.mu.RLock()
	alias := n.selfAlias // copied on write
	n.mu.RUnlock()
	indirect := map[string]proto.NodeInfo{}
	multi := n.routeIdx.Load() > 0
	undescribed := false
	for _, m := range members {
		addr := fixHost(m.Addr, from)
		if addr == self || alias[addr] {
			continue
		}
		if c := rt.conns[addr]; c != nil {
			if m.Version > c.version() {
				go c.refresh(n)
			}
			continue
		}
		if m.Node != nil {
			indirect[addr] = *m.Node
			n.LearnAddresses(m.Node, from)
		} else if multi && !withNodes && !n.known(addr) && n.dialAddress(addr) == addr {
			// Dialed by its identity, it may be unreachable on our
			// network: get its addresses first.
			undescribed = true
			continue
		}
		n.AddRemoteAsync(addr)
	}
	if undescribed {
		go n.discover(c)
	}
	if withNodes {
		n.mu.Lock()
		n.indirect = indirect
		n.mu.Unlock()
		n.rebuild()
	}
}

// learnFrom is learn for ConnectOnDemand: the nodes c vouches for become
// routes through c, without connecting to them. A whole list (a pull)
// replaces what c vouched for; a partial one (a push of what changed) adds
// to it. A member listed without its description is asked for.
//
// Pushes are handled on their own goroutine, so one can be applied while a
// whole list asked for earlier is on its way: callers pass such a list as
// partial (c.pushSeq moved), or it would drop the members the push added
// until the next pull.
func (n *Node) learnFrom(c *conn, members []proto.Member, partial bool) {
	src := c.identity()
	self := n.Self()
	rt := n.routes.Load()
	changed, ask := false, false
	n.mu.Lock()
	old := n.indirectFrom[src]
	m := old
	if !partial || m == nil {
		m = make(map[string]*proto.NodeInfo, len(members))
	}
	for _, mem := range members {
		addr := fixHost(mem.Addr, c.addr)
		if addr == self || n.selfAlias[addr] {
			continue
		}
		if dc := rt.conns[addr]; dc != nil && mem.Version > dc.version() {
			go dc.refresh(n)
		}
		// Nodes we also reach directly are kept too (rebuilds prefer the
		// connection): when it is lost, the node stays routed through c at
		// once. Dropped, it came back only with a change of c's list,
		// which in a formed cluster may never come, since pulls of an
		// unchanged list return nothing.
		if mem.Node != nil && len(mem.Node.Addresses) > 1 {
			n.learnAddressesLocked(mem.Node, c.addr)
		}
		if mem.Node == nil {
			if info, ok := m[addr]; ok && info.Version >= mem.Version {
				continue
			}
			ask = true
			if info, ok := old[addr]; ok && !partial {
				m[addr] = info // keep it until the description comes
			}
			continue
		}
		info, had := old[addr]
		if had && info.Version >= mem.Node.Version {
			// The same description (kept: the route table shares its
			// points, and finds it unchanged by identity), or a newer one
			// a push brought while this list was on its way.
			m[addr] = info
			continue
		}
		changed = true
		m[addr] = mem.Node
		n.markDirtyLocked(addr)
		if !had {
			n.describedByLocked(addr, src, true)
		}
	}
	if !partial {
		// A whole list: what it no longer names is gone (counting is not
		// enough, one may have left as another came).
		for addr := range old {
			if _, ok := m[addr]; !ok {
				changed = true
				n.markDirtyLocked(addr)
				n.describedByLocked(addr, src, false)
			}
		}
	}
	if n.indirectFrom == nil {
		n.indirectFrom = map[string]map[string]*proto.NodeInfo{}
	}
	n.indirectFrom[src] = m
	n.mu.Unlock()
	if partial {
		c.pushSeq.Add(1)
	}
	if changed {
		n.rebuildSoon()
	}
	if ask && partial {
		// A push named a node without its description: fetch it. (A
		// whole list lacking one is left to the next pull, which will not
		// find it unchanged: pullFrom keeps its digest only when complete.)
		go n.pullFrom(c)
	}
}

// pushed queues a ROUTES_CHANGED push of c's node for its handler: one
// goroutine per connection handles them in order (a goroutine per push
// piles up thousands on the Node's locks while a cluster forms), and the
// reader never waits for a rebuild.
func (c *conn) pushed(payload []byte) {
	c.pushMu.Lock()
	c.pushes = append(c.pushes, payload)
	start := !c.pushBusy
	c.pushBusy = true
	c.pushMu.Unlock()
	if !start {
		return
	}
	go func() {
		for {
			c.pushMu.Lock()
			ps := c.pushes
			c.pushes = nil
			if len(ps) == 0 {
				c.pushBusy = false
				c.pushMu.Unlock()
				return
			}
			c.pushMu.Unlock()
			for _, p := range ps {
				c.node.onRoutesChanged(c, p)
			}
		}
	}()
}

// onRoutesChanged handles a ROUTES_CHANGED push from a node.
func (n *Node) onRoutesChanged(c *conn, payload []byte) {
	rc, err := proto.DecodeRoutesChanged(payload)
	if err != nil {
		n.log.Warn("bad routes push", zap.String("node", c.addr), zap.Error(err))
		return
	}
	if rc.Node.Version > c.version() {
		c.setInfo(rc.Node)
		n.rebuild()
	}
	n.learn(c, rc.Members, false, true)
}

// maintain runs until the node closes: it pings every connected node and
// drops one that misses SuspectAfter pings in a row (a single slow reply
// does not evict it), redials lost remotes, and now and then pulls a
// member list so a missed push heals.
func (n *Node) maintain() {
	ping := time.NewTicker(n.cfg.PingInterval)
	defer ping.Stop()
	refresh := time.NewTicker(n.cfg.RefreshInterval)
	defer refresh.Stop()
	var lastTick time.Time
	for {
		select {
		case <-n.stop:
			return
		case now := <-ping.C:
			// How late this tick runs: the ticker drops ticks a slow
			// receiver misses, so a gap over the interval is lateness.
			if !lastTick.IsZero() {
				n.tickLag.Store(int64(max(now.Sub(lastTick)-n.cfg.PingInterval, time.Since(now))))
			}
			lastTick = now
			n.mu.RLock()
			remotes := slices.Clone(n.remotes)
			n.mu.RUnlock()
			n.pingRound(remotes)
		case <-refresh.C:
			go n.pull()
		}
	}
}

// pingRound is one PingInterval of failure detection: lost remotes are
// redialed; suspects (a ping missed) are pinged again; of the others, those
// not heard from since the last round are pinged, at most
// ProbesPerInterval of them, taking turns (a round starts where the last
// one stopped). Load on a node with many peers stays bounded, and a node
// that talks to us (pushes, replies) is never pinged.
func (n *Node) pingRound(remotes []*remote) {
	if len(remotes) == 0 {
		return
	}
	budget := n.cfg.ProbesPerInterval
	start := n.probeNext % len(remotes)
	next := start
	for k := range len(remotes) {
		i := (start + k) % len(remotes)
		r := remotes[i]
		if n.isSelfAlias(r.addr) || r.dialing.Load() {
			continue // ourselves, or a dial already under way
		}
		c := r.live()
		if c == nil {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DialTimeout+n.cfg.WaitTimeout)
				defer cancel()
				_, _ = r.get(ctx, n, false)
			}()
			continue
		}
		heard := c.frames.Load()
		quiet := heard == c.heardAt
		c.heardAt = heard
		switch {
		case !quiet:
			// It spoke since the last round (even a reply to a ping that
			// had timed out): alive, and no longer suspected. A busy node
			// answers late rather than not at all, and dropping it (a seed
			// that vouches for a thousand nodes) costs far more than
			// waiting.
			c.misses.Store(0)
		case c.misses.Load() > 0:
			go n.probe(c) // a suspect: every round until it answers or is dropped
		case budget > 0:
			budget--
			next = i + 1
			go n.probe(c)
		}
	}
	n.probeNext = next
}

// probe pings one connection and fails it after too many misses.
func (n *Node) probe(c *conn) {
	if !c.probing.CompareAndSwap(false, true) {
		return // the previous probe is still waiting
	}
	defer c.probing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.PingTimeout)
	defer cancel()
	before, start := c.frames.Load(), time.Now()
	_, err := c.roundTrip(ctx, proto.NewHeader(proto.CmdBackendStatus, 0, id.ID{}, 0))
	if err == nil || c.alive() && c.frames.Load() != before {
		// An answer, or other frames from the node while we waited: it is
		// alive, only slow to answer this ping (a busy seed).
		c.misses.Store(0)
		return
	}
	// Local health (as in Lifeguard, the SWIM refinement): when this node
	// itself runs late (the probe woke well after its timeout, or the ping
	// ticker did), a missing reply says more about us than about the peer,
	// so it is not held against the peer. A thousand nodes on two CPUs
	// evicted each other this way.
	if late := time.Since(start) - n.cfg.PingTimeout; late > n.cfg.PingTimeout/2 || n.tickLag.Load() > int64(n.cfg.PingInterval/2) {
		n.log.Debug("ping missed while this node runs late: not counted", zap.String("node", c.addr),
			zap.Duration("late", late), zap.Duration("tick_lag", time.Duration(n.tickLag.Load())))
		return
	}
	if via, ok := n.indirectProbe(c); ok {
		n.log.Debug("ping missed, but the node answered through another", zap.String("node", c.addr), zap.String("via", via))
		c.misses.Store(0)
		return
	}
	if c.misses.Add(1) >= int32(n.cfg.SuspectAfter) {
		n.log.Warn("node not answering, dropping it from the route table", zap.String("node", c.addr),
			zap.Int32("missed_pings", c.misses.Load()), zap.Error(err))
		c.fail(status.Errorf(status.Timeout, "node %s missed %d pings", c.addr, c.misses.Load()))
	}
}

// indirectProbe asks up to Config.IndirectProbes other live, unsuspected
// nodes to ping c's node for us (a BACKEND_STATUS relayed with
// proto.FlagRelay, SWIM's ping-req) and reports the first that got an
// answer.
func (n *Node) indirectProbe(c *conn) (via string, ok bool) {
	k := n.cfg.IndirectProbes
	if k <= 0 {
		return "", false
	}
	helpers := make([]*conn, 0, k)
	for _, o := range n.routes.Load().conns { // map order: a random pick
		if o != c && o.alive() && o.misses.Load() == 0 {
			if helpers = append(helpers, o); len(helpers) == k {
				break
			}
		}
	}
	if len(helpers) == 0 {
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.PingTimeout)
	defer cancel()
	target := c.identity()
	answered := make(chan string, len(helpers))
	for _, o := range helpers {
		go func() {
			h, p := hop{c: o, target: target, relay: true}.wrap(proto.NewHeader(proto.CmdBackendStatus, 0, id.ID{}, 0), nil)
			if _, err := o.roundTrip(ctx, h, p); err != nil {
				answered <- ""
				return
			}
			answered <- o.addr
		}()
	}
	for range helpers {
		if a := <-answered; a != "" {
			return a, true
		}
	}
	return "", false
}

// pull asks one random live node for its member list, with descriptions
// when some known nodes are not reached directly.
func (n *Node) pull() {
	rt := n.routes.Load()
	if len(rt.conns) == 0 {
		return
	}
	cs := make([]*conn, 0, len(rt.conns))
	for _, c := range rt.conns {
		cs = append(cs, c)
	}
	c := cs[rand.IntN(len(cs))]
	if n.cfg.ConnectOnDemand {
		if n.pulls.Add(1)%2 == 0 {
			c = n.richestSource(rt)
		}
		n.pullFrom(c)
		return
	}
	n.mu.RLock()
	withNodes := len(n.indirect) > 0
	n.mu.RUnlock()
	n.askMembers(c, withNodes)
}

// richestSource returns the live connection whose node vouches for the
// most members: every other pull of a node that connects on demand goes
// there. A node vouches only for those it reaches, so in such a cluster
// one node (the seed everyone joined through) knows everyone, and a pull
// from a random connection reached it once in as many rounds as the node
// has connections: whatever it missed from the seed's pushes (a lost
// connection, redialed) took minutes to heal.
func (n *Node) richestSource(rt *routing) *conn {
	var best *conn
	most := -1
	n.mu.RLock()
	defer n.mu.RUnlock()
	for src, c := range rt.conns {
		if k := len(n.indirectFrom[src]); k > most {
			best, most = c, k
		}
	}
	return best
}

// pullFrom refreshes what c vouches for (ConnectOnDemand) in up to two
// small round trips instead of one large one: the member list without
// descriptions, which c leaves empty if its digest is the one we got last
// time (the common case once a cluster is formed); then the descriptions
// of only the members we do not hold at their listed version.
func (n *Node) pullFrom(c *conn) {
	if !c.asking.CompareAndSwap(false, true) {
		return // a pull from c is under way
	}
	defer c.asking.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WaitTimeout)
	defer cancel()
	h := proto.NewHeader(proto.CmdRouteList, 0, id.ID{}, 0)
	seq := c.pushSeq.Load()
	req := AppendRouteListRequest(nil, RouteListRequest{HasDigest: true, Digest: c.listDigest.Load()})
	rep, err := c.roundTrip(ctx, h, req)
	if err != nil {
		return
	}
	ms, _, err := proto.DecodeMembers(rep.payload)
	if err != nil || len(ms) == 0 {
		return // unchanged (or a bad list, logged by the next full ask)
	}
	digest := MemberDigest(ms)
	src, self := c.identity(), n.Self()
	var need []string
	var needIdx []int
	n.mu.RLock()
	held := n.indirectFrom[src]
	for i := range ms {
		m := &ms[i]
		addr := fixHost(m.Addr, c.addr)
		if addr == self || n.selfAlias[addr] {
			continue
		}
		if info, ok := held[addr]; ok && info.Version == m.Version {
			m.Node = info
			continue
		}
		need = append(need, m.Addr)
		needIdx = append(needIdx, i)
	}
	n.mu.RUnlock()
	if len(need) > 0 {
		req = AppendRouteListRequest(nil, RouteListRequest{WithNodes: true, Only: need})
		rep, err := c.roundTrip(ctx, h, req)
		if err != nil {
			return
		}
		got, _, err := proto.DecodeMembers(rep.payload)
		if err != nil {
			n.log.Warn("bad route list", zap.String("node", c.addr), zap.Error(err))
			return
		}
		byAddr := make(map[string]*proto.NodeInfo, len(got))
		for i := range got {
			byAddr[got[i].Addr] = got[i].Node
		}
		for _, i := range needIdx {
			if info := byAddr[ms[i].Addr]; info != nil {
				ms[i].Node, ms[i].Version = info, info.Version
			}
		}
	}
	// A member c dropped between the two requests stays undescribed:
	// learnFrom keeps what we held of it, and the next pull asks again.
	complete := true
	for _, i := range needIdx {
		complete = complete && ms[i].Node != nil
	}
	// Applied as partial, the list removed nothing: the next pull must
	// not find it unchanged.
	partial := c.pushSeq.Load() != seq
	n.learnFrom(c, ms, partial)
	if complete && !partial {
		c.listDigest.Store(digest)
	} else {
		c.listDigest.Store(0)
	}
}

// discover asks a freshly connected node for its member list with
// descriptions, so the route table is complete at once, even for nodes
// this side cannot reach.
func (n *Node) discover(c *conn) { n.askMembers(c, true) }

func (n *Node) askMembers(c *conn, withNodes bool) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WaitTimeout)
	defer cancel()
	var req []byte
	if withNodes {
		req = []byte{proto.RouteListWithNodes}
	}
	seq := c.pushSeq.Load()
	rep, err := c.roundTrip(ctx, proto.NewHeader(proto.CmdRouteList, 0, id.ID{}, 0), req)
	if err != nil {
		return
	}
	ms, _, err := proto.DecodeMembers(rep.payload)
	if err != nil {
		n.log.Warn("bad route list", zap.String("node", c.addr), zap.Error(err))
		return
	}
	partial := c.pushSeq.Load() != seq
	n.learn(c, ms, withNodes, partial)
	if withNodes && n.cfg.ConnectOnDemand && !partial {
		c.listDigest.Store(MemberDigest(ms))
	}
}

// WaitRoutes blocks until the route table satisfies ok or ctx ends.
func (n *Node) WaitRoutes(ctx context.Context, ok func(*route.Table) bool) error {
	for {
		if ok(n.Table()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return status.Errorf(status.Timeout, "route table did not converge: %v", n.Table())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
