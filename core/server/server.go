package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/notify"
	"github.com/elliptics/elliptics/core/route"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/transport"
)

// Defaults for Options fields left zero.
const (
	DefaultRequestTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxInflight     = 1024
)

// BackendSpec attaches a backend to the node.
type BackendSpec struct {
	ID       int32
	Group    uint32
	ReadOnly bool
	// Backend is the open backend. It may be nil only when Disabled is set
	// and Open is not nil.
	Backend backend.Backend
	// Open opens the backend again; BACKEND_CONTROL enable calls it. When
	// Open is nil, disable stops serving the backend without closing it and
	// enable serves the same instance again (it is closed at Shutdown).
	Open func() (backend.Backend, error)
	// Disabled starts the backend disabled: it serves nothing until enabled
	// (by Open, or with Backend if that is set).
	Disabled bool
	// Points are the backend's points on the ring of its group (see
	// route.LoadOrCreatePoints); nil gets route.DefaultPoints random ones.
	Points []id.ID
}

// Options configure a Server.
type Options struct {
	// Listen are the TCP addresses to listen on ("host:port"; port 0 picks a
	// free port, see Server.Addrs).
	Listen   []string
	Backends []BackendSpec
	// MaxPayload limits a frame's payload (default proto.DefaultMaxPayload).
	MaxPayload uint64
	// RequestTimeout bounds the time a handler may run (default 30s).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds how long Shutdown waits for in-flight requests
	// (default 10s).
	ShutdownTimeout time.Duration
	// MaxInflight limits concurrent requests per connection (default 1024).
	MaxInflight int
	// UploadTimeout is how long a chunked upload may stay uncommitted when
	// its prepare carries no TTL (default PrepareTimeout, 24h): then it
	// expires, later chunks and the commit get NotFound, and its space is
	// reclaimed (blob: by defragmentation).
	UploadTimeout time.Duration
	Logger        *zap.Logger
	// Remotes are nodes of the cluster to join ("host:port"); the node
	// learns the rest from them.
	Remotes []string
	// Transport listens and dials other nodes; nil is TCP. Tests run whole
	// clusters in one process on a memnet.Network.
	Transport transport.Transport
	// Peer tunes the node's connections to other nodes (ping interval,
	// suspicion, timeouts); zero fields take the client defaults.
	Peer client.Config
	// Recovery tunes data moves after route changes (see recovery.go).
	Recovery RecoveryOptions
	// Monitor configures statistics (monitor.go) and their HTTP endpoint.
	Monitor MonitorOptions
	// NotifyQueue is the events the node queues for a watcher (NOTIFY)
	// that asks for no size (default notify.DefaultQueue, 1024); a full
	// queue drops events and counts them.
	NotifyQueue int
	// NotifyMaxQueued bounds the events queued for all watchers of the
	// node together (default notify.DefaultMaxQueued).
	NotifyMaxQueued int
	// Script configures the scripts the node runs (EXEC, exec.go).
	Script ScriptOptions
	// Auth turns authentication on (auth.go); zero: off.
	Auth AuthOptions
	// Limits bound connections: per client address, slow frames (limits.go).
	Limits ConnLimits
}

