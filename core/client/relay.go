package client

import (
	"context"
	"errors"
	"slices"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// A request for one named node (a part of an ID range, an iterator, its
// control) goes straight to that node when this Node reaches it, else
// through a node it does reach, which relays it (proto.FlagRelay): the
// same fallback as connForKey, for requests that name a node instead of a
// key, and for streams, which forwarding cannot carry.

// hop is how a request reaches the node at target.
type hop struct {
	c      *conn  // the connection to send on: target's own, or the relaying node's
	target string // the node the request is for
	relay  bool   // c's node relays the request to target
}

// wrap turns a request for target into the one to send on h.c: with
// FlagRelay and the target in front of the payload when relayed.
func (hp hop) wrap(h proto.Header, payload []byte) (proto.Header, []byte) {
	if !hp.relay {
		return h, payload
	}
	h.Flags |= proto.FlagRelay
	return h, append(proto.AppendRelay(make([]byte, 0, 2+len(hp.target)+len(payload)), hp.target), payload...)
}

// hopTo decides how to reach the node at addr (an identity from the route
// table, or an address an operator gave). A Proxy client relays through
// its remotes unless addr is one of them. Other clients go straight to a
// node they are connected to; a node of the table they do not reach (NAT)
// is relayed through any connected node, while a connection is tried in
// the background, as connForKey does: a request never waits for a dial
// that may hang. An address the table does not know is dialed, and relayed
// only if that dial fails.
func (n *Node) hopTo(ctx context.Context, addr string) (hop, error) {
	if n.isClosed() {
		return hop{}, status.Errorf(status.Canceled, "node closed")
	}
	rt := n.routes.Load()
	if c := rt.conns[addr]; c != nil && c.alive() {
		return hop{c: c, target: addr}, nil
	}
	if c := n.remoteConn(addr); c != nil {
		return hop{c: c, target: addr}, nil
	}
	if n.cfg.Proxy {
		return n.relayHop(ctx, addr, nil)
	}
	if slices.Contains(rt.table.Addresses(), addr) {
		n.AddRemoteAsync(addr)
		return n.relayHop(ctx, addr, nil)
	}
	c, err := n.connTo(ctx, addr)
	if err == nil {
		return hop{c: c, target: addr}, nil
	}
	if ctx.Err() != nil || !errors.Is(err, status.ErrConnectionLost) {
		return hop{}, err
	}
	return n.relayHop(ctx, addr, err)
}

// remoteConn returns the live connection to addr as a dial address of a
// remote (an operator may name a node by the address it was reached at).
func (n *Node) remoteConn(addr string) *conn {
	n.mu.RLock()
	r := n.byAddr[addr]
	n.mu.RUnlock()
	if r == nil {
		return nil
	}
	return r.live()
}

// relayHop is a hop to addr through any live connection; dialErr, when
// set, is why addr was not reached directly, reported if nothing else is
// reachable either.
func (n *Node) relayHop(ctx context.Context, addr string, dialErr error) (hop, error) {
	c, err := n.anyConn(ctx)
	if err != nil {
		if dialErr != nil {
			return hop{}, dialErr
		}
		return hop{}, err
	}
	if c.addr == addr || c.identity() == addr {
		return hop{c: c, target: addr}, nil
	}
	return hop{c: c, target: addr, relay: true}, nil
}
