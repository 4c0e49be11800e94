package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/internal/wire"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// writeTimeout bounds one flush to a peer; a peer that stops reading for
// longer is dropped instead of pinning memory and goroutines.
const writeTimeout = 30 * time.Second

// conn is one accepted connection.
type conn struct {
	s     *Server
	nc    net.Conn
	log   *zap.Logger
	local string // nc's local address
	host  string // the client address counted by node.max_conns_per_addr

	// w writes replies and pushes: from the goroutine that sends them when
	// the socket is idle, else through the connection's writer goroutine.
	w *wire.Writer
	// shook is set once the peer completed a handshake: only such peers
	// speak the cluster protocol and get ROUTES_CHANGED pushes.
	shook atomic.Bool
	// peer is set once the handshake announced a node of the cluster
	// (statistics tell peers from clients).
	peer    atomic.Bool
	auth    connAuth      // what AUTH proved (auth.go)
	dead    chan struct{} // closed when the writer stops
	sem     chan struct{} // in-flight slots
	pending sync.WaitGroup
	// stopped: stopReading was called (limits.go's deadlines keep it).
	stopped atomic.Bool

	ctx       context.Context // canceled when the connection is closed
	cancel    context.CancelFunc
	closeOnce sync.Once
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		s:      s,
		nc:     nc,
		local:  nc.LocalAddr().String(),
		log:    s.log.With(zap.String("peer", nc.RemoteAddr().String())),
		dead:   make(chan struct{}),
		sem:    make(chan struct{}, s.opts.MaxInflight),
		ctx:    ctx,
		cancel: cancel,
	}
	c.w = wire.New(nc, wire.Config{
		Timeout: writeTimeout,
		OnError: func(err error) {
			c.log.Info("connection write failed, closing", zap.Error(err))
			c.close()
		},
		// Other requests of the connection in flight (the one replying
		// holds a slot too) will reply soon: their replies share a write.
		Coalesce: func() bool { return len(c.sem) > 1 },
	})
	return c
}

