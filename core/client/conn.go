package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/internal/wire"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// reply is one reply frame.
type reply struct {
	h       proto.Header
	payload []byte
	expired bool // no reply came before the call's deadline
}

type call struct {
	ch       chan reply // receives the final reply (capacity 1)
	deadline time.Time  // zero: none (the caller's context bounds the call)
	sent     time.Time  // when the call was registered (latency sample)
	// done, when set, gets the final reply instead of ch (calls started
	// with start). It is called exactly once, by whoever takes the call out
	// of conn.calls (the reader, the sweeper, fail, a canceled context or a
	// failed send), without conn.mu held.
	done func(reply)
	// written is held while the writer may still read the request's parts
	// (calls made with do).
	written sync.WaitGroup
}

// Released tells a do call that the writer is done with its parts.
func (cl *call) Released() { cl.written.Done() }

// deliver hands the final reply to the call's owner. The caller has taken
// the call out of conn.calls, so nobody else delivers.
func (cl *call) deliver(r reply) {
	if cl.done != nil {
		cl.done(r)
		return
	}
	cl.ch <- r
}

// calls are reused once their reply has been received; a call abandoned by
// a canceled caller may still get a reply later and is left to the GC.
var callPool = sync.Pool{New: func() any { return &call{ch: make(chan reply, 1)} }}

// conn is one connection to a node. Requests are pipelined: many calls are
// in flight at once, matched to replies by transaction number.
type conn struct {
	addr string
	nc   net.Conn
	node *Node
	log  *zap.Logger

	infoMu sync.RWMutex
	info   proto.NodeInfo // from the handshake, refreshed by pushes and re-handshakes
	// infoEnc is info encoded (for member lists with descriptions), made
	// for version infoEncVer.
	infoEnc    []byte
	infoEncVer uint64
	// listDigest is the MemberDigest of the last whole member list learnt
	// from the node (ConnectOnDemand), sent with the next pull.
	listDigest atomic.Uint64
	// pushSeq counts the pushes from the node applied (ConnectOnDemand).
	pushSeq atomic.Uint64
	// frames counts reads that returned bytes (not whole frames: a large
	// reply read slowly is still a sign of life); maintain compares it
	// between ticks to skip pinging a node it just heard from (heardAt is
	// its last count).
	frames  atomic.Uint64
	heardAt uint64

	// lat is the smoothed round trip of the node's replies (EWMA over
	// every final reply, pings included), in nanoseconds; 0 = no reply
	// yet. Written by the reader only.
	lat atomic.Int64

	probing atomic.Bool // a liveness probe is in flight
	asking  atomic.Bool // a member list request is in flight (ConnectOnDemand)

	pushMu   sync.Mutex
	pushes   [][]byte     // ROUTES_CHANGED payloads waiting for the handler
	pushBusy bool         // the handler goroutine runs
	misses   atomic.Int32 // pings missed in a row

	w *wire.Writer
	// busy: other calls were in flight when the last one was sent. Their
	// replies wake callers that send again at once, so the writer
	// coalesces their requests into one write (wire.Config.Coalesce).
	busy atomic.Bool
	dead chan struct{} // closed once the connection has failed
	err  error         // why, set before dead is closed

	mu    sync.Mutex
	calls map[uint64]*call
	// sweep fails calls whose deadline passed; it is armed for the earliest
	// deadline in calls (armedAt) at most, not once per call.
	sweep   *time.Timer
	armedAt time.Time
	once    sync.Once
}

