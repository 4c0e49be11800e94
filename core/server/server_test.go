package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

func startServer(t *testing.T, mutate func(*Options), register func(*Server)) *Server {
	t.Helper()
	opts := Options{
		Listen: []string{"127.0.0.1:0"},
		Backends: []BackendSpec{
			{ID: 0, Group: 1, Backend: mem.New()},
			{ID: 1, Group: 2, Backend: mem.New(), ReadOnly: true},
		},
		MaxPayload: 1 << 20,
	}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := New(opts)
	require.NoError(t, err)
	if register != nil {
		register(s)
	}
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// rawConn speaks frames directly, to test what a well-behaved client cannot.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *proto.Reader
}

func dialRaw(t *testing.T, s *Server) *rawConn {
	nc, err := net.Dial("tcp", s.Addrs()[0].String())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, r: proto.NewReader(nc, 0)}
}

func (c *rawConn) send(h proto.Header, parts ...[]byte) {
	require.NoError(c.t, proto.WriteFrame(c.nc, h, parts...))
}

// recv returns the next reply, skipping ROUTES_CHANGED pushes (sent to
// connections that did a handshake).
func (c *rawConn) recv() (proto.Header, []byte) {
	for {
		h, p, err := c.r.Next()
		require.NoError(c.t, err)
		if h.Cmd == proto.CmdRoutesChanged && !h.IsReply() {
			continue
		}
		return h, p
	}
}

// closed reports whether the server closed the connection.
func (c *rawConn) closed() bool {
	_, _, err := c.r.Next()
	return err != nil
}

func key(s string) id.ID { k, _ := id.FromKey("", s); return k }

func writeFrame(trans uint64, k string, group uint32, data string, flags proto.IOFlags) (proto.Header, [][]byte) {
	h := proto.NewHeader(proto.CmdWrite, trans, key(k), group)
	a := proto.IOAttr{Flags: flags, Size: uint64(len(data))}
	return h, [][]byte{a.Append(nil), []byte(data)}
}

func readFrame(trans uint64, k string, group uint32) proto.Header {
	return proto.NewHeader(proto.CmdRead, trans, key(k), group)
}

func TestWriteReadRaw(t *testing.T) {
	s := startServer(t, nil, nil)
	c := dialRaw(t, s)
	h, parts := writeFrame(1, "k", 1, "hello", 0)
	c.send(h, parts...)
	rh, p := c.recv()
	require.Equal(t, status.OK, rh.Status)
	require.True(t, rh.IsReply())
	require.True(t, rh.IsFinal())
	li, err := proto.DecodeLookupInfo(p)
	require.NoError(t, err)
	require.Equal(t, uint64(5), li.TotalSize)
	require.Equal(t, s.Addrs()[0].String(), li.Address)

	c.send(readFrame(2, "k", 1), (&proto.IOAttr{}).Append(nil))
	rh, p = c.recv()
	require.Equal(t, uint64(2), rh.Trans)
	a, data, err := proto.DecodeIOAttr(p)
	require.NoError(t, err)
	require.Equal(t, "hello", string(data))
	require.Equal(t, uint64(5), a.TotalSize)
}

