package config

import (
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/server"
)

// validateLimits checks the [node] connection limits (max_conns_per_addr,
// frame_timeout, handshake_timeout).
func (n *Node) validateLimits(p *problems) {
	if n.MaxConnsPerAddr < 1 {
		p.add("node.max_conns_per_addr", "must be >= 1, got %d", n.MaxConnsPerAddr)
	}
	if n.FrameTimeout.Duration <= 0 {
		p.add("node.frame_timeout", "must be > 0, got %v", n.FrameTimeout)
	}
	if n.HandshakeTimeout.Duration <= 0 {
		p.add("node.handshake_timeout", "must be > 0, got %v", n.HandshakeTimeout)
	}
	if n.MaxBulkKeys < MinMaxBulkKeys || n.MaxBulkKeys > proto.MaxBulkKeys {
		p.add("node.max_bulk_keys", "must be in %d..%d, got %d", MinMaxBulkKeys, proto.MaxBulkKeys, n.MaxBulkKeys)
	}
}

// MinMaxBulkKeys is the lowest node.max_bulk_keys: clients send up to 1024
// keys per bulk request.
const MinMaxBulkKeys = 1024

func (n *Node) connLimits() server.ConnLimits {
	return server.ConnLimits{
		MaxConnsPerAddr:  n.MaxConnsPerAddr,
		FrameTimeout:     n.FrameTimeout.Duration,
		HandshakeTimeout: n.HandshakeTimeout.Duration,
		MaxBulkKeys:      n.MaxBulkKeys,
	}
}