func (c *conn) start() {
	c.s.loops.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// stopReading makes the reader return; in-flight requests still reply.
func (c *conn) stopReading() {
	c.stopped.Store(true)
	_ = c.nc.SetReadDeadline(time.Now())
}

// close tears the connection down at once.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

func (c *conn) readLoop() {
	defer c.s.loops.Done()
	defer func() {
		// Let in-flight requests answer, then stop the writer once it has
		// written what is queued; it closes the connection.
		c.pending.Wait()
		c.w.Close(true)
	}()
	dr := &deadlineReader{nc: c.nc, l: &c.s.opts.Limits, stopped: &c.stopped}
	dr.init()
	br := bufio.NewReaderSize(dr, wire.ReadBufferSize(c.nc))
	r := proto.NewReader(br, c.s.opts.MaxPayload)
	for {
		h, payload, err := r.Next()
		if err != nil {
			c.readFailed(h, err)
			return
		}
		dr.frameDone(br.Buffered() > 0)
		if h.IsReply() {
			c.log.Debug("unexpected reply frame dropped", zap.Uint64("trans", h.Trans))
			continue
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		// Under the gate, so no Add races Shutdown's Wait: a request read
		// once the node is closing is dropped with the connection.
		c.s.gate.RLock()
		if c.s.closing.Load() {
			c.s.gate.RUnlock()
			<-c.sem
			return
		}
		c.pending.Add(1)
		c.s.inflight.Add(1)
		c.s.gate.RUnlock()
		c.dispatch(h, payload)
	}
}

// readFailed answers a bad frame when its header is usable and logs why the
// connection ends.
func (c *conn) readFailed(h proto.Header, err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.s.closing.Load():
		return
	case errors.Is(err, proto.ErrFrameTooLarge), errors.Is(err, status.ErrProtocol) && h.Major != 0:
		// The magic was good (Major is set only then), so the peer can match
		// the reply to its request before the connection closes.
		c.log.Warn("bad frame, closing connection", zap.Error(err))
		c.send(h.Reply(status.FromError(err), 0, false), proto.ErrorPayload(err))
	case errors.Is(err, status.ErrTimeout):
		// A stalled frame (limits.go): answered when its header arrived.
		c.log.Warn("slow peer, closing connection", zap.Error(err))
		if h.Major != 0 {
			c.send(h.Reply(status.Timeout, 0, false), proto.ErrorPayload(err))
		}
	default:
		c.log.Info("connection read failed, closing", zap.Error(err))
	}
}

// task is one request on its way through a handler; its context and
// Request live in it, one allocation for all three.
type task struct {
	c       *conn
	e       handlerEntry
	h       proto.Header
	payload []byte
	ctx     reqCtx
	req     Request
	rep     replier
	// proxy: the request is relayed to another node (statistics count it
	// as proxy, not storage).
	proxy bool
	// forwarded: run forwarded the request to the key's owner, and
	// forward counted it.
	forwarded bool
	// sent counts the payload bytes of intermediate replies (statistics).
	sent atomic.Uint64
}

func (c *conn) dispatch(h proto.Header, payload []byte) {
	if h.Cmd == proto.CmdAuth {
		c.serveAuth(&h, payload)
		return
	}
	if c.s.auth.on {
		if err := c.permit(&h, payload); err != nil {
			c.s.mon.refused(&h, payload)
			c.finish(&h, nil, err)
			return
		}
	}
	if h.Flags.Has(proto.FlagRelay) {
		target, inner, err := proto.DecodeRelay(payload)
		if err != nil {
			c.s.mon.refused(&h, payload)
			c.finish(&h, nil, err)
			return
		}
		if !c.s.isSelf(target) {
			// Not ordered here: the target orders what it serves.
			c.s.workers.run(&task{c: c, e: handlerEntry{fn: c.s.handleRelay}, h: h, payload: payload, proxy: true})
			return
		}
		// A relay to this node: served as if sent here directly.
		h.Flags &^= proto.FlagRelay
		payload = inner
	}
	e, ok := c.s.handlers[h.Cmd]
	if !ok {
		err := status.Errorf(status.Unsupported, "command %s not supported by this node", h.Cmd)
		c.s.mon.refused(&h, payload)
		c.finish(&h, nil, err)
		return
	}
	t := &task{c: c, e: e, h: h, payload: payload}
	if e.opts.Ordered && !h.Flags.Has(proto.FlagNoLock) {
		c.s.keys.add(h.ID, t)
	} else {
		c.s.workers.run(t)
	}
}

func (t *task) run() {
	c, e := t.c, t.e
	h := &t.h
	var parts [][]byte
	var err error
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("handler panicked", zap.Stringer("cmd", h.Cmd), zap.Any("panic", p),
				zap.ByteString("stack", debug.Stack()))
			parts, err = nil, status.Errorf(status.IOError, "internal error serving %s", h.Cmd)
		}
		c.s.mon.served(t, start, parts, err)
		c.finish(h, parts, err)
	}()
	ctx := &t.ctx
	ctx.init(c.ctx, start.Add(c.s.opts.RequestTimeout))
	defer ctx.cancel(context.Canceled)
	req := &t.req
	*req = Request{Header: *h, Payload: t.payload, Remote: c.nc.RemoteAddr(), conn: c}
	if e.opts.Backend {
		owner, remote := c.s.route(h)
		if remote {
			t.forwarded = true
			parts, err = c.s.forward(ctx, owner, *h, t.payload)
			return
		}
		if owner.Addr != "" {
			h.Backend = owner.ID // the local backend that owns the key
		}
		if req.Backend, req.Store, err = c.s.backendFor(h); err != nil {
			return
		}
		defer req.Backend.release()
		h.Backend = req.Backend.ID // replies name the backend that served
		if err = req.Backend.wait(ctx); err != nil {
			return
		}
	}
	t.rep = replier{c: c, h: h, sent: &t.sent}
	parts, err = e.fn(ctx, req, &t.rep)
	if h.Flags.Has(proto.FlagTrace) {
		c.log.Info("trace", zap.Stringer("cmd", h.Cmd), zap.Uint64("trace_id", h.TraceID),
			zap.String("id", h.ID.Short()), zap.Uint32("group", h.Group), zap.Error(err))
	}
}

// finish sends the final reply and releases the request's slot.
func (c *conn) finish(h *proto.Header, parts [][]byte, err error) {
	if err != nil {
		c.send(h.Reply(status.FromError(err), 0, false), proto.ErrorPayload(err))
	} else {
		c.send(h.Reply(status.OK, 0, false), parts...)
	}
	<-c.sem
	c.pending.Done()
	c.s.inflight.Done()
}

// send writes a frame, or queues it for the writer, waiting while the
// writer's queue is full; it drops it if the writer is gone.
func (c *conn) send(h proto.Header, parts ...[]byte) bool {
	return c.w.Send(h, parts, nil, nil, time.Time{}) == nil
}

// trySend is send that never waits: it drops the frame when the writer's
// queue is full or the writer is gone, and reports whether it sent it. For
// pushes, which a later push makes up for.
func (c *conn) trySend(h proto.Header, parts ...[]byte) bool {
	return c.w.TrySend(h, parts, nil) == nil
}

type replier struct {
	c    *conn
	h    *proto.Header
	sent *atomic.Uint64 // the task's count of intermediate reply bytes
}

func (r replier) Send(parts ...[]byte) error {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	r.sent.Add(uint64(n))
	if !r.c.send(r.h.Reply(status.OK, 0, true), parts...) {
		return fmt.Errorf("send reply: %w", status.ErrConnectionLost)
	}
	return nil
}

// writeLoop runs the writer until the connection is drained after the
// reader stopped, or a write failed.
func (c *conn) writeLoop() {
	defer c.s.loops.Done()
	defer c.s.dropConn(c)
	defer c.close()
	defer close(c.dead)
	c.w.Run()
}