func TestBadInputKeepsServing(t *testing.T) {
	s := startServer(t, nil, nil)
	other := dialRaw(t, s) // a bystander that must keep working

	for _, tc := range []struct {
		name       string
		send       func(c *rawConn)
		wantStatus status.Code // 0 = expect no reply, just a close
		wantClose  bool
	}{
		{name: "unknown command", send: func(c *rawConn) {
			c.send(proto.NewHeader(proto.Cmd(77), 5, id.Zero, 1))
		}, wantStatus: status.Unsupported},
		{name: "truncated io attr", send: func(c *rawConn) {
			c.send(readFrame(5, "k", 1), []byte{1, 2, 3})
		}, wantStatus: status.Protocol},
		{name: "unknown group", send: func(c *rawConn) {
			c.send(readFrame(5, "k", 9), (&proto.IOAttr{}).Append(nil))
		}, wantStatus: status.NoRoute},
		{name: "missing key", send: func(c *rawConn) {
			c.send(readFrame(5, "nope", 1), (&proto.IOAttr{}).Append(nil))
		}, wantStatus: status.NotFound},
		{name: "read-only backend", send: func(c *rawConn) {
			h, parts := writeFrame(5, "k", 2, "x", 0)
			c.send(h, parts...)
		}, wantStatus: status.ReadOnly},
		{name: "size mismatch", send: func(c *rawConn) {
			h := proto.NewHeader(proto.CmdWrite, 5, key("k"), 1)
			c.send(h, (&proto.IOAttr{Size: 10}).Append(nil), []byte("abc"))
		}, wantStatus: status.Invalid},
		{name: "payload over limit", send: func(c *rawConn) {
			h := proto.NewHeader(proto.CmdWrite, 5, key("k"), 1)
			h.Size = 2 << 20
			var b [proto.HeaderSize]byte
			h.Encode(b[:])
			_, _ = c.nc.Write(b[:])
		}, wantStatus: status.TooLarge, wantClose: true},
		{name: "wrong major version", send: func(c *rawConn) {
			h := proto.NewHeader(proto.CmdBackendStatus, 5, id.Zero, 1)
			var b [proto.HeaderSize]byte
			h.Encode(b[:])
			b[4] = proto.VersionMajor + 1
			_, _ = c.nc.Write(b[:])
		}, wantStatus: status.Protocol, wantClose: true},
		{name: "bad magic", send: func(c *rawConn) {
			_, _ = c.nc.Write(make([]byte, proto.HeaderSize))
		}, wantClose: true},
		{name: "closed mid-frame", send: func(c *rawConn) {
			h := proto.NewHeader(proto.CmdWrite, 5, key("k"), 1)
			h.Size = 1000
			var b [proto.HeaderSize]byte
			h.Encode(b[:])
			_, _ = c.nc.Write(b[:])
			_, _ = c.nc.Write(make([]byte, 10))
			c.nc.(*net.TCPConn).CloseWrite()
		}, wantClose: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s)
			tc.send(c)
			if tc.wantStatus != 0 {
				rh, p := c.recv()
				require.Equal(t, tc.wantStatus, rh.Status, "message: %s", p)
				require.Equal(t, uint64(5), rh.Trans)
				require.True(t, rh.IsFinal())
				require.NotEmpty(t, p, "error replies carry a message")
			}
			if tc.wantClose {
				require.True(t, c.closed(), "connection must be closed")
			} else {
				// The same connection keeps working.
				c.send(proto.NewHeader(proto.CmdBackendStatus, 6, id.Zero, 0))
				rh, _ := c.recv()
				require.Equal(t, status.OK, rh.Status)
				require.Equal(t, uint64(6), rh.Trans)
			}
			other.send(proto.NewHeader(proto.CmdBackendStatus, 7, id.Zero, 0))
			rh, _ := other.recv()
			require.Equal(t, status.OK, rh.Status)
		})
	}
}

func TestHandshake(t *testing.T) {
	s := startServer(t, nil, nil)
	c := dialRaw(t, s)
	c.send(proto.NewHeader(proto.CmdHandshake, 1, id.Zero, 0), (&proto.HandshakeRequest{Major: proto.VersionMajor, Name: "t"}).Append(nil))
	rh, p := c.recv()
	require.Equal(t, status.OK, rh.Status)
	info, err := proto.DecodeNodeInfo(p)
	require.NoError(t, err)
	require.Len(t, info.Backends, 2)
	for i, want := range []proto.BackendInfo{{ID: 0, Group: 1}, {ID: 1, Group: 2, ReadOnly: true}} {
		require.Len(t, info.Backends[i].Points, route.DefaultPoints, "random ring points by default")
		info.Backends[i].Points = nil
		require.Equal(t, want, info.Backends[i])
	}
	require.Equal(t, []string{s.Addrs()[0].String()}, info.Addresses)
	require.Equal(t, uint64(1<<20), info.MaxPayload)

	c.send(proto.NewHeader(proto.CmdHandshake, 2, id.Zero, 0), (&proto.HandshakeRequest{Major: 9}).Append(nil))
	rh, p = c.recv()
	require.Equal(t, status.Protocol, rh.Status)
	require.Contains(t, string(p), "protocol 9.0")
}

// Pipelined appends to one key must apply in the order they were sent.
func TestPerKeyOrder(t *testing.T) {
	s := startServer(t, nil, nil)
	c := dialRaw(t, s)
	const n = 200
	want := ""
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%d,", i)
		want += v
		h, parts := writeFrame(uint64(i+1), "ordered", 1, v, proto.IOAppend)
		c.send(h, parts...)
	}
	for i := 0; i < n; i++ {
		rh, p := c.recv()
		require.Equal(t, status.OK, rh.Status, string(p))
	}
	c.send(readFrame(1000, "ordered", 1), (&proto.IOAttr{}).Append(nil))
	_, p := c.recv()
	_, data, err := proto.DecodeIOAttr(p)
	require.NoError(t, err)
	require.Equal(t, want, string(data))
}

func TestDirectBackend(t *testing.T) {
	s := startServer(t, nil, nil)
	c := dialRaw(t, s)
	h, parts := writeFrame(1, "k", 0, "x", 0)
	h.Flags |= proto.FlagDirectBackend
	h.Backend = 0
	c.send(h, parts...)
	rh, _ := c.recv()
	require.Equal(t, status.OK, rh.Status)
	h.Backend = 5
	c.send(h, parts...)
	rh, _ = c.recv()
	require.Equal(t, status.NoRoute, rh.Status)
}

