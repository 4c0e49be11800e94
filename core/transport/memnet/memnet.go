// Package memnet is an in-memory network for tests: a Network hands out
// listeners and connections that behave like TCP's as far as the nodes can
// tell (buffered, full duplex, deadlines, half-close on Close, EOF after the
// peer closes), so a test process can run hundreds of nodes without
// sockets, ports or file descriptors (like hashicorp/memberlist's
// MockNetwork).
//
// net.Pipe is not enough: it is unbuffered and synchronous, so every write
// waits for the matching read, which serializes a cluster and deadlocks
// two nodes that write to each other at once. A memnet connection buffers
// up to BufSize bytes per direction; a writer waits only when that is full.
package memnet

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultBufSize is the bytes buffered per direction before a writer waits.
const DefaultBufSize = 256 << 10

// backlog is the number of dialed connections a listener holds before
// Accept; a dial waits (until its context ends) when it is full. 4096 is
// Linux's default somaxconn: a seed that a thousand nodes dial at once
// must not time half of them out (with 128, a thousand nodes starting
// together lost a fifth of their dials to the seed while it was busy).
const backlog = 4096

// Addr is a memnet address, "host:port".
type Addr string

// Network returns "mem".
func (Addr) Network() string { return "mem" }

func (a Addr) String() string { return string(a) }

// Network is one in-memory network. Its zero value is not usable: use New.
type Network struct {
	// BufSize is the buffer per direction of new connections
	// (DefaultBufSize when 0). Set it before the first Dial.
	BufSize int

	mu        sync.Mutex
	listeners map[string]*Listener
	nextPort  int
}

// New returns an empty network.
func New() *Network {
	return &Network{listeners: map[string]*Listener{}, nextPort: 40000}
}

// Listen listens on addr ("host:port"); port 0 picks a free port.
func (n *Network) Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "mem", Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if port == "0" || port == "" {
		for {
			n.nextPort++
			addr = net.JoinHostPort(host, strconv.Itoa(n.nextPort))
			if n.listeners[addr] == nil {
				break
			}
		}
	}
	if n.listeners[addr] != nil {
		return nil, &net.OpError{Op: "listen", Net: "mem", Addr: Addr(addr), Err: syscall.EADDRINUSE}
	}
	l := &Listener{n: n, addr: Addr(addr), ch: make(chan *Conn, backlog), done: make(chan struct{})}
	n.listeners[addr] = l
	return l, nil
}

// Dial connects to the listener at addr. It fails with ECONNREFUSED when
// nobody listens there, and waits for room in a full backlog until ctx
// ends.
func (n *Network) Dial(ctx context.Context, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[addr]
	n.nextPort++
	local := Addr("mem-client:" + strconv.Itoa(n.nextPort))
	size := n.BufSize
	n.mu.Unlock()
	if size <= 0 {
		size = DefaultBufSize
	}
	refused := &net.OpError{Op: "dial", Net: "mem", Addr: Addr(addr), Err: syscall.ECONNREFUSED}
	if l == nil {
		return nil, refused
	}
	client, server := Pipe(local, l.addr, size)
	// Room in the backlog wins over a context that ended meanwhile: in a
	// process running a thousand nodes, a dialer may get the CPU only
	// after its deadline, and a select would then fail half of the dials
	// that could have succeeded.
	select {
	case <-l.done:
		return nil, refused
	case l.ch <- server:
		return client, nil
	default:
	}
	select {
	case l.ch <- server:
		return client, nil
	case <-l.done:
		return nil, refused
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: "mem", Addr: Addr(addr), Err: ctx.Err()}
	}
}

