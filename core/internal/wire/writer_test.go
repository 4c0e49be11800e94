package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// start runs w and returns a channel closed when Run returns.
func start(w *Writer) <-chan struct{} {
	done := make(chan struct{})
	go func() { w.Run(); close(done) }()
	return done
}

func header(trans uint64) proto.Header {
	return proto.NewHeader(proto.CmdWrite, trans, id.Zero, 1)
}

// payload is frame trans's payload: size bytes derived from trans.
func payload(trans uint64, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(trans*31 + uint64(i))
	}
	if size >= 8 {
		binary.LittleEndian.PutUint64(p, trans)
	}
	return p
}

func TestConcurrentSendersKeepFramesWholeAndOrdered(t *testing.T) {
	a, b := pair(t)
	w := New(a, Config{Timeout: 10 * time.Second, MaxQueue: 8})
	done := start(w)

	const senders, each = 16, 300
	sizes := []int{0, 1, 100, 1000, 70 << 10} // the last is over inlineMax
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				trans := uint64(s)<<32 | uint64(i)
				size := sizes[(s+i)%len(sizes)]
				p := payload(trans, size)
				require.NoError(t, w.Send(header(trans), [][]byte{p[:size/2], p[size/2:]}, nil, nil, time.Time{}))
			}
		}()
	}
	r := proto.NewReader(b, 0)
	next := make([]int, senders)
	for range senders * each {
		h, p, err := r.Next()
		require.NoError(t, err)
		s, i := int(h.Trans>>32), int(uint32(h.Trans))
		require.Equal(t, next[s], i, "frames of one sender arrive in the order sent")
		next[s]++
		require.True(t, bytes.Equal(payload(h.Trans, len(p)), p), "payload of frame %x intact", h.Trans)
		require.Equal(t, sizes[(s+i)%len(sizes)], len(p))
	}
	wg.Wait()
	w.Close(true)
	<-done
}

func TestBackpressureHonoursStopAndDeadline(t *testing.T) {
	a, b := pair(t)
	w := New(a, Config{Timeout: 10 * time.Second, MaxQueue: 4})
	done := start(w)
	big := make([]byte, 1<<20)
	// The peer does not read: fill the socket buffers and the queue.
	full := false
	for i := 0; i < 1000 && !full; i++ {
		err := w.Send(header(uint64(i)), [][]byte{big}, nil, nil, time.Now().Add(200*time.Millisecond))
		if errors.Is(err, ErrDeadline) {
			full = true
		} else {
			require.NoError(t, err)
		}
	}
	require.True(t, full, "the queue fills while the peer does not read")

	require.ErrorIs(t, w.TrySend(header(1), [][]byte{[]byte("push")}, nil), ErrFull)

	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- w.Send(header(2), [][]byte{big}, nil, stop, time.Time{}) }()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	require.ErrorIs(t, <-errc, ErrStopped)

	start := time.Now()
	err := w.Send(header(3), [][]byte{big}, nil, nil, start.Add(100*time.Millisecond))
	require.ErrorIs(t, err, ErrDeadline)
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)

	// A sender waiting without bounds is released by Close.
	go func() { errc <- w.Send(header(4), [][]byte{big}, nil, nil, time.Time{}) }()
	time.Sleep(50 * time.Millisecond)
	w.Close(false)
	require.ErrorIs(t, <-errc, ErrClosed)
	b.Close()
	a.Close() // the blocked write fails; Run ends
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	require.ErrorIs(t, w.Send(header(5), nil, nil, nil, time.Time{}), ErrClosed)
	require.ErrorIs(t, w.TrySend(header(5), nil, nil), ErrClosed)
}

func TestCloseDrainsQueuedFrames(t *testing.T) {
	a, b := pair(t)
	w := New(a, Config{Timeout: 10 * time.Second})
	const n = 200
	// Run is not started yet: frames queue behind the first inline write or
	// its leftover.
	for i := range n {
		require.NoError(t, w.Send(header(uint64(i)), [][]byte{payload(uint64(i), 5000)}, nil, nil, time.Time{}))
	}
	w.Close(true)
	require.ErrorIs(t, w.Send(header(n), nil, nil, nil, time.Time{}), ErrClosed)
	done := start(w)
	r := proto.NewReader(b, 0)
	for i := range n {
		h, p, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, uint64(i), h.Trans)
		require.Equal(t, payload(uint64(i), 5000), p)
	}
	<-done
	a.Close()
	_, _, err := r.Next()
	require.ErrorIs(t, err, io.EOF)
}

