package client

import "github.com/elliptics/elliptics/core/status"

// BreakConns fails every connection of n as a lost connection would.
func BreakConns(n *Node) {
	for _, c := range n.routes.Load().conns {
		c.fail(status.Errorf(status.ConnectionLost, "connection to %s: broken by the test", c.addr))
	}
}
