package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/transport"
)

// Config configures a Node. Zero fields take the defaults below.
type Config struct {
	// WaitTimeout is the default time a session waits for a reply (5s, the
	// original's wait_timeout).
	WaitTimeout time.Duration
	// DialTimeout bounds connecting to a node (5s).
	DialTimeout time.Duration
	// ReconnectInterval is the least time between two attempts to reconnect
	// to a lost node (1s).
	ReconnectInterval time.Duration
	// MaxPayload limits the size of a reply frame (proto.DefaultMaxPayload).
	MaxPayload uint64
	// Name identifies the client in node logs.
	Name   string
	Logger *zap.Logger

	// PingInterval is how often connected nodes are probed (1s), and lost
	// nodes redialed. A node we heard from since the last interval (any
	// reply or push) is not pinged; of the others, at most
	// ProbesPerInterval are, in turn, so every node is probed at least
	// every ceil(nodes/ProbesPerInterval) intervals.
	PingInterval time.Duration
	// ProbesPerInterval bounds the pings of one interval to nodes not
	// suspected yet (16): a seed that pinged its thousand peers every
	// second missed replies under that load and evicted live nodes.
	// Suspects (a missed ping) are pinged every interval until they answer
	// or are dropped, so this only delays the first miss.
	ProbesPerInterval int
	// PingTimeout bounds one ping (1s).
	PingTimeout time.Duration
	// SuspectAfter is how many pings in a row a node may miss before it is
	// dropped from the route table (3), so one slow reply does not evict it.
	SuspectAfter int
	// IndirectProbes is how many other nodes are asked to ping a node
	// whose ping went unanswered (2; negative: none), as SWIM's ping-req:
	// an answer relayed by any of them means the node is alive and only
	// this path to it is slow or cut, and the miss is not counted.
	IndirectProbes int
	// RefreshInterval is how often a member list is pulled from a random
	// node, healing missed pushes (5s).
	RefreshInterval time.Duration

	// Dial opens a connection to a node ("host:port"); DialTimeout bounds
	// ctx. Nil dials TCP (transport.TCP); tests give an in-memory network's
	// (core/transport/memnet).
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	// Proxy sends every request through the nodes given to AddRemotes and
	// never connects to others, which forward to the owners: for clients
	// that can reach only some nodes (NAT, firewalls).
	Proxy bool

	// ConnectOnDemand, for a server's own Node: learn the other nodes from
	// the member lists (with descriptions) of the nodes we are connected
	// to, instead of connecting to every node, and connect to one only when
	// a request has to go there. A full mesh of N nodes is N*(N-1)
	// connections, each with its reader and writer goroutines and buffers
	// on both ends: fine for tens of nodes, a million connections at a
	// thousand. A node then vouches (ROUTE_LIST, pushes) only for the nodes
	// it reaches, so a node that dies drops out of the other tables at the
	// next pull (RefreshInterval) from a node that reached it.
	ConnectOnDemand bool

	// Join, set by a server's own Node, describes the server; it is sent
	// in every handshake (peers connect back and route to it) and the server
	// is part of the route table.
	Join func() proto.NodeInfo
	// OnChange is called after the route table changed.
	OnChange func()

	// Auth makes every connection authenticate before its handshake
	// (auth.go); zero: none.
	Auth AuthConfig
}