func dial(ctx context.Context, n *Node, addr string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	nc, err := n.cfg.Dial(dctx, addr)
	cancel()
	if err != nil {
		return nil, status.Errorf(status.ConnectionLost, "connect to %s: %v", addr, err)
	}
	c := &conn{
		addr:  addr,
		nc:    nc,
		node:  n,
		log:   n.log.With(zap.String("remote", addr)),
		dead:  make(chan struct{}),
		calls: make(map[uint64]*call),
	}
	c.w = wire.New(nc, wire.Config{
		Timeout: n.cfg.WaitTimeout + 30*time.Second,
		OnError: func(err error) {
			c.fail(status.Errorf(status.ConnectionLost, "send to %s: %v", addr, err))
		},
		Coalesce: c.busy.Load,
	})
	go c.readLoop()
	go c.w.Run()

	if n.cfg.Auth.Enabled() {
		if err := c.authenticate(ctx); err != nil {
			c.fail(err)
			return nil, fmt.Errorf("authenticate with %s: %w", addr, err)
		}
	}
	if err := c.handshake(ctx); err != nil {
		c.fail(err)
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	return c, nil
}

// handshake exchanges versions and node descriptions; it may be repeated
// on a live connection to refresh what the node serves.
func (c *conn) handshake(ctx context.Context) error {
	n := c.node
	hr := proto.HandshakeRequest{Major: proto.VersionMajor, Minor: proto.VersionMinor, Name: n.cfg.Name}
	if n.cfg.Join != nil {
		info := n.cfg.Join()
		hr.Node = &info
	}
	hctx, cancel := context.WithTimeout(ctx, n.cfg.WaitTimeout)
	defer cancel()
	rep, err := c.roundTrip(hctx, proto.NewHeader(proto.CmdHandshake, 0, [64]byte{}, 0), hr.Append(nil))
	if err != nil {
		return err
	}
	info, err := proto.DecodeNodeInfo(rep.payload)
	if err != nil {
		return err
	}
	if n.cfg.Join != nil {
		own := n.cfg.Join()
		if info.Version == own.Version && slices.Equal(info.Addresses, own.Addresses) {
			return errSelf
		}
	}
	c.setInfo(info)
	return nil
}

// errSelf is the handshake's answer when a node dials one of its own
// addresses (learnt from a peer that names it differently).
var errSelf = status.Errorf(status.Exists, "this address is the node itself")

// nodeInfo returns a copy of the node's description.
func (c *conn) nodeInfo() proto.NodeInfo {
	c.infoMu.RLock()
	defer c.infoMu.RUnlock()
	return c.info
}

// refresh re-reads the node's description and updates the routes.
func (c *conn) refresh(n *Node) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WaitTimeout)
	defer cancel()
	if err := c.handshake(ctx); err != nil {
		n.log.Debug("refresh of node information failed", zap.String("node", c.addr), zap.Error(err))
		return
	}
	n.rebuild()
}

func (c *conn) setInfo(info proto.NodeInfo) {
	c.infoMu.Lock()
	c.info = info
	c.infoMu.Unlock()
}

// identity is the node's name in route tables.
func (c *conn) identity() string {
	c.infoMu.RLock()
	defer c.infoMu.RUnlock()
	return identity(&c.info, c.addr)
}

// version is the version of the node's information we hold.
func (c *conn) version() uint64 {
	c.infoMu.RLock()
	defer c.infoMu.RUnlock()
	return c.info.Version
}

// backends returns the enabled backends of the node, as last learnt. The
// slice is never modified; updates replace it.
func (c *conn) backends() []proto.BackendInfo {
	c.infoMu.RLock()
	defer c.infoMu.RUnlock()
	return c.info.Backends
}

// updateBackends follows a BACKEND_STATUS or BACKEND_CONTROL reply: the
// node's backends may have changed, so its description (with ring points)
// is read again before the caller goes on, and routing follows enables and
// disables made through this Node at once.
func (c *conn) updateBackends() {
	c.refresh(c.node)
}

// alive reports whether the connection still works.
func (c *conn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

// fail closes the connection and completes every call in flight with err.
func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.dead)
		c.w.Close(false)
		c.nc.Close()
		c.mu.Lock()
		calls := c.calls
		c.calls = nil
		if c.sweep != nil {
			c.sweep.Stop()
		}
		c.mu.Unlock()
		for trans, cl := range calls {
			cl.deliver(reply{h: proto.Header{Trans: trans, Status: status.ConnectionLost}, payload: []byte(err.Error())})
		}
		go c.node.disconnected(c)
	})
}

// roundTrip sends a request and waits for its final reply, as long as ctx
// allows. A reply with a non-zero status is returned as an error matching
// the status sentinel.
func (c *conn) roundTrip(ctx context.Context, h proto.Header, parts ...[]byte) (reply, error) {
	return c.do(ctx, time.Time{}, h, parts...)
}

