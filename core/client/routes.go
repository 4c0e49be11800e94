package client

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

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
}

var emptyRouting = &routing{table: mustTable(), conns: map[string]*conn{}}

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
	n.rebuildDone = n.rebuildReq.Load()
	n.mu.RLock()
	remotes := slices.Clone(n.remotes)
	closed := n.closed
	n.mu.RUnlock()

	type nodeView struct {
		addr string
		c    *conn
		rank int // 0 ourselves, 1 reached directly, 2 known through another node
		bs   []proto.BackendInfo
	}
	var views []nodeView
	if n.cfg.Join != nil && !closed {
		info := n.cfg.Join()
		views = append(views, nodeView{addr: identity(&info, ""), bs: info.Backends})
	}
	seen := map[string]bool{}
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
		for _, src := range srcs {
			live := false
			for _, v := range views[:direct] {
				if v.addr == src && v.c != nil {
					live = true
					break
				}
			}
			if !live {
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
	// Ourselves first, then nodes we reach, then the rest: the earlier
	// wins a conflict of ring points.
	slices.SortFunc(views, func(a, b nodeView) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.addr, b.addr)
	})
	conns := make(map[string]*conn, len(views))
	// The common case, no conflict, builds the table in one pass; the
	// node descriptions are never modified (updates replace them), so the
	// table shares their points.
	var all []route.Backend
	for _, v := range views {
		all = append(all, toRoute(v.addr, v.bs)...)
	}
	t, err := route.NewShared(all)
	if err == nil {
		for _, v := range views {
			if v.c != nil {
				conns[v.addr] = v.c
			}
		}
	} else {
		// Add the nodes one by one, leaving out those that conflict.
		t = emptyRouting.table
		for _, v := range views {
			nt, err := t.WithBackends(v.addr, toRoute(v.addr, v.bs))
			if err != nil {
				n.log.Error("route conflict: node left out of the route table", zap.String("node", v.addr), zap.Error(err))
				continue
			}
			t = nt
			if v.c != nil {
				conns[v.addr] = v.c
			}
		}
	}
	old := n.routes.Load()
	t = t.WithVersion(old.table.Version() + 1)
	changed := !t.Equal(old.table) || len(conns) != len(old.conns)
	n.routes.Store(&routing{table: t, conns: conns})
	if changed && n.cfg.OnChange != nil {
		n.cfg.OnChange()
	}
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
		if c, err = n.connTo(ctx, addr); err != nil {
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
// the node is a Proxy client, which talks only to its own remotes).
func (n *Node) AddRemoteAsync(addr string) {
	if n.cfg.Proxy || n.isClosed() || addr == "" || addr == n.Self() || n.known(addr) || n.isSelfAlias(addr) {
		return
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
		}
		n.AddRemoteAsync(addr)
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
func (n *Node) learnFrom(c *conn, members []proto.Member, partial bool) {
	src := c.identity()
	self := n.Self()
	rt := n.routes.Load()
	changed, ask := false, false
	n.mu.Lock()
	old := n.indirectFrom[src]
	m := old
	if !partial || m == nil {
		m = make(map[string]proto.NodeInfo, len(members))
	}
	for _, mem := range members {
		addr := fixHost(mem.Addr, c.addr)
		if addr == self || n.selfAlias[addr] {
			continue
		}
		if dc := rt.conns[addr]; dc != nil {
			if mem.Version > dc.version() {
				go dc.refresh(n)
			}
			continue
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
		if info, ok := old[addr]; !ok || info.Version != mem.Node.Version {
			changed = true
		}
		m[addr] = *mem.Node
	}
	if !partial && len(m) != len(old) {
		changed = true
	}
	if n.indirectFrom == nil {
		n.indirectFrom = map[string]map[string]proto.NodeInfo{}
	}
	n.indirectFrom[src] = m
	n.mu.Unlock()
	if changed {
		n.rebuild()
	}
	if ask && c.asking.CompareAndSwap(false, true) {
		go func() {
			defer c.asking.Store(false)
			n.askMembers(c, true)
		}()
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
	for {
		select {
		case <-n.stop:
			return
		case <-ping.C:
			n.mu.RLock()
			remotes := slices.Clone(n.remotes)
			n.mu.RUnlock()
			for _, r := range remotes {
				if n.isSelfAlias(r.addr) || r.dialing.Load() {
					continue // ourselves, or a dial already under way
				}
				if c := r.live(); c != nil {
					go n.probe(c)
				} else {
					go func() {
						ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DialTimeout+n.cfg.WaitTimeout)
						defer cancel()
						_, _ = r.get(ctx, n, false)
					}()
				}
			}
		case <-refresh.C:
			go n.pull()
		}
	}
}

// probe pings one connection and fails it after too many misses.
func (n *Node) probe(c *conn) {
	if !c.probing.CompareAndSwap(false, true) {
		return // the previous probe is still waiting
	}
	defer c.probing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.PingTimeout)
	defer cancel()
	_, err := c.roundTrip(ctx, proto.NewHeader(proto.CmdBackendStatus, 0, id.ID{}, 0))
	if err == nil {
		c.misses.Store(0)
		return
	}
	if c.misses.Add(1) >= int32(n.cfg.SuspectAfter) {
		n.log.Warn("node not answering, dropping it from the route table", zap.String("node", c.addr),
			zap.Int32("missed_pings", c.misses.Load()), zap.Error(err))
		c.fail(status.Errorf(status.Timeout, "node %s missed %d pings", c.addr, c.misses.Load()))
	}
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
	n.mu.RLock()
	withNodes := len(n.indirect) > 0 || n.cfg.ConnectOnDemand
	n.mu.RUnlock()
	n.askMembers(cs[rand.IntN(len(cs))], withNodes)
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
	rep, err := c.roundTrip(ctx, proto.NewHeader(proto.CmdRouteList, 0, id.ID{}, 0), req)
	if err != nil {
		return
	}
	ms, _, err := proto.DecodeMembers(rep.payload)
	if err != nil {
		n.log.Warn("bad route list", zap.String("node", c.addr), zap.Error(err))
		return
	}
	n.learn(c, ms, withNodes, false)
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
