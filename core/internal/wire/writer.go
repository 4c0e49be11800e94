// Package wire writes frames to one connection from many goroutines, for
// the client's and the server's connections alike.
//
// A frame sent while nobody is writing is written at once by the sending
// goroutine, with one non-blocking write: no hop to a writer goroutine, so
// no thread wakeup per request at low load. Frames sent while someone is
// writing are queued; the queue, and the tail of a write the socket did not
// take at once, are written by the connection's writer goroutine (Run),
// which batches them in a buffer and flushes when the queue is empty. A
// sender therefore never blocks on the socket: it blocks only when the
// queue is full (backpressure), and then only until its stop channel or
// deadline.
package wire

import (
	"bufio"
	"errors"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/elliptics/elliptics/core/proto"
)

// Errors of Send and TrySend.
var (
	// ErrClosed: the writer was closed or a write failed.
	ErrClosed = errors.New("wire: writer closed")
	// ErrStopped: the stop channel closed while the queue was full.
	ErrStopped = errors.New("wire: stopped while waiting for room")
	// ErrDeadline: the deadline passed while the queue was full.
	ErrDeadline = errors.New("wire: deadline passed while waiting for room")
	// ErrFull: TrySend found the queue full.
	ErrFull = errors.New("wire: queue full")
)

const (
	// DefaultMaxQueue is the default number of frames waiting for the writer
	// beyond which senders wait.
	DefaultMaxQueue = 256
	// inlineMax is the largest frame written by its sender; larger ones go
	// through the writer goroutine (and its buffer, which writes big parts
	// without copying them).
	inlineMax = 64 << 10
	bufSize   = 64 << 10
	// deadlineEvery is how often the write deadline is pushed forward: at
	// most once a second, not before every write.
	deadlineEvery = time.Second
)

// Config configures a Writer.
type Config struct {
	// Timeout bounds one blocking write: it is the connection's write
	// deadline, pushed forward at most once a second (and at least every
	// Timeout/4), so a write gets at least Timeout-min(1s, Timeout/4).
	Timeout time.Duration
	// MaxQueue is the number of queued frames beyond which Send waits and
	// TrySend drops (DefaultMaxQueue when 0).
	MaxQueue int
	// OnError is called once when a write fails, by the goroutine whose
	// write failed, after the writer is closed. It must not call Send.
	OnError func(error)
	// Coalesce, when set, is asked by a sender that finds the socket idle
	// whether more frames are likely to follow at once (other requests of
	// the connection in flight). If so the frame is left to Run, which
	// yields before writing so they share the write. It must be cheap and
	// must not call the writer. nil: every such frame is written at once.
	Coalesce func() bool
}

type frame struct {
	h     proto.Header
	parts [][]byte
	rel   Releaser // nil: untracked
}

// A Releaser learns when the writer is done with a frame's parts: copied,
// written to the socket, or dropped because the writer failed or closed.
// A caller that reuses the memory of its parts (a streamed upload's chunk
// buffer) waits for it: a reply comes only after the peer read the frame,
// but a timeout, a canceled context or a lost connection can end a call
// while its frame still waits in the queue, and the reply itself is no
// happens-before edge the race detector (or the memory model) knows of.
type Releaser interface {
	// Released is called exactly once per accepted frame, without the
	// writer's locks held, by the sender or the writer goroutine. It must
	// not block.
	Released()
}

// releaseAll releases every tracked frame of fs.
func releaseAll(fs []frame) {
	for i := range fs {
		if fs[i].rel != nil {
			fs[i].rel.Released()
		}
	}
}

// Writer writes frames to a connection. Create it with New and run Run in a
// goroutine of its own.
type Writer struct {
	nc   net.Conn
	cfg  Config
	raw  syscall.RawConn // nil: no inline writes (not a socket, or not unix)
	kick chan struct{}   // hands the socket to Run (capacity 1)

	mu      sync.Mutex
	yield   bool // Run yields before draining: the frame was coalesced
	queue   []frame
	spare   []frame       // the previous batch, reused as the next queue
	owned   bool          // some goroutine (a sender or Run) writes to the socket
	closed  bool          // no more frames accepted
	drain   bool          // closed gracefully: queued frames are still written
	failed  bool          // a write failed: nothing more is written
	waiters bool          // senders wait on room
	room    chan struct{} // closed when the queue empties or the writer closes

	// Owned by whoever has owned set.
	scratch     []byte
	left        []byte        // part of an inline write the socket did not take
	bw          *bufio.Writer // from bufPool while serve runs
	deadlineSet time.Time
	tryBuf      []byte
	tryN        int
	tryErr      error
	tryFn       func(fd uintptr) bool
}

// New returns a writer on nc.
func New(nc net.Conn, cfg Config) *Writer {
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	w := &Writer{nc: nc, cfg: cfg, kick: make(chan struct{}, 1)}
	if canTryWrite {
		if sc, ok := nc.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				w.raw = rc
				w.tryFn = w.try
			}
		}
	}
	return w
}

