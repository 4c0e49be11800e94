package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Relaying (proto.FlagRelay): a client that cannot reach a node (a Proxy
// client, NAT) sends a request for it to a node it does reach, with the
// target's address in front of the payload. Forwarding (cluster.go) picks
// the owner of a key and relays one final reply; a relay goes to the node
// the client named and relays every reply, so ID ranges, iterators (start
// and control by id, which lives on one node) and any other multi-reply
// command work through one node.
//
// A request that streams goes on a connection of its own to the target
// (client.Node.Relay), read one reply at a time: each is queued on the
// requester's connection before the next is read, so memory is bounded by
// that connection's writer queue, and a requester that reads slowly slows
// the target down through TCP instead of filling this node. The stream
// lives as long as the requester's connection: when it closes, the stream
// is closed and the target cancels what it ran for it (an iterator ends).
// Single-reply requests go over the peer connection, as forwards do.

// relayIdleMargin is how much longer than request_timeout a relay waits
// for each reply of a stream: the target ends a request at its own
// request_timeout and answers Timeout, which should reach the requester
// instead of a relay timeout racing with it.
const relayIdleMargin = 5 * time.Second

// isSelf reports whether addr names this node: a listen address, or the
// identity and aliases its peers know it by.
func (s *Server) isSelf(addr string) bool {
	if addr == s.address() || s.cluster.peers.IsSelf(addr) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.addrStrings() {
		if a == addr {
			return true
		}
	}
	return false
}

// Relays counts requests relayed to other nodes (FlagRelay).
func (s *Server) Relays() uint64 { return s.cluster.relays.Load() }

// relayStreams reports whether a request may get intermediate replies, so
// must be relayed on a stream: READ_RANGE with data, ITERATOR start,
// NOTIFY (a watch streams until dropped; a drop replies once and is cheap
// either way), and commands this node does not know (an extension may
// stream). The core's other commands reply once.
func (s *Server) relayStreams(h *proto.Header, payload []byte) bool {
	switch h.Cmd {
	case proto.CmdReadRange:
		rr, err := proto.DecodeRangeRequest(payload)
		return err != nil || !rr.Flags.Has(proto.IONoData)
	case proto.CmdIterator:
		ir, err := proto.DecodeIteratorRequest(payload)
		return err != nil || ir.Action == proto.IterStart
	case proto.CmdLookup, proto.CmdWrite, proto.CmdRead, proto.CmdRemove, proto.CmdRemoveRange, proto.CmdSend,
		proto.CmdBulkRead, proto.CmdBulkWrite, proto.CmdHandshake, proto.CmdRouteList, proto.CmdBackendStatus,
		proto.CmdBackendControl:
		return false
	}
	return true
}

// handleRelay sends a request to the node named in its payload and relays
// the replies back under the requester's transaction.
func (s *Server) handleRelay(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
	target, inner, err := proto.DecodeRelay(req.Payload)
	if err != nil {
		return nil, err
	}
	// Only to members: a node that dialed any address it was given would
	// be an open proxy into its network (and its peers would keep redialing
	// a bad one).
	if !slices.Contains(s.Table().Addresses(), target) {
		return nil, status.Errorf(status.NoRoute, "relay %s: %s is not a node of this cluster", req.Header.Cmd, target)
	}
	s.cluster.relays.Add(1)
	h := req.Header
	h.Flags &^= proto.FlagRelay | proto.FlagReply | proto.FlagMore
	h.Status = status.OK
	if !s.relayStreams(&h, inner) {
		rep, err := s.cluster.peers.Forward(ctx, target, h, inner)
		if err != nil {
			return nil, fmt.Errorf("relay %s to %s: %w", h.Cmd, target, err)
		}
		return [][]byte{rep}, nil
	}
	// Not the request's context: an iterator may run far longer than
	// request_timeout. The connection's context ends it when the requester
	// goes away; each reply is awaited for at most the idle time.
	base := context.Background()
	if req.conn != nil {
		base = req.conn.ctx
	}
	rctx, cancel := context.WithCancel(base)
	defer cancel()
	rep, err := s.cluster.peers.Relay(rctx, target, h, inner, s.opts.RequestTimeout+relayIdleMargin, func(body []byte) error {
		// A stopping node does not wait for a relayed iterator to end:
		// closing the stream cancels it on the target.
		if s.closing.Load() {
			return status.Errorf(status.ShuttingDown, "node shutting down")
		}
		return r.Send(body)
	})
	if err != nil {
		return nil, fmt.Errorf("relay %s to %s: %w", h.Cmd, target, err)
	}
	return [][]byte{rep}, nil
}