// do is roundTrip with a deadline of its own (zero: none), enforced by the
// connection's sweeper instead of a timer per call; ctx still cancels the
// call, and may end it earlier.
func (c *conn) do(ctx context.Context, deadline time.Time, h proto.Header, parts ...[]byte) (reply, error) {
	done := ctx.Done()
	if done != nil {
		select {
		case <-done:
			return reply{}, ctxErr(ctx, c.addr)
		default:
		}
	}
	h.Trans = c.node.trans.Add(1)
	cl := callPool.Get().(*call)
	cl.deadline, cl.sent = deadline, time.Now()
	c.mu.Lock()
	if c.calls == nil {
		c.mu.Unlock()
		callPool.Put(cl)
		return reply{}, fmt.Errorf("%s: %w", c.addr, c.deadErr())
	}
	c.calls[h.Trans] = cl
	c.busy.Store(len(c.calls) > 1)
	if !deadline.IsZero() && (c.armedAt.IsZero() || deadline.Before(c.armedAt)) {
		c.armLocked(deadline)
	}
	c.mu.Unlock()

	// The caller may reuse parts once do returns, so do returns only once
	// the writer is done with them: at once after a reply (the peer read
	// them), but a timeout or a lost connection can end the call while the
	// frame still waits, and then the writer's own deadline bounds the wait.
	cl.written.Add(1)
	switch err := c.w.Send(h, parts, cl, done, deadline); err {
	case nil:
	case wire.ErrClosed:
		// A closed writer means the connection failed: the call gets its
		// ConnectionLost reply from fail.
		cl.written.Done()
	case wire.ErrDeadline:
		cl.written.Done()
		c.forget(h.Trans)
		return reply{}, status.Errorf(status.Timeout, "no reply from %s in time", c.addr)
	default:
		cl.written.Done()
		c.forget(h.Trans)
		return reply{}, ctxErr(ctx, c.addr)
	}
	select {
	case r := <-cl.ch:
		cl.written.Wait()
		callPool.Put(cl)
		return c.result(r)
	case <-done:
		c.forget(h.Trans)
		cl.written.Wait()
		// A reply that came while we were not scheduled still counts (a
		// busy process can run a waiter after its deadline with both
		// ready, and select picks either).
		select {
		case r := <-cl.ch:
			callPool.Put(cl)
			return c.result(r)
		default:
		}
		return reply{}, ctxErr(ctx, c.addr)
	}
}

// result turns a final reply into do's results.
func (c *conn) result(r reply) (reply, error) {
	if r.expired {
		return reply{}, status.Errorf(status.Timeout, "no reply from %s in time", c.addr)
	}
	if r.h.Status != status.OK {
		return r, proto.DecodeError(r.h.Status, r.payload)
	}
	return r, nil
}

// start is do without waiting: it sends the request on the calling
// goroutine and done gets the outcome exactly once, from the connection's
// reader (the reply), its sweeper (the deadline), its failure (connection
// lost), ctx's cancelation, or at once when the call cannot start. done
// runs on one of those goroutines, without locks held, and must not block:
// it holds up the connection's replies. The send does not block either:
// when the writer's queue is full the request is sent from a goroutine.
// parts must not change until done is called: done waits for the writer
// to be done with them too.
func (c *conn) start(ctx context.Context, deadline time.Time, h proto.Header, parts [][]byte, done func(reply, error)) {
	if ctx.Err() != nil {
		done(reply{}, ctxErr(ctx, c.addr))
		return
	}
	h.Trans = c.node.trans.Add(1)
	trans := h.Trans
	cl := &call{deadline: deadline, sent: time.Now()}
	var stop func() bool
	c.mu.Lock()
	if c.calls == nil {
		c.mu.Unlock()
		done(reply{}, fmt.Errorf("%s: %w", c.addr, c.deadErr()))
		return
	}
	ac := &asyncCall{done: done}
	ac.left.Store(2)
	done = ac.finish
	cl.done = func(r reply) {
		if stop != nil {
			stop()
		}
		done(c.result(r))
	}
	c.calls[trans] = cl
	if !deadline.IsZero() && (c.armedAt.IsZero() || deadline.Before(c.armedAt)) {
		c.armLocked(deadline)
	}
	if ctx.Done() != nil {
		// Set under c.mu: whoever takes the call out of c.calls (which
		// needs c.mu) sees it.
		stop = context.AfterFunc(ctx, func() {
			if c.take(trans) {
				done(reply{}, ctxErr(ctx, c.addr))
			}
		})
	}
	c.mu.Unlock()

	switch err := c.w.TrySend(h, parts, ac); err {
	case nil:
	case wire.ErrClosed:
		// A closed writer means the connection failed: the call gets its
		// ConnectionLost reply from fail.
		ac.Released()
	default: // wire.ErrFull: wait for room off this goroutine
		go func() {
			err := c.w.Send(h, parts, ac, ctx.Done(), deadline)
			if err != nil {
				ac.Released()
			}
			switch err {
			case nil, wire.ErrClosed:
			case wire.ErrDeadline:
				if c.take(trans) {
					if stop != nil {
						stop()
					}
					done(reply{}, status.Errorf(status.Timeout, "no reply from %s in time", c.addr))
				}
			default:
				if c.take(trans) {
					if stop != nil {
						stop()
					}
					done(reply{}, ctxErr(ctx, c.addr))
				}
			}
		}()
	}
}