// Queued returns the number of frames waiting for the writer goroutine
// (for statistics: a connection whose queue stays long has a slow peer).
func (w *Writer) Queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// ReadBufferSize is the read buffer a connection's frame reader should
// have: 64 KiB on a socket, where it saves system calls, 4 KiB on anything
// else (an in-memory connection, where a read is a copy and a big buffer
// only costs memory: a thousand-node test cluster has a million of them).
func ReadBufferSize(nc net.Conn) int {
	if _, ok := nc.(syscall.Conn); ok {
		return 64 << 10
	}
	return 4 << 10
}

// Send writes a frame, or queues it for Run. h.Size is set from parts. The
// parts must not change until the writer is done with them, which for a
// queued frame is after Send returns: rel, when not nil, is told (once, if
// Send returns nil). When the queue is full Send waits for room until stop
// is closed (ErrStopped) or the deadline passes (ErrDeadline; zero means
// none). It fails with ErrClosed once the writer is closed.
func (w *Writer) Send(h proto.Header, parts [][]byte, rel Releaser, stop <-chan struct{}, deadline time.Time) error {
	size := setSize(&h, parts)
	w.mu.Lock()
	for {
		if w.closed {
			w.mu.Unlock()
			return ErrClosed
		}
		if len(w.queue) < w.cfg.MaxQueue {
			break
		}
		if err := w.waitRoom(stop, deadline); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	w.sendLocked(frame{h: h, parts: parts, rel: rel}, size)
	return nil
}

// TrySend is Send that never waits: it drops the frame (ErrFull) when the
// queue is full. For pushes, which a later push or pull makes up for.
func (w *Writer) TrySend(h proto.Header, parts [][]byte, rel Releaser) error {
	size := setSize(&h, parts)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if len(w.queue) >= w.cfg.MaxQueue {
		w.mu.Unlock()
		return ErrFull
	}
	w.sendLocked(frame{h: h, parts: parts, rel: rel}, size)
	return nil
}

func setSize(h *proto.Header, parts [][]byte) int {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	h.Size = uint64(n)
	return n
}

// sendLocked is called with mu held and releases it.
func (w *Writer) sendLocked(f frame, size int) {
	if w.owned {
		w.queue = append(w.queue, f)
		w.mu.Unlock()
		return
	}
	w.owned = true
	coalesce := w.cfg.Coalesce != nil && w.cfg.Coalesce()
	if coalesce || w.raw == nil || size > inlineMax-proto.HeaderSize {
		w.queue = append(w.queue, f)
		w.yield = coalesce
		w.mu.Unlock()
		w.handOff()
		return
	}
	w.mu.Unlock()
	w.inline(f)
}

// inline writes one frame from the sender with a non-blocking write; the
// sender owns the socket. Whatever the socket does not take, and frames
// queued meanwhile, are left to Run.
func (w *Writer) inline(f frame) {
	buf := w.scratch[:0]
	buf = appendFrame(buf, &f.h, f.parts)
	if f.rel != nil {
		f.rel.Released() // the tail the socket does not take is a copy
	}
	w.refreshDeadline()
	n, err := w.tryWrite(buf)
	if err != nil {
		w.scratch = buf[:0]
		w.fail(err)
		w.handOff()
		return
	}
	if n < len(buf) {
		w.scratch = buf
		w.left = buf[n:]
		w.handOff()
		return
	}
	w.scratch = buf[:0]
	w.release()
}

// release gives up ownership after an inline write, or hands it to Run when
// frames are queued or the writer closed meanwhile.
func (w *Writer) release() {
	w.mu.Lock()
	if len(w.queue) == 0 && !w.closed {
		w.owned = false
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	w.handOff()
}

// handOff passes ownership of the socket to Run. Only the owner calls it,
// so at most one token is ever in kick.
func (w *Writer) handOff() { w.kick <- struct{}{} }

func appendFrame(dst []byte, h *proto.Header, parts [][]byte) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, proto.HeaderSize)...)
	h.Encode(dst[off:])
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// waitRoom waits, with mu held on entry and on return, until the queue may
// have room or the writer closed.
func (w *Writer) waitRoom(stop <-chan struct{}, deadline time.Time) error {
	if w.room == nil {
		w.room = make(chan struct{})
	}
	w.waiters = true
	room := w.room
	w.mu.Unlock()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case <-room:
	case <-stop:
		err = ErrStopped
	case <-expired:
		err = ErrDeadline
	}
	w.mu.Lock()
	return err
}

// wakeLocked wakes senders waiting for room (mu held).
func (w *Writer) wakeLocked() {
	if w.waiters {
		close(w.room)
		w.room = nil
		w.waiters = false
	}
}

