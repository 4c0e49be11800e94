package httpapi

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// errStopped ends the reads of a body whose request is over.
var errStopped = errors.New("request body: reading stopped")

// bodyReader reads a request body for a PUT: each read gets IdleTimeout (a
// client that stops sending is dropped, one that keeps sending may take as
// long as its body needs), and with read-ahead a goroutine reads the next
// chunk from the client while the current one is written to the cluster,
// overlapping the two latencies (memory: two chunks more).
//
// A handler must not read the body after it returns: stop ends a read in
// flight (by moving the read deadline to now) and waits for the goroutine.
type bodyReader struct {
	src  io.Reader
	rc   *http.ResponseController
	idle time.Duration

	mu      sync.Mutex // orders deadline changes against stop
	stopped bool
	ended   bool // a read returned an error or the end of the body

	// Read-ahead (nil full: reads go straight to src).
	full chan filled
	free chan []byte
	cur  filled
	off  int
	done chan struct{}
}

// filled is a buffer read ahead, or the error that ended the body.
type filled struct {
	buf []byte
	err error
}

// newBodyReader reads src; with chunk > 0 it reads ahead in chunks of
// that size.
func newBodyReader(src io.Reader, rc *http.ResponseController, idle time.Duration, chunk int) *bodyReader {
	b := &bodyReader{src: src, rc: rc, idle: idle}
	if chunk <= 0 {
		return b
	}
	b.full, b.free, b.done = make(chan filled, 1), make(chan []byte, 2), make(chan struct{})
	b.free <- make([]byte, chunk)
	b.free <- make([]byte, chunk)
	go b.ahead()
	return b
}

// readSrc is one read of the body within the idle timeout.
func (b *bodyReader) readSrc(p []byte) (int, error) {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return 0, errStopped
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	b.mu.Unlock()
	n, err := b.src.Read(p)
	if err != nil {
		b.mu.Lock()
		b.ended = true
		// Once the body is read the server watches the connection to see
		// the client go, and a deadline of ours passing would count as
		// that, cancelling the request.
		_ = b.rc.SetReadDeadline(time.Time{})
		b.mu.Unlock()
	}
	return n, err
}

// ahead fills free buffers from the body until it ends or fails.
func (b *bodyReader) ahead() {
	defer close(b.done)
	defer close(b.full)
	for buf := range b.free {
		// Not io.ReadFull: it would report a short last chunk as
		// io.ErrUnexpectedEOF, which is also how a body shorter than its
		// Content-Length fails, and the two must stay apart.
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = b.readSrc(buf[n:])
			n += m
		}
		b.full <- filled{buf: buf[:n], err: err}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.full == nil {
		return b.readSrc(p)
	}
	for b.off == len(b.cur.buf) {
		if b.cur.err != nil {
			return 0, b.cur.err
		}
		if b.cur.buf != nil {
			b.free <- b.cur.buf[:cap(b.cur.buf)]
		}
		c, ok := <-b.full
		if !ok {
			return 0, errStopped
		}
		b.cur, b.off = c, 0
	}
	n := copy(p, b.cur.buf[b.off:])
	b.off += n
	return n, nil
}

// stop ends reading: a read in flight fails at once, and the read-ahead
// goroutine is gone when stop returns.
func (b *bodyReader) stop() {
	b.mu.Lock()
	b.stopped = true
	if b.full != nil && !b.ended {
		// The read-ahead may be blocked on the client: cut its read (the
		// rest of the body is unread, so the connection is not reused).
		_ = b.rc.SetReadDeadline(time.Now())
	}
	b.mu.Unlock()
	if b.full == nil {
		return
	}
	// Unblock a goroutine waiting to hand over a buffer or for a free one.
	go func() {
		for range b.full {
		}
	}()
	close(b.free)
	<-b.done
}