func (o *Options) setDefaults() {
	if o.MaxPayload == 0 {
		o.MaxPayload = proto.DefaultMaxPayload
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.UploadTimeout == 0 {
		o.UploadTimeout = PrepareTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Transport == nil {
		o.Transport = transport.TCP{}
	}
	if o.Peer.Dial == nil {
		o.Peer.Dial = o.Transport.Dial
	}
	o.Recovery.setDefaults()
	o.Script.setDefaults()
	o.Limits.setDefaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if len(o.Listen) == 0 {
		return errors.New("server: no listen address")
	}
	if len(o.Backends) == 0 {
		return errors.New("server: no backend")
	}
	ids := map[int32]bool{}
	for _, b := range o.Backends {
		if b.Backend == nil && (!b.Disabled || b.Open == nil) {
			return fmt.Errorf("server: backend %d: nil backend", b.ID)
		}
		if b.ID < 0 {
			return fmt.Errorf("server: backend %d: id must be >= 0", b.ID)
		}
		if ids[b.ID] {
			return fmt.Errorf("server: backend id %d used twice", b.ID)
		}
		ids[b.ID] = true
	}
	if o.MaxInflight < 0 || o.NotifyQueue < 0 || o.NotifyMaxQueued < 0 || o.RequestTimeout < 0 || o.ShutdownTimeout < 0 || o.UploadTimeout < 0 ||
		o.Recovery.MergeDelay < 0 || o.Recovery.Limits.BytesPerSec < 0 || o.Recovery.Limits.ObjectsPerSec < 0 ||
		o.Monitor.TopLength < 0 || o.Monitor.TopPeriod < 0 || o.Script.Reload < 0 || o.Script.Concurrency < 0 {
		return errors.New("server: negative limit")
	}
	if err := o.Limits.validate(); err != nil {
		return err
	}
	if err := o.Script.Limits.Validate(); err != nil {
		return fmt.Errorf("server: script limits: %w", err)
	}
	return nil
}

// Request is one request handed to a Handler.
type Request struct {
	Header  proto.Header
	Payload []byte
	// Backend is the backend chosen for data commands (HandlerOptions.Backend).
	Backend *Backend
	// Store is Backend's open storage, kept open (a disable waits) until the
	// handler returns.
	Store backend.Backend
	// Remote is the peer's address.
	Remote net.Addr
	conn   *conn
	// alloc, set by ReadLocal, gives a READ its buffer (a backend's
	// ReadBuffered); nil: the backend allocates.
	alloc func(n int) []byte
}

// Replier sends intermediate replies of a multi-reply command. The final
// reply is sent by the server from the handler's return values.
type Replier interface {
	// Send sends one reply with flag More set.
	Send(parts ...[]byte) error
}

// Handler serves one command. It returns the payload of the final reply, or
// an error that becomes the final reply's status and message.
type Handler func(ctx context.Context, req *Request, r Replier) ([][]byte, error)

// HandlerOptions say how the dispatcher runs a handler.
type HandlerOptions struct {
	// Ordered runs requests on the same key one at a time in arrival order.
	Ordered bool
	// Backend resolves the request's backend (from the group, or from
	// Header.Backend with proto.FlagDirectBackend) before the handler runs
	// and holds it open until the handler returns; a request for a group
	// the node does not serve, or whose backend is disabled, gets
	// status.NoRoute.
	Backend bool
}

type handlerEntry struct {
	fn   Handler
	opts HandlerOptions
}

// Backend is a backend attached to a running node. Its state changes at
// run time (see control.go); Store returns the open storage.
type Backend struct {
	ID       int32
	Group    uint32
	Points   []id.ID
	readOnly atomic.Bool
	delay    atomic.Int64 // artificial delay before each data command (ns)
	open     func() (backend.Backend, error)

	mu      sync.Mutex // guards the fields below
	state   proto.BackendState
	store   backend.Backend // nil when closed
	refs    int             // requests holding store open
	drained chan struct{}   // closed when refs drops to 0 (set by a disable)
	lastErr string
}

// ReadOnly reports whether the node refuses writes to the backend (the
// node-level flag, from the configuration or BACKEND_CONTROL).
func (b *Backend) ReadOnly() bool { return b.readOnly.Load() }

// SetReadOnly changes whether writes are refused.
func (b *Backend) SetReadOnly(ro bool) { b.readOnly.Store(ro) }

// Server is a node.
type Server struct {
	opts     Options
	log      *zap.Logger
	handlers map[proto.Cmd]handlerEntry
	backends []*Backend
	byGroup  map[uint32][]*Backend
	byID     map[int32]*Backend
	keys     *keyQueue
	workers  workers

	mu        sync.Mutex
	listeners []net.Listener
	http      *http.Server // the monitor's, nil without Monitor.HTTPAddr
	httpLn    net.Listener
	conns     map[*conn]struct{}
	addrConns addrConns // open connections per client address (limits.go)
	closing   atomic.Bool
	inflight  sync.WaitGroup
	// gate orders inflight.Add (readers, shared) against Shutdown (exclusive).
	gate    sync.RWMutex
	loops   sync.WaitGroup
	started bool

	// bgCtx bounds background work started by requests (defragmentation);
	// Shutdown cancels it.
	bgCtx    context.Context
	bgCancel context.CancelFunc

	cluster clusterState
	rec     recoveryState
	mon     monitorState
	watches *notify.Registry // NOTIFY watches of this node's keys
	scripts scriptState
	auth    authState
	addr    atomic.Pointer[string] // first listen address, set by Start
	// wildcard: the first listen address is on every interface (":1025",
	// "0.0.0.0:1025"); replies then name the address a request came in on.
	wildcard atomic.Bool
}

// New returns a server with the core commands registered. It does not listen
// until Start.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		handlers: map[proto.Cmd]handlerEntry{},
		byGroup:  map[uint32][]*Backend{},
		byID:     map[int32]*Backend{},
		keys:     newKeyQueue(),
		conns:    map[*conn]struct{}{},
		watches:  notify.New(notify.Options{Queue: opts.NotifyQueue, MaxQueued: opts.NotifyMaxQueued}),
	}
	s.keys.spawn = s.workers.run
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	for _, spec := range opts.Backends {
		pts := spec.Points
		if len(pts) == 0 {
			var err error
			if pts, err = route.RandomPoints(route.DefaultPoints); err != nil {
				return nil, fmt.Errorf("server: backend %d: ring points: %w", spec.ID, err)
			}
		}
		b := &Backend{ID: spec.ID, Group: spec.Group, Points: pts, open: spec.Open, store: spec.Backend, state: proto.StateEnabled}
		if spec.Disabled {
			b.state = proto.StateDisabled
		}
		b.SetReadOnly(spec.ReadOnly)
		s.backends = append(s.backends, b)
		s.byGroup[spec.Group] = append(s.byGroup[spec.Group], b)
		s.byID[spec.ID] = b
	}
	if err := s.initAuth(); err != nil {
		return nil, err
	}
	s.mon.init(opts.Monitor)
	s.initRecovery()
	s.initScripts()
	s.registerCore()
	return s, nil
}

