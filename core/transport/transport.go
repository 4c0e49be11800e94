// Package transport is the seam between the nodes and the network: a
// server listens and a client dials through a Transport. TCP is the
// default; memnet is an in-memory network for tests that run hundreds of
// nodes in one process (no sockets, no file descriptors, no ports).
package transport

import (
	"context"
	"net"
	"time"
)

// Dialer opens connections to "host:port" addresses.
type Dialer interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// Transport listens and dials.
type Transport interface {
	Dialer
	Listen(addr string) (net.Listener, error)
}

// TCP is the real network. Its zero value is ready to use.
type TCP struct {
	// KeepAlive is the keep-alive period of dialed connections (30s when 0).
	KeepAlive time.Duration
}

// Listen listens on a TCP address.
func (TCP) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// Dial connects to a TCP address; ctx bounds the attempt. Nagle is off:
// frames are written whole and small requests must not wait for an ACK.
func (t TCP) Dial(ctx context.Context, addr string) (net.Conn, error) {
	ka := t.KeepAlive
	if ka == 0 {
		ka = 30 * time.Second
	}
	d := net.Dialer{KeepAlive: ka}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return nc, nil
}
