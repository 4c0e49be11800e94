package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

func TestRequestContext(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()

	// Err alone notices the deadline; no Done, no timer.
	var r reqCtx
	r.init(parent, time.Now().Add(30*time.Millisecond))
	require.NoError(t, r.Err())
	d, ok := r.Deadline()
	require.True(t, ok)
	require.False(t, d.IsZero())
	time.Sleep(40 * time.Millisecond)
	require.ErrorIs(t, r.Err(), context.DeadlineExceeded)
	select {
	case <-r.Done():
	default:
		t.Fatal("Done is closed once Err reported the deadline")
	}
	require.Nil(t, r.timer, "no timer once the deadline has passed")

	// Done first called after the deadline (nothing noticed it before):
	// a closed channel, closed once.
	var late reqCtx
	late.init(parent, time.Now().Add(-time.Millisecond))
	select {
	case <-late.Done():
	default:
		t.Fatal("Done of a request past its deadline is open")
	}
	require.ErrorIs(t, late.Err(), context.DeadlineExceeded)

	// Done arms a timer that closes it at the deadline.
	var r2 reqCtx
	r2.init(parent, time.Now().Add(30*time.Millisecond))
	select {
	case <-r2.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed at the deadline")
	}
	require.ErrorIs(t, r2.Err(), context.DeadlineExceeded)

	// The parent's cancellation reaches Err and Done.
	p3, cancel3 := context.WithCancel(parent)
	var r3 reqCtx
	r3.init(p3, time.Now().Add(time.Hour))
	done := r3.Done()
	cancel3()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("parent cancellation did not close Done")
	}
	require.ErrorIs(t, r3.Err(), context.Canceled)

	// A derived context follows it; the end of the request cancels it.
	var r4 reqCtx
	r4.init(parent, time.Now().Add(time.Hour))
	child, cancelChild := context.WithCancel(&r4)
	defer cancelChild()
	r4.cancel(context.Canceled)
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("derived context not canceled")
	}
	require.ErrorIs(t, r4.Err(), context.Canceled)
	require.NotErrorIs(t, r4.Err(), context.DeadlineExceeded)
	r4.cancel(context.DeadlineExceeded) // later ends change nothing
	require.True(t, errors.Is(r4.Err(), context.Canceled))
}

// A slow request on one key does not hold back other keys on the same
// connection, while requests on the slow key still wait their turn.
func TestSlowKeyDoesNotBlockOtherKeys(t *testing.T) {
	const cmdHold = proto.CmdExtensionBase + 7
	release := make(chan struct{})
	var mu sync.Mutex
	var order []uint64
	s := startServer(t, nil, func(s *Server) {
		s.Handle(cmdHold, func(_ context.Context, req *Request, _ Replier) ([][]byte, error) {
			if string(req.Payload) == "hold" {
				<-release
			}
			mu.Lock()
			order = append(order, req.Header.Trans)
			mu.Unlock()
			return nil, nil
		}, HandlerOptions{Ordered: true})
	})
	c := dialRaw(t, s)
	c.send(proto.NewHeader(cmdHold, 1, key("slow"), 0), []byte("hold"))
	c.send(proto.NewHeader(cmdHold, 2, key("slow"), 0), []byte("after"))
	for i := uint64(3); i < 10; i++ {
		c.send(proto.NewHeader(cmdHold, i, key("other"+string(rune('a'+i))), 0), []byte("go"))
	}
	for range 7 {
		rh, _ := c.recv()
		require.Equal(t, status.OK, rh.Status)
		require.GreaterOrEqual(t, rh.Trans, uint64(3), "only other keys answer while the slow one waits")
	}
	close(release)
	rh, _ := c.recv()
	require.Equal(t, uint64(1), rh.Trans)
	rh, _ = c.recv()
	require.Equal(t, uint64(2), rh.Trans)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []uint64{1, 2}, order[len(order)-2:])
}

func TestWorkersReapAndStop(t *testing.T) {
	var p workers
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		p.run(funcJob(func() { time.Sleep(5 * time.Millisecond); wg.Done() }))
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) == 50
	}, 5*time.Second, time.Millisecond)
	// A parked worker takes the next job.
	ran := make(chan struct{})
	p.run(funcJob(func() { close(ran) }))
	<-ran
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) == 50
	}, 5*time.Second, time.Millisecond)
	p.reap() // starts the period
	p.mu.Lock()
	require.Len(t, p.idle, 50, "workers parked in this period stay")
	p.mu.Unlock()
	p.reap()
	p.mu.Lock()
	require.Empty(t, p.idle, "workers parked for a whole period exit")
	p.mu.Unlock()
	p.run(funcJob(func() {}))
	p.stop()
	ran = make(chan struct{})
	p.run(funcJob(func() { close(ran) }))
	<-ran
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) == 0
	}, 5*time.Second, time.Millisecond)
}

// A node listening on every interface names, in replies, the address the
// request came in on.
func TestReplyAddressOfWildcardListener(t *testing.T) {
	s := startServer(t, func(o *Options) { o.Listen = []string{"0.0.0.0:0"} }, nil)
	_, port, err := net.SplitHostPort(s.Addrs()[0].String())
	require.NoError(t, err)
	nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawConn{t: t, nc: nc, r: proto.NewReader(nc, 0)}
	h, parts := writeFrame(1, "k", 1, "v", 0)
	c.send(h, parts...)
	rh, p := c.recv()
	require.Equal(t, status.OK, rh.Status)
	li, err := proto.DecodeLookupInfo(p)
	require.NoError(t, err)
	require.Equal(t, nc.RemoteAddr().String(), li.Address)
}
