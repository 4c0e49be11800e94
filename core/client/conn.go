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

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// reply is one reply frame.
type reply struct {
	h       proto.Header
	payload []byte
}

type call struct {
	ch chan reply // receives the final reply (capacity 1)
}

type outFrame struct {
	h     proto.Header
	parts [][]byte
}

// conn is one connection to a node. Requests are pipelined: many calls are
// in flight at once, matched to replies by transaction number.
type conn struct {
	addr string
	nc   net.Conn
	node *Node
	log  *zap.Logger

	infoMu sync.RWMutex
	info   proto.NodeInfo // from the handshake, refreshed by pushes and re-handshakes

	probing atomic.Bool  // a liveness probe is in flight
	misses  atomic.Int32 // pings missed in a row

	out  chan outFrame
	dead chan struct{} // closed once the connection has failed
	err  error         // why, set before dead is closed

	mu    sync.Mutex
	calls map[uint64]*call
	once  sync.Once
}

func dial(ctx context.Context, n *Node, addr string) (*conn, error) {
	d := net.Dialer{Timeout: n.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, status.Errorf(status.ConnectionLost, "connect to %s: %v", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &conn{
		addr:  addr,
		nc:    nc,
		node:  n,
		log:   n.log.With(zap.String("remote", addr)),
		out:   make(chan outFrame, 256),
		dead:  make(chan struct{}),
		calls: make(map[uint64]*call),
	}
	go c.readLoop()
	go c.writeLoop()

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
		c.nc.Close()
		c.mu.Lock()
		calls := c.calls
		c.calls = nil
		c.mu.Unlock()
		for trans, cl := range calls {
			cl.ch <- reply{h: proto.Header{Trans: trans, Status: status.ConnectionLost}, payload: []byte(err.Error())}
		}
		go c.node.rebuild()
	})
}

// roundTrip sends a request and waits for its final reply. A reply with a
// non-zero status is returned as an error matching the status sentinel.
func (c *conn) roundTrip(ctx context.Context, h proto.Header, parts ...[]byte) (reply, error) {
	h.Trans = c.node.trans.Add(1)
	cl := &call{ch: make(chan reply, 1)}
	c.mu.Lock()
	if c.calls == nil {
		c.mu.Unlock()
		return reply{}, fmt.Errorf("%s: %w", c.addr, c.deadErr())
	}
	c.calls[h.Trans] = cl
	c.mu.Unlock()

	select {
	case c.out <- outFrame{h: h, parts: parts}:
	case <-c.dead:
	case <-ctx.Done():
		c.forget(h.Trans)
		return reply{}, ctxErr(ctx, c.addr)
	}
	select {
	case r := <-cl.ch:
		if r.h.Status != status.OK {
			return r, proto.DecodeError(r.h.Status, r.payload)
		}
		return r, nil
	case <-ctx.Done():
		c.forget(h.Trans)
		return reply{}, ctxErr(ctx, c.addr)
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

func (c *conn) readLoop() {
	r := proto.NewReader(c.nc, c.node.cfg.MaxPayload)
	for {
		h, payload, err := r.Next()
		if err != nil {
			c.fail(status.Errorf(status.ConnectionLost, "connection to %s: %v", c.addr, err))
			return
		}
		if !h.IsReply() {
			if h.Cmd == proto.CmdRoutesChanged {
				go c.node.onRoutesChanged(c, payload)
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
			cl.ch <- reply{h: h, payload: payload}
		}
	}
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var hb [proto.HeaderSize]byte
	for {
		var f outFrame
		select {
		case f = <-c.out:
		case <-c.dead:
			return
		}
		var n int
		for _, p := range f.parts {
			n += len(p)
		}
		f.h.Size = uint64(n)
		f.h.Encode(hb[:])
		_, err := bw.Write(hb[:])
		for _, p := range f.parts {
			if err == nil && len(p) > 0 {
				_, err = bw.Write(p)
			}
		}
		if err == nil && len(c.out) == 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.node.cfg.WaitTimeout + 30*time.Second))
			err = bw.Flush()
		}
		if err != nil {
			c.fail(status.Errorf(status.ConnectionLost, "send to %s: %v", c.addr, err))
			return
		}
	}
}

// close shuts the connection; calls in flight fail.
func (c *conn) close() {
	c.fail(status.Errorf(status.Canceled, "connection to %s closed", c.addr))
}