// asyncCall joins a started call's two ends: done runs once the outcome is
// known and the writer is done with the request's parts, whichever is last.
type asyncCall struct {
	left atomic.Int32
	r    reply
	err  error
	done func(reply, error)
}

func (a *asyncCall) finish(r reply, err error) {
	a.r, a.err = r, err
	if a.left.Add(-1) == 0 {
		a.done(a.r, a.err)
	}
}

// Released is the writer's end.
func (a *asyncCall) Released() {
	if a.left.Add(-1) == 0 {
		a.done(a.r, a.err)
	}
}

// take removes a call from the calls in flight; false if it was gone
// (completed, or the connection failed).
func (c *conn) take(trans uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		return false
	}
	if _, ok := c.calls[trans]; !ok {
		return false
	}
	delete(c.calls, trans)
	return true
}

// armLocked arms the sweeper for deadline (c.mu held).
func (c *conn) armLocked(deadline time.Time) {
	c.armedAt = deadline
	d := max(time.Until(deadline), 0)
	if c.sweep == nil {
		c.sweep = time.AfterFunc(d, c.expire)
	} else {
		c.sweep.Reset(d)
	}
}

// expire fails the calls whose deadline passed and arms the sweeper for the
// next deadline.
func (c *conn) expire() {
	var expired []*call
	c.mu.Lock()
	if c.calls == nil {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	var next time.Time
	for trans, cl := range c.calls {
		if cl.deadline.IsZero() {
			continue
		}
		if !cl.deadline.After(now) {
			delete(c.calls, trans)
			expired = append(expired, cl)
		} else if next.IsZero() || cl.deadline.Before(next) {
			next = cl.deadline
		}
	}
	c.armedAt = time.Time{}
	if !next.IsZero() {
		// At most a thousand sweeps a second, however the deadlines spread.
		if soonest := now.Add(time.Millisecond); next.Before(soonest) {
			next = soonest
		}
		c.armLocked(next)
	}
	c.mu.Unlock()
	for _, cl := range expired {
		cl.deliver(reply{expired: true})
	}
}

func ctxErr(ctx context.Context, addr string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return status.Errorf(status.Timeout, "no reply from %s in time", addr)
	}
	return status.Errorf(status.Canceled, "request to %s canceled", addr)
}

func (c *conn) deadErr() error {
	if c.err != nil {
		return c.err
	}
	return status.ErrConnectionLost
}

func (c *conn) forget(trans uint64) {
	c.mu.Lock()
	if c.calls != nil {
		delete(c.calls, trans)
	}
	c.mu.Unlock()
}

// countingReader reads c.nc and counts the reads that got bytes.
type countingReader struct{ c *conn }

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.c.nc.Read(p)
	if n > 0 {
		r.c.frames.Add(1)
	}
	return n, err
}

func (c *conn) readLoop() {
	r := proto.NewReader(bufio.NewReaderSize(countingReader{c}, wire.ReadBufferSize(c.nc)), c.node.cfg.MaxPayload)
	for {
		h, payload, err := r.Next()
		if err != nil {
			c.fail(status.Errorf(status.ConnectionLost, "connection to %s: %v", c.addr, err))
			return
		}
		if !h.IsReply() {
			if h.Cmd == proto.CmdRoutesChanged {
				c.pushed(payload)
			}
			continue
		}
		if !h.IsFinal() {
			// Multi-reply commands are not used by this client yet; their
			// intermediate replies are dropped.
			continue
		}
		c.mu.Lock()
		cl := c.calls[h.Trans]
		if cl != nil {
			delete(c.calls, h.Trans)
		}
		c.mu.Unlock()
		if cl != nil {
			c.observe(time.Since(cl.sent))
			cl.deliver(reply{h: h, payload: payload})
		}
	}
}

// latencyWeight is the inverse weight of a new sample in a connection's
// smoothed latency: each final reply moves it 1/latencyWeight of the way.
const latencyWeight = 8

// observe folds the round trip of a final reply into the smoothed latency.
// Only the reader calls it.
func (c *conn) observe(d time.Duration) {
	v := max(int64(d), 1)
	if old := c.lat.Load(); old != 0 {
		v = max(old+(v-old)/latencyWeight, 1)
	}
	c.lat.Store(v)
}

// latency returns the smoothed reply latency; 0 if no reply came yet.
func (c *conn) latency() time.Duration { return time.Duration(c.lat.Load()) }

// close shuts the connection; calls in flight fail.
func (c *conn) close() {
	c.fail(status.Errorf(status.Canceled, "connection to %s closed", c.addr))
}