// Close stops accepting frames. With drain, frames already queued are still
// written and flushed before Run returns; without, they are dropped.
func (w *Writer) Close(drain bool) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed, w.drain = true, drain
	w.wakeLocked()
	if w.owned {
		// The owner hands the socket to Run when it is done.
		w.mu.Unlock()
		return
	}
	w.owned = true
	w.mu.Unlock()
	w.handOff()
}

// fail marks the writer broken and reports err; the caller owns the socket.
func (w *Writer) fail(err error) {
	w.mu.Lock()
	first := !w.failed
	w.failed, w.closed = true, true
	dropped := w.queue
	w.queue = nil
	w.wakeLocked()
	w.mu.Unlock()
	releaseAll(dropped)
	if first && w.cfg.OnError != nil {
		w.cfg.OnError(err)
	}
}

// Run writes queued frames until the writer is closed and drained, or a
// write fails. Run it in its own goroutine.
func (w *Writer) Run() {
	for range w.kick {
		if !w.serve() {
			return
		}
	}
}

// bufPool holds the batching buffers of idle writers: a writer takes one
// while Run owns the socket and gives it back once flushed, so an idle
// connection holds none (a node with thousands of quiet peer connections
// would otherwise pin 64 KiB for each).
var bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}

// serve writes while Run owns the socket. It returns false when Run should
// end.
func (w *Writer) serve() bool {
	w.bw = bufPool.Get().(*bufio.Writer)
	w.bw.Reset(w.nc)
	defer func() {
		w.bw.Reset(nil) // drop what a failed write left, and the conn
		bufPool.Put(w.bw)
		w.bw = nil
	}()
	if len(w.left) > 0 {
		w.refreshDeadline()
		_, err := w.nc.Write(w.left)
		w.left = nil
		if err != nil {
			w.fail(err)
			return false
		}
	}
	w.mu.Lock()
	yield := w.yield
	w.yield = false
	w.mu.Unlock()
	if yield {
		// Let the goroutines that are about to send (workers finishing
		// their requests) queue their frames behind this one.
		runtime.Gosched()
	}
	var batch []frame
	for {
		w.mu.Lock()
		if batch != nil {
			clear(batch)
			w.spare = batch[:0]
			batch = nil
		}
		if w.failed || w.closed && !w.drain {
			dropped := w.queue
			w.queue = nil
			w.mu.Unlock()
			releaseAll(dropped)
			return false
		}
		if len(w.queue) == 0 {
			if w.bw.Buffered() > 0 {
				w.mu.Unlock()
				w.refreshDeadline()
				if err := w.bw.Flush(); err != nil {
					w.fail(err)
					return false
				}
				continue
			}
			if w.closed {
				w.mu.Unlock()
				return false
			}
			w.owned = false
			w.mu.Unlock()
			return true
		}
		batch = w.queue
		w.queue = w.spare
		w.spare = nil
		w.wakeLocked()
		w.mu.Unlock()
		w.refreshDeadline()
		var hb [proto.HeaderSize]byte
		for i := range batch {
			f := &batch[i]
			f.h.Encode(hb[:])
			_, err := w.bw.Write(hb[:])
			for _, p := range f.parts {
				if err == nil && len(p) > 0 {
					_, err = w.bw.Write(p)
				}
			}
			// bw copied what it buffered: the parts are free either way.
			if f.rel != nil {
				f.rel.Released()
			}
			if err != nil {
				releaseAll(batch[i+1:])
				w.fail(err)
				return false
			}
		}
	}
}

// refreshDeadline pushes the write deadline forward, at most once a second.
// An expired deadline also fails non-blocking writes, so every owner calls
// it before writing.
func (w *Writer) refreshDeadline() {
	if w.cfg.Timeout <= 0 {
		return
	}
	now := time.Now()
	if now.Sub(w.deadlineSet) < min(deadlineEvery, w.cfg.Timeout/4) {
		return
	}
	_ = w.nc.SetWriteDeadline(now.Add(w.cfg.Timeout))
	w.deadlineSet = now
}

// tryWrite writes as much of b as the socket takes without blocking.
func (w *Writer) tryWrite(b []byte) (int, error) {
	w.tryBuf, w.tryN, w.tryErr = b, 0, nil
	err := w.raw.Write(w.tryFn)
	n := w.tryN
	if err == nil {
		err = w.tryErr
	}
	w.tryBuf, w.tryErr = nil, nil
	return n, err
}

// try is the RawConn callback of tryWrite: it never asks to wait.
func (w *Writer) try(fd uintptr) bool {
	for len(w.tryBuf) > 0 {
		n, err := writeNonBlocking(fd, w.tryBuf)
		if n > 0 {
			w.tryN += n
			w.tryBuf = w.tryBuf[n:]
		}
		if err != nil {
			w.tryErr = err
			return true
		}
		if n <= 0 {
			return true // would block
		}
	}
	return true
}
