package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Defaults of the connection limits (Options fields left zero).
const (
	// DefaultMaxConnsPerAddr is the connections one client IP may hold
	// open: high, since a node's tests, clients and peers on one host all
	// come from loopback.
	DefaultMaxConnsPerAddr = 1024
	// DefaultFrameTimeout is how long the rest of a frame may take once its
	// first byte arrived.
	DefaultFrameTimeout = 30 * time.Second
	// DefaultHandshakeTimeout is how long a new connection may take to send
	// the header of its first frame.
	DefaultHandshakeTimeout = 10 * time.Second
)

// ConnLimits bound what one connection, or one client address, may hold.
type ConnLimits struct {
	// MaxConnsPerAddr is the connections accepted from one client IP
	// (default DefaultMaxConnsPerAddr); one more is closed at once.
	MaxConnsPerAddr int
	// FrameTimeout bounds the time from the first byte of a frame to its
	// last (default DefaultFrameTimeout; a frame gets between it and twice
	// it, see deadlineReader); a peer that stalls mid-frame
	// (slow-loris) is disconnected. Idle time between frames is not bounded.
	FrameTimeout time.Duration
	// HandshakeTimeout bounds the time from accepting a connection to the
	// end of its first frame's header (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// MaxBulkKeys bounds the keys of one BULK_READ or BULK_WRITE
	// (default and upper bound proto.MaxBulkKeys; this client sends at
	// most 1024 per request); more are refused with TooLarge.
	MaxBulkKeys int
}

func (l *ConnLimits) setDefaults() {
	if l.MaxConnsPerAddr == 0 {
		l.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if l.FrameTimeout == 0 {
		l.FrameTimeout = DefaultFrameTimeout
	}
	if l.HandshakeTimeout == 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.MaxBulkKeys == 0 {
		l.MaxBulkKeys = proto.MaxBulkKeys
	}
}

func (l *ConnLimits) validate() error {
	if l.MaxConnsPerAddr < 0 || l.FrameTimeout < 0 || l.HandshakeTimeout < 0 || l.MaxBulkKeys < 0 {
		return errors.New("server: negative connection limit")
	}
	if l.MaxBulkKeys > proto.MaxBulkKeys {
		return fmt.Errorf("server: MaxBulkKeys %d over the protocol's %d", l.MaxBulkKeys, proto.MaxBulkKeys)
	}
	return nil
}

// addrConns counts the open connections of each client IP.
type addrConns struct {
	mu      sync.Mutex
	n       map[string]int
	lastLog atomic.Int64 // unix nanos of the last refusal logged
	refused atomic.Uint64
}

// connHost is the IP a connection is counted under; on transports whose
// addresses are not IPs (memnet, where every client is "mem-client:N") it
// is the whole address, so each connection counts alone.
func connHost(a net.Addr) string {
	s := a.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		if ip, err := netip.ParseAddr(h); err == nil {
			return ip.Unmap().WithZone("").String()
		}
	}
	return s
}

// admit counts a new connection from host, or refuses it (false) when host
// already holds max.
func (a *addrConns) admit(host string, max int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	if a.n[host] >= max {
		return false
	}
	a.n[host]++
	return true
}

func (a *addrConns) release(host string) {
	a.mu.Lock()
	if a.n[host] <= 1 {
		delete(a.n, host)
	} else {
		a.n[host]--
	}
	a.mu.Unlock()
}

// refusedLogEvery rate-limits the warning about refused connections.
const refusedLogEvery = time.Second

// admitConn applies node.max_conns_per_addr to an accepted connection; it
// closes a refused one and logs (at most once a second) why.
func (s *Server) admitConn(nc net.Conn) (host string, ok bool) {
	host = connHost(nc.RemoteAddr())
	max := s.opts.Limits.MaxConnsPerAddr
	if s.addrConns.admit(host, max) {
		return host, true
	}
	nc.Close()
	n := s.addrConns.refused.Add(1)
	now := time.Now().UnixNano()
	last := s.addrConns.lastLog.Load()
	if now-last >= int64(refusedLogEvery) && s.addrConns.lastLog.CompareAndSwap(last, now) {
		s.log.Warn("connection refused: too many connections from one address (node.max_conns_per_addr)",
			zap.String("addr", host), zap.Int("max_conns_per_addr", max), zap.Uint64("refused_total", n))
	}
	return host, false
}

// deadlineReader sits between a connection and its frame reader and bounds
// the time a frame takes to arrive (slow-loris protection) without bounding
// the idle time between frames. It is used by the connection's read loop
// only.
//
// States: first (a new connection: the deadline is accept +
// HandshakeTimeout until a whole header has arrived), idle (between frames:
// a deadline that fires is cleared and the read retried) and armed (a frame
// is under way). The fast path costs no clock read and no deadline update:
// a deadline, once set, stays while frames keep completing; when it fires
// and a frame completed since it was set, it is moved FrameTimeout on, else
// the frame under way has stalled and the read fails. So a frame gets
// between FrameTimeout and twice it, and a busy connection updates its
// deadline about once per FrameTimeout.
type deadlineReader struct {
	nc net.Conn
	l  *ConnLimits
	// stopped is set by stopReading before it sets a past deadline, so a
	// deadline set here afterwards is put back.
	stopped *atomic.Bool

	state     uint8
	firstSeen int  // bytes received while in stateFirst
	armed     bool // a deadline is set
	progress  bool // a frame completed since the deadline was set
}

const (
	stateFirst uint8 = iota
	stateIdle
	stateArmed
)

func (r *deadlineReader) init() {
	r.state = stateFirst
	r.setDeadline(time.Now().Add(r.l.HandshakeTimeout))
}

func (r *deadlineReader) setDeadline(t time.Time) {
	r.armed, r.progress = !t.IsZero(), false
	_ = r.nc.SetReadDeadline(t)
	if r.stopped.Load() {
		_ = r.nc.SetReadDeadline(time.Now())
	}
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	for {
		n, err := r.nc.Read(p)
		if n > 0 {
			switch r.state {
			case stateIdle:
				r.state = stateArmed
				if !r.armed {
					r.setDeadline(time.Now().Add(r.l.FrameTimeout))
				}
			case stateFirst:
				if r.firstSeen += n; r.firstSeen >= proto.HeaderSize {
					r.state = stateArmed
					r.setDeadline(time.Now().Add(r.l.FrameTimeout))
				}
			}
			return n, err
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || r.stopped.Load() {
			return n, err
		}
		switch {
		case r.state == stateIdle:
			// Nothing under way: the connection may stay idle.
			r.setDeadline(time.Time{})
			continue
		case r.state == stateFirst:
			return 0, status.Errorf(status.Timeout, "no frame header within %v of connecting (node.handshake_timeout): %v",
				r.l.HandshakeTimeout, err)
		case r.progress:
			// The deadline was set before the frame under way started.
			r.setDeadline(time.Now().Add(r.l.FrameTimeout))
			continue
		default:
			return 0, status.Errorf(status.Timeout, "frame not complete within %v (node.frame_timeout): %v",
				r.l.FrameTimeout, err)
		}
	}
}

// frameDone is called by the read loop after each complete frame; buffered
// says whether bytes of the next frame are already buffered (it has
// started).
func (r *deadlineReader) frameDone(buffered bool) {
	r.progress = true
	if buffered {
		r.state = stateArmed
	} else {
		r.state = stateIdle
	}
}