func (c *Config) setDefaults() {
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = 5 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.ReconnectInterval <= 0 {
		c.ReconnectInterval = time.Second
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = proto.DefaultMaxPayload
	}
	if c.Name == "" {
		c.Name = "elliptics-go"
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.PingInterval <= 0 {
		c.PingInterval = time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = time.Second
	}
	if c.ProbesPerInterval <= 0 {
		c.ProbesPerInterval = 16
	}
	if c.IndirectProbes == 0 {
		c.IndirectProbes = 2
	}
	if c.SuspectAfter <= 0 {
		c.SuspectAfter = 3
	}
	if c.Dial == nil {
		c.Dial = transport.TCP{}.Dial
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Second
	}
}

// remote is one node address the client keeps a connection to.
type remote struct {
	addr    string
	dialMu  sync.Mutex  // serialises dials; never held by callers that only look
	dialing atomic.Bool // someone holds dialMu: background redials skip the remote

	mu        sync.Mutex // guards the fields below, held only briefly
	conn      *conn
	lastDial  time.Time
	lastError error
}

// live returns the current connection if it works, else nil.
func (r *remote) live() *conn {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c != nil && c.alive() {
		return c
	}
	return nil
}

// Node holds the connections of a client to the cluster.
type Node struct {
	cfg   Config
	log   *zap.Logger
	trans atomic.Uint64

	// Read repair (repair.go).
	repairSlots                           chan struct{}
	repaired, repairFailed, repairSkipped atomic.Uint64

	mu      sync.RWMutex
	remotes []*remote          // in the order added
	byAddr  map[string]*remote // the same, by dial address
	closed  bool

	indirect map[string]proto.NodeInfo // nodes known through others, by identity (guarded by mu)
	// dirty names the nodes whose descriptions in indirectFrom changed
	// since the last rebuild (guarded by mu): rebuildChanged applies only
	// those.
	dirty map[string]struct{}
	// indirectFrom (ConnectOnDemand) holds the nodes each connected node
	// vouches for, by its identity; only live sources count (guarded by mu).
	indirectFrom map[string]map[string]*proto.NodeInfo
	// describers indexes indirectFrom by member: the sources that list
	// each node (guarded by mu).
	describers map[string]map[string]struct{}
	selfAlias  map[string]bool // addresses that turned out to be ourselves (guarded by mu)
	// addrs holds the addresses of nodes with more than one, by identity,
	// hosts fixed (guarded by mu); routeIdx is the index among them this
	// Node dials at (multiaddr.go), -1 until its first connection.
	addrs    map[string][]string
	routeIdx atomic.Int32

	selfOnce sync.Once
	self     string

	routes    atomic.Pointer[routing]
	members   atomic.Pointer[memberCache] // the member list of routes, for ROUTE_LIST
	rebuildMu sync.Mutex
	// rebuildReq counts calls of rebuild; rebuildDone (guarded by
	// rebuildMu) is the count the current table reflects.
	rebuildReq  atomic.Uint64
	rebuildDone uint64
	probeNext   int           // where the next ping round starts among remotes (maintain only)
	pulls       atomic.Uint64 // pulls done, to alternate their targets
	tickLag     atomic.Int64  // how late the last ping tick ran (ns): local health
	// rebuildPending: a rebuildSoon is scheduled; lastRebuild is how long
	// the last rebuild took (ns), lastRebuildAt when it ended (Unix ns).
	rebuildPending atomic.Bool
	lastRebuild    atomic.Int64
	lastRebuildAt  atomic.Int64
	stop           chan struct{}
}

// NewNode returns a node with no connections; add some with AddRemotes.
// It keeps its connections alive in the background until Close.
func NewNode(cfg Config) *Node {
	cfg.setDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), repairSlots: make(chan struct{}, maxRepairs)}
	n.routes.Store(emptyRouting)
	n.routeIdx.Store(-1)
	n.rebuild()
	go n.maintain()
	return n
}

// Config returns the node's configuration with defaults applied.
func (n *Node) Config() Config { return n.cfg }

// AddRemotes connects to the given "host:port" addresses. It succeeds if at
// least one is reachable; the others are retried when used. Adding an
// address twice is harmless.
func (n *Node) AddRemotes(ctx context.Context, addrs ...string) error {
	if len(addrs) == 0 {
		return status.Errorf(status.Invalid, "no remote address given")
	}
	var errs []error
	var first *conn
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, status.Errorf(status.Invalid, "remote %q: %v", a, err))
			continue
		}
		r := n.remote(a)
		if r == nil {
			return status.Errorf(status.Canceled, "node closed")
		}
		c, err := r.get(ctx, n, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first == nil {
			first = c
		}
	}
	if first == nil {
		return fmt.Errorf("no remote reachable: %w", joinErrors(errs))
	}
	// Learn the whole cluster before returning, so the first call routes;
	// from a remote we were given, which (a seed) knows everyone, not from
	// whichever node has connected to us meanwhile.
	n.discover(first)
	for _, err := range errs {
		n.log.Warn("remote not reachable now, will retry", zap.Error(err))
	}
	return nil
}