func TestPartialInlineWriteIsFinishedByRun(t *testing.T) {
	a, b := pair(t)
	w := New(a, Config{Timeout: 10 * time.Second})
	done := start(w)
	// Frames just under inlineMax go inline; with the peer not reading, the
	// socket soon takes only part of one, and Run writes the rest.
	size := inlineMax - proto.HeaderSize
	const n = 200
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range n {
			if err := w.Send(header(uint64(i)), [][]byte{payload(uint64(i), size)}, nil, nil, time.Time{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the buffers fill
	r := proto.NewReader(b, 0)
	for i := range n {
		h, p, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, uint64(i), h.Trans)
		require.True(t, bytes.Equal(payload(uint64(i), size), p))
	}
	<-sent
	w.Close(true)
	<-done
}

func TestWriteFailureReportsOnceAndStops(t *testing.T) {
	a, b := pair(t)
	var calls atomic.Int32
	w := New(a, Config{Timeout: 10 * time.Second, OnError: func(error) { calls.Add(1) }})
	done := start(w)
	b.Close()
	a.Close()
	for i := 0; i < 100; i++ {
		err := w.Send(header(uint64(i)), [][]byte{[]byte("x")}, nil, nil, time.Time{})
		if err != nil {
			require.ErrorIs(t, err, ErrClosed)
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after a failed write")
	}
	require.Equal(t, int32(1), calls.Load())
	require.ErrorIs(t, w.Send(header(1), nil, nil, nil, time.Time{}), ErrClosed)
	w.Close(true) // harmless
}

func TestDeadlineRefreshedForIdleConnections(t *testing.T) {
	a, b := pair(t)
	// A deadline set for one write must not fail a later one, inline or not.
	w := New(a, Config{Timeout: 80 * time.Millisecond})
	done := start(w)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := proto.NewReader(b, 0)
	for i := range 4 {
		size := []int{10, 100 << 10}[i%2]
		require.NoError(t, w.Send(header(uint64(i)), [][]byte{payload(uint64(i), size)}, nil, nil, time.Time{}))
		h, p, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, uint64(i), h.Trans)
		require.Len(t, p, size)
		time.Sleep(150 * time.Millisecond)
	}
	w.Close(true)
	<-done
}

// reuse is a sender's buffer that it overwrites as soon as the writer
// releases it, as a streamed upload reuses its chunk buffer.
type reuse struct {
	buf      []byte
	released atomic.Int64
	ch       chan struct{}
}

func (r *reuse) Released() {
	r.released.Add(1)
	r.ch <- struct{}{}
}

func TestReleasedFramesMayBeReused(t *testing.T) {
	for _, size := range []int{100, 70 << 10, 1 << 20} { // inline, queued, bigger than the batch buffer
		a, b := pair(t)
		w := New(a, Config{Timeout: 10 * time.Second})
		done := start(w)
		const n = 50
		r := &reuse{buf: make([]byte, size), ch: make(chan struct{}, 1)}
		go func() {
			for i := range n {
				copy(r.buf, payload(uint64(i), size))
				if err := w.Send(header(uint64(i)), [][]byte{r.buf}, r, nil, time.Time{}); err != nil {
					t.Error(err)
					return
				}
				<-r.ch // only now may the buffer change (the race detector checks)
			}
		}()
		pr := proto.NewReader(b, 0)
		for i := range n {
			h, p, err := pr.Next()
			require.NoError(t, err)
			require.Equal(t, uint64(i), h.Trans)
			require.True(t, bytes.Equal(payload(uint64(i), size), p), "frame %d of %d bytes intact", i, size)
		}
		require.EqualValues(t, n, r.released.Load())
		w.Close(true)
		<-done
	}
}

type counter struct{ n atomic.Int64 }

func (c *counter) Released() { c.n.Add(1) }

func TestDroppedFramesAreReleased(t *testing.T) {
	a, b := pair(t)
	w := New(a, Config{Timeout: 10 * time.Second, MaxQueue: 4})
	done := start(w)
	big := make([]byte, 1<<20)
	var rel counter
	accepted := 0
	// The peer does not read: frames pile up in the socket and the queue.
	for i := 0; i < 1000; i++ {
		err := w.Send(header(uint64(i)), [][]byte{big}, &rel, nil, time.Now().Add(200*time.Millisecond))
		if errors.Is(err, ErrDeadline) {
			break
		}
		require.NoError(t, err)
		accepted++
	}
	require.Less(t, rel.n.Load(), int64(accepted), "queued frames are not released before they are written")
	b.Close()
	a.Close() // the blocked write fails and Run drops the queue
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	require.EqualValues(t, accepted, rel.n.Load(), "every accepted frame is released exactly once")
}

// TestCoalescedFramesWaitForRun checks that a frame sent while Coalesce
// reports more frames coming is left to Run, with the frames sent after it,
// instead of being written by its sender; and that without the hint the
// sender writes it at once.
func TestCoalescedFramesWaitForRun(t *testing.T) {
	a, b := pair(t)
	var more atomic.Bool
	more.Store(true)
	w := New(a, Config{Timeout: 10 * time.Second, Coalesce: more.Load})
	for i := range 3 {
		require.NoError(t, w.Send(header(uint64(i)), [][]byte{payload(uint64(i), 100)}, nil, nil, time.Time{}))
	}
	// Run is not running: nothing may have reached the peer.
	require.NoError(t, b.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	var one [1]byte
	_, err := b.Read(one[:])
	var ne net.Error
	require.ErrorAs(t, err, &ne, "coalesced frames wait for Run")
	require.True(t, ne.Timeout())
	require.Equal(t, 3, w.Queued())

	done := start(w)
	require.NoError(t, b.SetReadDeadline(time.Now().Add(10*time.Second)))
	r := proto.NewReader(b, 0)
	for i := range 3 {
		h, p, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, uint64(i), h.Trans, "coalesced frames keep their order")
		require.True(t, bytes.Equal(payload(h.Trans, 100), p))
	}
	w.Close(true)
	<-done

	// Without the hint a sender that finds the socket idle writes itself.
	a2, b2 := pair(t)
	more.Store(false)
	w2 := New(a2, Config{Timeout: 10 * time.Second, Coalesce: more.Load})
	require.NoError(t, w2.Send(header(7), [][]byte{payload(7, 100)}, nil, nil, time.Time{}))
	require.NoError(t, b2.SetReadDeadline(time.Now().Add(10*time.Second)))
	h, _, err := proto.NewReader(b2, 0).Next()
	require.NoError(t, err, "written inline, with no Run")
	require.Equal(t, uint64(7), h.Trans)
	done2 := start(w2)
	w2.Close(true)
	<-done2
}
