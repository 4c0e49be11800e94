package client

import (
	"context"

	"github.com/elliptics/elliptics/core/status"
)

// BreakConns fails every connection of n as a lost connection would.
func BreakConns(n *Node) {
	for _, c := range n.routes.Load().conns {
		c.fail(status.Errorf(status.ConnectionLost, "connection to %s: broken by the test", c.addr))
	}
}

// BreakConn fails n's connection to the node at addr.
func BreakConn(n *Node, addr string) {
	if c := n.routes.Load().conns[addr]; c != nil {
		c.fail(status.Errorf(status.ConnectionLost, "connection to %s: broken by the test", c.addr))
	}
}

// Pull makes n pull the member list of the node at addr now
// (ConnectOnDemand).
func Pull(n *Node, addr string) {
	if c := n.routes.Load().conns[addr]; c != nil {
		n.pullFrom(c)
	}
}

// Redial connects n again to the remote at addr, as its background
// redials do (no member list is asked for).
func Redial(ctx context.Context, n *Node, addr string) error {
	_, err := n.remote(addr).get(ctx, n, true)
	return err
}