func (n *Node) remote(addr string) *remote {
	// Most calls find a known remote: look under the read lock first, so a
	// storm of pushes naming known nodes does not serialize on the lock.
	n.mu.RLock()
	r, closed := n.byAddr[addr], n.closed
	n.mu.RUnlock()
	if closed {
		return nil
	}
	if r != nil {
		return r
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	if r := n.byAddr[addr]; r != nil {
		return r
	}
	r = &remote{addr: addr}
	n.remotes = append(n.remotes, r)
	if n.byAddr == nil {
		n.byAddr = map[string]*remote{}
	}
	n.byAddr[addr] = r
	return r
}

// get returns a live connection, dialing if there is none and the last
// attempt is old enough (or force is set). Only one dial per remote runs at
// a time; lookups of other remotes never wait for it.
func (r *remote) get(ctx context.Context, n *Node, force bool) (*conn, error) {
	if c := r.live(); c != nil {
		return c, nil
	}
	r.dialMu.Lock()
	defer r.dialMu.Unlock()
	r.dialing.Store(true)
	defer r.dialing.Store(false)
	r.mu.Lock()
	c, last, lastErr := r.conn, r.lastDial, r.lastError
	r.mu.Unlock()
	if c != nil && c.alive() {
		return c, nil // another caller dialed while we waited
	}
	if !force && lastErr != nil && time.Since(last) < n.cfg.ReconnectInterval {
		return nil, lastErr
	}
	c, err := dial(ctx, n, r.addr)
	if errors.Is(err, errSelf) {
		n.mu.Lock()
		// Copied on write: learn reads a snapshot without holding the lock.
		alias := make(map[string]bool, len(n.selfAlias)+1)
		for a := range n.selfAlias {
			alias[a] = true
		}
		alias[r.addr] = true
		n.selfAlias = alias
		n.mu.Unlock()
	}
	r.mu.Lock()
	r.lastDial = time.Now()
	if err != nil {
		r.lastError = err
	} else {
		r.conn, r.lastError = c, nil
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	n.log.Debug("connected", zap.String("remote", r.addr), zap.Int("backends", len(c.backends())))
	n.noteRouteIndex(c)
	n.connected(c)
	return c, nil
}

// connTo returns a connection to the node at addr ("host:port"), dialing it
// if there is none; an address not added before becomes a remote of the
// node.
func (n *Node) connTo(ctx context.Context, addr string) (*conn, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, status.Errorf(status.Invalid, "address %q: %v", addr, err)
	}
	r := n.remote(addr)
	if r == nil {
		return nil, status.Errorf(status.Canceled, "node closed")
	}
	// An explicit address is worth a dial even shortly after a failed one.
	return r.get(ctx, n, true)
}

// Groups returns the groups of the route table, sorted.
func (n *Node) Groups() []uint32 { return n.Table().Groups() }

// Close closes every connection; calls in flight fail with status.Canceled.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	remotes := n.remotes
	n.mu.Unlock()
	close(n.stop)
	for _, r := range remotes {
		r.mu.Lock()
		if r.conn != nil {
			r.conn.close()
		}
		r.mu.Unlock()
	}
	return nil
}

// joinErrors joins errors on one line (errors.Join uses newlines, which
// break log lines and CLI messages) and keeps the first error's status.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return &joined{msg: strings.Join(msgs, "; "), first: errs[0]}
}

type joined struct {
	msg   string
	first error
}

func (j *joined) Error() string { return j.msg }
func (j *joined) Unwrap() error { return j.first }

// IsSelf reports whether addr names the server this Node belongs to (its
// identity, or an address that turned out to reach it).
func (n *Node) IsSelf(addr string) bool {
	return addr != "" && (addr == n.Self() || n.isSelfAlias(addr))
}

func (n *Node) isSelfAlias(addr string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.selfAlias[addr]
}
