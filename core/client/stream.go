package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// stream is a connection of its own to one node for multi-reply requests
// (READ_RANGE, ITERATOR), one request at a time. The shared connections of
// a Node complete a call on its final reply only; a stream instead hands
// every reply to its reader, which takes them at its own pace: while the
// reader is busy nothing is read from the socket, TCP's window fills and the
// node's writer waits (it buffers a bounded number of frames, and drops a
// peer that reads nothing for 30 s). Closing the stream is how a requester
// abandons a request: the node cancels what runs for that connection.
//
// A stream skips the handshake (optional for the node): it needs no node
// description, and without one the node sends it no route pushes.
type stream struct {
	addr  string
	nc    net.Conn
	r     *proto.Reader
	trans uint64
	idle  time.Duration // the longest wait for a reply
	ctx   context.Context
	stop  func() bool
}

// openStream dials addr for a stream whose replies may each take up to idle.
// ctx bounds the dial and the stream's whole life.
func (n *Node) openStream(ctx context.Context, addr string, idle time.Duration) (*stream, error) {
	if n.isClosed() {
		return nil, status.Errorf(status.Canceled, "node closed")
	}
	dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	nc, err := n.cfg.Dial(dctx, addr)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx, addr)
		}
		return nil, status.Errorf(status.ConnectionLost, "connect to %s: %v", addr, err)
	}
	st := &stream{addr: addr, nc: nc, idle: idle, ctx: ctx,
		r: proto.NewReader(bufio.NewReaderSize(nc, 64<<10), n.cfg.MaxPayload)}
	// An ended context closes the socket, which ends a blocked read.
	st.stop = context.AfterFunc(ctx, func() { nc.Close() })
	if n.cfg.Auth.Enabled() {
		// A stream is a connection of its own: it authenticates like one.
		err := n.runAuth(addr, func(payload []byte) ([]byte, error) {
			if err := st.send(proto.NewHeader(proto.CmdAuth, 0, [64]byte{}, 0), payload); err != nil {
				return nil, err
			}
			_, body, err := st.recv()
			return body, err
		})
		if err != nil {
			st.close()
			return nil, fmt.Errorf("authenticate with %s: %w", addr, err)
		}
	}
	return st, nil
}

// send sends a request; its replies are read with recv.
func (st *stream) send(h proto.Header, parts ...[]byte) error {
	st.trans++
	h.Trans = st.trans
	_ = st.nc.SetWriteDeadline(time.Now().Add(st.idle))
	if _, err := st.nc.Write(proto.AppendFrame(nil, h, parts...)); err != nil {
		return st.ioErr("send to", err)
	}
	return nil
}

// recv returns the next reply to the last request sent. A reply with an
// error status is returned as that error (it is the final one).
func (st *stream) recv() (proto.Header, []byte, error) {
	for {
		_ = st.nc.SetReadDeadline(time.Now().Add(st.idle))
		h, p, err := st.r.Next()
		if err != nil {
			return h, nil, st.ioErr("read from", err)
		}
		if !h.IsReply() || h.Trans != st.trans {
			continue // not ours: a push, or a reply to an abandoned request
		}
		if h.Status != status.OK {
			return h, nil, proto.DecodeError(h.Status, p)
		}
		return h, p, nil
	}
}

func (st *stream) ioErr(what string, err error) error {
	switch {
	case st.ctx.Err() != nil:
		return ctxErr(st.ctx, st.addr)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return status.Errorf(status.Timeout, "no reply from %s for %s", st.addr, st.idle)
	}
	return status.Errorf(status.ConnectionLost, "%s %s: %v", what, st.addr, err)
}

// close closes the connection.
func (st *stream) close() {
	st.stop()
	_ = st.nc.Close()
}

// Relay sends a request to the node at addr on a stream of its own and
// hands the payload of each intermediate reply to each, in order, before
// reading the next: a slow each slows the node down (TCP back-pressure)
// instead of piling replies up here. It returns the final reply's payload;
// a final reply with an error status is returned as that error. idle
// bounds the wait for each reply, ctx the whole request: ending ctx closes
// the stream, and the node cancels what runs for it. Servers relay
// requests of clients that cannot reach addr (proto.FlagRelay) with it.
func (n *Node) Relay(ctx context.Context, addr string, h proto.Header, payload []byte, idle time.Duration,
	each func(body []byte) error) ([]byte, error) {
	st, err := n.openStream(ctx, n.dialAddress(addr), idle)
	if err != nil {
		return nil, err
	}
	defer st.close()
	if err := st.send(h, payload); err != nil {
		return nil, err
	}
	for {
		rh, body, err := st.recv()
		if err != nil {
			return nil, err
		}
		if rh.IsFinal() {
			return body, nil
		}
		if err := each(body); err != nil {
			return nil, err
		}
	}
}
