package client

import "time"

// ConnStats describe one connection of a Node, for statistics.
type ConnStats struct {
	// Addr is the address the connection was dialed at.
	Addr string
	// SendQueue counts the frames waiting for the connection's writer;
	// Pending the calls waiting for their reply.
	SendQueue int
	Pending   int
	// Latency is the connection's reply latency estimate (0: no reply yet).
	Latency time.Duration
}

// ConnStats returns the state of the Node's connections to the nodes of
// its route table, by node identity.
func (n *Node) ConnStats() map[string]ConnStats {
	rt := n.routes.Load()
	out := make(map[string]ConnStats, len(rt.conns))
	for ident, c := range rt.conns {
		c.mu.Lock()
		pending := len(c.calls)
		c.mu.Unlock()
		out[ident] = ConnStats{Addr: c.addr, SendQueue: c.w.Queued(), Pending: pending, Latency: time.Duration(c.lat.Load())}
	}
	return out
}