// Handle registers the handler of a command, replacing any earlier one. It
// must be called before Start.
func (s *Server) Handle(cmd proto.Cmd, fn Handler, opts HandlerOptions) {
	s.handlers[cmd] = handlerEntry{fn: fn, opts: opts}
}

// Backends returns the node's backends.
func (s *Server) Backends() []*Backend { return s.backends }

// Start opens the listeners and starts accepting connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server: already started")
	}
	for _, addr := range s.opts.Listen {
		ln, err := s.opts.Transport.Listen(addr)
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			s.listeners = nil
			return fmt.Errorf("server: listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, ln)
	}
	if err := s.listenHTTP(); err != nil {
		for _, l := range s.listeners {
			l.Close()
		}
		s.listeners = nil
		return err
	}
	s.started = true
	first := s.listeners[0].Addr().String()
	s.addr.Store(&first)
	if host, _, err := net.SplitHostPort(first); err == nil {
		ip := net.ParseIP(host)
		s.wildcard.Store(host == "" || ip != nil && ip.IsUnspecified())
	}
	for _, ln := range s.listeners {
		s.loops.Add(1)
		go s.acceptLoop(ln)
	}
	s.loops.Add(1)
	go s.reapWorkers()
	s.mu.Unlock()
	s.startCluster()
	s.startRecovery()
	s.serveHTTP()
	s.mu.Lock()
	s.log.Info("node listening", zap.Strings("addresses", s.addrStrings()), zap.Int("backends", len(s.backends)))
	return nil
}

// Addrs returns the addresses the node listens on (after Start).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.listeners))
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

func (s *Server) addrStrings() []string {
	out := make([]string, 0, len(s.listeners))
	for _, ln := range s.listeners {
		out = append(out, ln.Addr().String())
	}
	return out
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.loops.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", zap.Error(err), zap.Duration("retry_in", delay))
			time.Sleep(delay)
			continue
		}
		delay = 0
		host, ok := s.admitConn(nc)
		if !ok {
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			_ = tc.SetKeepAlive(true)
			_ = tc.SetKeepAlivePeriod(30 * time.Second)
		}
		c := newConn(s, nc)
		c.host = host
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			s.addrConns.release(host)
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		c.start()
	}
}