// Listener is a memnet listener.
type Listener struct {
	n    *Network
	addr Addr
	ch   chan *Conn
	done chan struct{}
	once sync.Once
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "mem", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops listening; connections not accepted yet are closed, so their
// dialers see EOF, and the address is free again.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.n.mu.Lock()
		if l.n.listeners[string(l.addr)] == l {
			delete(l.n.listeners, string(l.addr))
		}
		l.n.mu.Unlock()
		close(l.done)
		for {
			select {
			case c := <-l.ch:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr returns the listen address.
func (l *Listener) Addr() net.Addr { return l.addr }

// pipe is one direction of a connection: bytes written by one end and not
// yet read by the other.
type pipe struct {
	mu      sync.Mutex
	buf     []byte // unread bytes are buf[r:]
	r       int
	max     int
	wclosed bool          // the writing end closed: reads drain, then EOF
	rclosed bool          // the reading end closed: writes fail
	rwake   chan struct{} // signaled when data arrives or wclosed is set
	wwake   chan struct{} // signaled when room frees or rclosed is set
}

func newPipe(max int) *pipe {
	return &pipe{max: max, rwake: make(chan struct{}, 1), wwake: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Conn is one end of a memnet connection. Reads and writes are each
// serialized (as on a TCP socket: concurrent Writes never interleave).
type Conn struct {
	rx, tx        *pipe
	local, remote Addr
	rd, wd        deadline
	readMu        sync.Mutex
	writeMu       sync.Mutex
	closed        chan struct{}
	closeOnce     sync.Once
}

// Pipe returns the two ends of a connection with bufSize bytes of buffer
// per direction, named local and remote as seen from the first end.
func Pipe(local, remote Addr, bufSize int) (*Conn, *Conn) {
	ab, ba := newPipe(bufSize), newPipe(bufSize)
	a := &Conn{rx: ba, tx: ab, local: local, remote: remote, rd: makeDeadline(), wd: makeDeadline(), closed: make(chan struct{})}
	b := &Conn{rx: ab, tx: ba, local: remote, remote: local, rd: makeDeadline(), wd: makeDeadline(), closed: make(chan struct{})}
	return a, b
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "mem", Source: c.local, Addr: c.remote, Err: err}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Read reads what the peer wrote; io.EOF once the peer closed and
// everything was read. A passed read deadline fails it with
// os.ErrDeadlineExceeded even when data is waiting, as on a socket.
func (c *Conn) Read(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	p := c.rx
	for {
		if isClosed(c.closed) {
			return 0, c.opErr("read", net.ErrClosed)
		}
		dl := c.rd.wait()
		if isClosed(dl) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		p.mu.Lock()
		if p.r < len(p.buf) {
			n := copy(b, p.buf[p.r:])
			p.r += n
			if p.r == len(p.buf) {
				// Drained: reuse a small buffer, let a big one go, so an idle
				// connection holds little memory.
				if cap(p.buf) > 64<<10 {
					p.buf = nil
				} else {
					p.buf = p.buf[:0]
				}
				p.r = 0
			}
			p.mu.Unlock()
			signal(p.wwake)
			return n, nil
		}
		if p.wclosed {
			p.mu.Unlock()
			return 0, io.EOF
		}
		p.mu.Unlock()
		if len(b) == 0 {
			return 0, nil
		}
		select {
		case <-p.rwake:
		case <-c.closed:
		case <-dl:
		}
	}
}

// Write writes all of b, waiting while the peer's buffer is full. It fails
// with EPIPE once the peer closed, and returns what it wrote when the write
// deadline passes.
func (c *Conn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	p := c.tx
	total := 0
	for {
		if isClosed(c.closed) {
			return total, c.opErr("write", net.ErrClosed)
		}
		dl := c.wd.wait()
		if isClosed(dl) {
			return total, c.opErr("write", os.ErrDeadlineExceeded)
		}
		p.mu.Lock()
		if p.rclosed {
			p.mu.Unlock()
			return total, c.opErr("write", syscall.EPIPE)
		}
		if len(b) == 0 {
			p.mu.Unlock()
			return total, nil
		}
		if room := p.max - (len(p.buf) - p.r); room > 0 {
			k := min(room, len(b))
			if p.r > 0 && len(p.buf)+k > cap(p.buf) {
				// Move the unread bytes to the front before growing.
				n := copy(p.buf, p.buf[p.r:])
				p.buf, p.r = p.buf[:n], 0
			}
			p.buf = append(p.buf, b[:k]...)
			b = b[k:]
			total += k
			p.mu.Unlock()
			signal(p.rwake)
			continue
		}
		p.mu.Unlock()
		select {
		case <-p.wwake:
		case <-c.closed:
		case <-dl:
		}
	}
}

// Close closes this end: its reads and writes fail with net.ErrClosed, the
// peer reads what was written before and then EOF, and the peer's writes
// fail with EPIPE.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		close(c.closed)
		c.rx.mu.Lock()
		c.rx.rclosed = true
		c.rx.buf, c.rx.r = nil, 0
		c.rx.mu.Unlock()
		signal(c.rx.wwake)
		c.tx.mu.Lock()
		c.tx.wclosed = true
		c.tx.mu.Unlock()
		signal(c.tx.rwake)
		c.rd.set(time.Time{})
		c.wd.set(time.Time{})
	})
	if !first {
		return c.opErr("close", net.ErrClosed)
	}
	return nil
}

// LocalAddr returns this end's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if isClosed(c.closed) {
		return c.opErr("set", net.ErrClosed)
	}
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the read deadline; a Read waiting now returns when
// it passes.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if isClosed(c.closed) {
		return c.opErr("set", net.ErrClosed)
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the write deadline; a Write waiting for room
// returns when it passes.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if isClosed(c.closed) {
		return c.opErr("set", net.ErrClosed)
	}
	c.wd.set(t)
	return nil
}

// deadline is a channel closed when the deadline passes (as in net.Pipe).
type deadline struct {
	mu     *sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func makeDeadline() deadline { return deadline{mu: new(sync.Mutex), cancel: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait until its callback closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}