func TestExtensionAndMultiReply(t *testing.T) {
	const cmdCount proto.Cmd = proto.CmdExtensionBase + 1
	s := startServer(t, nil, func(s *Server) {
		s.Handle(cmdCount, func(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
			for i := 0; i < 3; i++ {
				if err := r.Send([]byte{byte(i)}); err != nil {
					return nil, err
				}
			}
			return [][]byte{[]byte("end")}, nil
		}, HandlerOptions{})
	})
	c := dialRaw(t, s)
	c.send(proto.NewHeader(cmdCount, 1, id.Zero, 0))
	for i := 0; i < 3; i++ {
		rh, p := c.recv()
		require.False(t, rh.IsFinal())
		require.Equal(t, []byte{byte(i)}, p)
	}
	rh, p := c.recv()
	require.True(t, rh.IsFinal())
	require.Equal(t, "end", string(p))
}

func TestHandlerPanicIsContained(t *testing.T) {
	const cmdBoom = proto.CmdExtensionBase + 2
	s := startServer(t, nil, func(s *Server) {
		s.Handle(cmdBoom, func(context.Context, *Request, Replier) ([][]byte, error) { panic("boom") }, HandlerOptions{})
	})
	c := dialRaw(t, s)
	c.send(proto.NewHeader(cmdBoom, 1, id.Zero, 0))
	rh, _ := c.recv()
	require.Equal(t, status.IOError, rh.Status)
	c.send(proto.NewHeader(proto.CmdBackendStatus, 2, id.Zero, 0))
	rh, _ = c.recv()
	require.Equal(t, status.OK, rh.Status)
}

func TestRequestTimeout(t *testing.T) {
	const cmdSlow = proto.CmdExtensionBase + 3
	s := startServer(t, func(o *Options) { o.RequestTimeout = 50 * time.Millisecond }, func(s *Server) {
		s.Handle(cmdSlow, func(ctx context.Context, _ *Request, _ Replier) ([][]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, HandlerOptions{})
	})
	c := dialRaw(t, s)
	c.send(proto.NewHeader(cmdSlow, 1, id.Zero, 0))
	rh, _ := c.recv()
	require.Equal(t, status.Timeout, rh.Status)
}

func TestGracefulShutdown(t *testing.T) {
	const cmdSlow = proto.CmdExtensionBase + 4
	started := make(chan struct{})
	var once sync.Once
	s := startServer(t, nil, func(s *Server) {
		s.Handle(cmdSlow, func(ctx context.Context, _ *Request, _ Replier) ([][]byte, error) {
			once.Do(func() { close(started) })
			time.Sleep(300 * time.Millisecond)
			return [][]byte{[]byte("done")}, nil
		}, HandlerOptions{})
	})
	c := dialRaw(t, s)
	c.send(proto.NewHeader(cmdSlow, 1, id.Zero, 0))
	<-started
	shut := make(chan error)
	go func() { shut <- s.Shutdown(context.Background()) }()
	rh, p := c.recv()
	require.Equal(t, status.OK, rh.Status)
	require.Equal(t, "done", string(p), "in-flight request finished")
	require.NoError(t, <-shut)
	_, _, err := c.r.Next()
	require.ErrorIs(t, err, io.EOF)
	_, err = net.DialTimeout("tcp", s.Addrs()[0].String(), time.Second)
	require.Error(t, err, "listener closed")
}

func TestOptionsValidate(t *testing.T) {
	b := mem.New()
	for _, tc := range []Options{
		{},
		{Listen: []string{"127.0.0.1:0"}},
		{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: 0, Group: 1}}},
		{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: 0, Group: 1, Backend: b}, {ID: 0, Group: 2, Backend: b}}},
		{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: -1, Group: 1, Backend: b}}},
	} {
		_, err := New(tc)
		require.Error(t, err)
	}
	s, err := New(Options{Listen: []string{"256.0.0.1:99999"}, Backends: []BackendSpec{{ID: 0, Group: 1, Backend: b}}})
	require.NoError(t, err)
	require.Error(t, s.Start())
}

func TestKeyQueueOrder(t *testing.T) {
	q := newKeyQueue()
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		q.run(key("same"), func() {
			defer wg.Done()
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range got {
		require.Equal(t, i, got[i])
	}
	// The queue is empty again.
	require.Eventually(t, func() bool {
		for i := range q.shards {
			sh := &q.shards[i]
			sh.mu.Lock()
			n := len(sh.pending)
			sh.mu.Unlock()
			if n != 0 {
				return false
			}
		}
		return true
	}, time.Second, time.Millisecond)
}

// withoutPoints strips ring points, for comparing backend lists.
func withoutPoints(bs []proto.BackendInfo) []proto.BackendInfo {
	out := make([]proto.BackendInfo, len(bs))
	for i, b := range bs {
		b.Points = nil
		out[i] = b
	}
	return out
}