// workerIdle is how long a request worker may stay parked (between one and
// two periods) before it exits.
const workerIdle = 10 * time.Second

func (s *Server) reapWorkers() {
	defer s.loops.Done()
	t := time.NewTicker(workerIdle)
	defer t.Stop()
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-t.C:
			s.workers.reap()
		}
	}
}

func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.addrConns.release(c.host)
}

// Shutdown stops accepting connections and new requests, waits for in-flight
// requests (up to ctx and Options.ShutdownTimeout), closes connections and
// then the backends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.closing.Swap(true) {
		return nil
	}
	// Readers count a request in inflight only under the gate and only
	// while not closing: once this returns, none adds to it any more.
	s.gate.Lock()
	s.gate.Unlock() //nolint:staticcheck // a barrier, not a critical section
	s.stopHTTP(ctx)
	s.mu.Lock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.stopReading()
	}
	// Watches would otherwise keep their requests in flight to the end
	// of the timeout: each ends with ShuttingDown.
	s.watches.Close()
	// Recovery jobs stop at their next record and keep their state for
	// the next start; they use backends and peers, closed below.
	s.rec.mgr.Close()

	ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
	defer cancel()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("server: shutdown: in-flight requests still running: %w", ctx.Err())
	}
	// Replies of finished requests may still sit in a writer's queue: let
	// each writer drain (its reader has stopped, so it ends by itself).
	for _, c := range conns {
		select {
		case <-c.dead:
		case <-ctx.Done():
		}
		c.close()
	}
	s.bgCancel()
	if s.cluster.peers != nil {
		_ = s.cluster.peers.Close()
	}
	s.loops.Wait()
	s.workers.stop()
	if s.scripts.workers != nil {
		_ = s.scripts.workers.Close()
	}
	for _, b := range s.backends {
		if cerr := b.shutdown(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("server: close backend %d: %w", b.ID, cerr))
		}
	}
	s.log.Info("node stopped")
	return err
}

// backendFor picks the backend of a data request and takes a reference on
// it, which the caller releases with Backend.release.
func (s *Server) backendFor(h *proto.Header) (*Backend, backend.Backend, error) {
	if h.Flags.Has(proto.FlagDirectBackend) || h.Backend >= 0 && s.byID[h.Backend] != nil && s.byID[h.Backend].Group == h.Group {
		b := s.byID[h.Backend]
		if b == nil {
			return nil, nil, status.Errorf(status.NoRoute, "node has no backend %d", h.Backend)
		}
		st, err := b.acquire()
		if err != nil {
			return nil, nil, err
		}
		return b, st, nil
	}
	bs := s.byGroup[h.Group]
	if len(bs) == 0 {
		return nil, nil, status.Errorf(status.NoRoute, "node serves no backend of group %d", h.Group)
	}
	// Several backends of one group on one node split the ring between them
	// once routing by ring points lands; until then the first enabled one
	// serves (a disabled backend's keys move on, as they do in the ring).
	var firstErr error
	for _, b := range bs {
		st, err := b.acquire()
		if err == nil {
			return b, st, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, nil, firstErr
}

// nodeInfo describes the node for HANDSHAKE replies: only enabled backends
// are listed.
func (s *Server) nodeInfo() proto.NodeInfo {
	info := proto.NodeInfo{Major: proto.VersionMajor, Minor: proto.VersionMinor, MaxPayload: s.opts.MaxPayload,
		Version: s.cluster.version.Load()}
	s.mu.Lock()
	info.Addresses = s.addrStrings()
	s.mu.Unlock()
	for _, b := range s.backends {
		if b.State() != proto.StateEnabled {
			continue
		}
		info.Backends = append(info.Backends, proto.BackendInfo{ID: b.ID, Group: b.Group, ReadOnly: b.ReadOnly(), Points: b.Points})
	}
	return info
}

// address is the node's first listen address (set by Start).
func (s *Server) address() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}
