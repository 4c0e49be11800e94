package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// startLimited starts a node with small connection limits and a log the
// test reads.
func startLimited(t *testing.T, l ConnLimits) (*Server, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, func(o *Options) {
		o.Limits = l
		o.Logger = zap.New(core)
	}, nil)
	return s, logs
}

// waitLog waits until a log entry contains every one of parts.
func waitLog(t *testing.T, logs *observer.ObservedLogs, level zapcore.Level, parts ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, e := range logs.All() {
			if e.Level != level {
				continue
			}
			s := e.Message
			for _, f := range e.Context {
				if f.Type == zapcore.ErrorType {
					s += " " + f.Interface.(error).Error()
				}
			}
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(s, p)
			}
			if ok {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "no %v log with %q", level, parts)
}

// ping sends a handshake-free request every node answers and checks the
// reply.
func (c *rawConn) ping(trans uint64) {
	c.send(proto.NewHeader(proto.CmdBackendStatus, trans, id.Zero, 0))
	h, _ := c.recv()
	require.Equal(c.t, trans, h.Trans)
	require.Equal(c.t, status.OK, h.Status)
}

func TestLimitConnsPerAddr(t *testing.T) {
	s, logs := startLimited(t, ConnLimits{MaxConnsPerAddr: 3})
	var conns []*rawConn
	for i := range 3 {
		c := dialRaw(t, s)
		c.ping(uint64(i + 1))
		conns = append(conns, c)
	}
	// The fourth is closed at once, without a reply.
	extra := dialRaw(t, s)
	extra.send(proto.NewHeader(proto.CmdBackendStatus, 9, id.Zero, 0))
	require.True(t, extra.closed())
	waitLog(t, logs, zapcore.WarnLevel, "node.max_conns_per_addr")
	// The others keep being served.
	for i, c := range conns {
		c.ping(uint64(10 + i))
	}
	// Closing one makes room for another.
	conns[0].nc.Close()
	require.Eventually(t, func() bool {
		c := dialRaw(t, s)
		c.send(proto.NewHeader(proto.CmdBackendStatus, 20, id.Zero, 0))
		_, _, err := c.r.Next()
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
}

func TestLimitSlowFrame(t *testing.T) {
	s, logs := startLimited(t, ConnLimits{FrameTimeout: 200 * time.Millisecond})
	c := dialRaw(t, s)
	c.ping(1)
	// Idle for longer than the frame timeout between frames is fine.
	time.Sleep(400 * time.Millisecond)
	c.ping(2)

	// Half a header, then a stall: closed after frame_timeout.
	var hb [proto.HeaderSize]byte
	h3 := proto.NewHeader(proto.CmdBackendStatus, 3, id.Zero, 0)
	h3.Encode(hb[:])
	start := time.Now()
	_, err := c.nc.Write(hb[:proto.HeaderSize/2])
	require.NoError(t, err)
	require.True(t, c.closed())
	require.Less(t, time.Since(start), 3*time.Second)
	waitLog(t, logs, zapcore.WarnLevel, "slow peer", "node.frame_timeout")

	// A whole header whose payload stalls gets a Timeout reply naming the
	// limit, then the connection closes.
	c2 := dialRaw(t, s)
	c2.ping(4)
	h := proto.NewHeader(proto.CmdWrite, 5, id.Zero, 1)
	h.Size = 100
	h.Encode(hb[:])
	_, err = c2.nc.Write(append(hb[:], make([]byte, 10)...))
	require.NoError(t, err)
	rh, p := c2.recv()
	require.Equal(t, uint64(5), rh.Trans)
	require.Equal(t, status.Timeout, rh.Status)
	require.Contains(t, proto.DecodeError(rh.Status, p).Error(), "node.frame_timeout")
	require.True(t, c2.closed())

	// Frames that dribble in, each within the timeout, are fine.
	c3 := dialRaw(t, s)
	for i := range 3 {
		hi := proto.NewHeader(proto.CmdBackendStatus, uint64(6+i), id.Zero, 0)
		hi.Encode(hb[:])
		_, err = c3.nc.Write(hb[:10])
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		_, err = c3.nc.Write(hb[10:])
		require.NoError(t, err)
		rh, _ := c3.recv()
		require.Equal(t, status.OK, rh.Status)
		time.Sleep(300 * time.Millisecond) // idle
	}
}

func TestLimitFirstFrame(t *testing.T) {
	s, logs := startLimited(t, ConnLimits{HandshakeTimeout: 200 * time.Millisecond})
	// Nothing sent: closed after handshake_timeout.
	c := dialRaw(t, s)
	start := time.Now()
	require.True(t, c.closed())
	require.Less(t, time.Since(start), 3*time.Second)
	waitLog(t, logs, zapcore.WarnLevel, "slow peer", "node.handshake_timeout")

	// A first frame in time: the connection may then stay idle.
	c2 := dialRaw(t, s)
	c2.ping(1)
	time.Sleep(400 * time.Millisecond)
	c2.ping(2)
}

func TestLimitOptionsValidate(t *testing.T) {
	o := Options{Listen: []string{"x:1"}, Backends: []BackendSpec{{Backend: nil, Disabled: true, Open: nil}}}
	o.Backends = nil
	o.Limits.FrameTimeout = -1
	require.Error(t, o.Validate())
	l := ConnLimits{FrameTimeout: -1}
	require.Error(t, l.validate())
	l = ConnLimits{}
	l.setDefaults()
	require.Equal(t, ConnLimits{MaxConnsPerAddr: DefaultMaxConnsPerAddr, FrameTimeout: DefaultFrameTimeout,
		HandshakeTimeout: DefaultHandshakeTimeout, MaxBulkKeys: proto.MaxBulkKeys}, l)
	l = ConnLimits{MaxBulkKeys: proto.MaxBulkKeys + 1}
	require.ErrorContains(t, l.validate(), "MaxBulkKeys")
}

func TestLimitConnHost(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5555":      "127.0.0.1",
		"[::1]:80":            "::1",
		"[::ffff:10.0.0.1]:1": "10.0.0.1",
		"[fe80::1%eth0]:1":    "fe80::1",
		"mem-client:17":       "mem-client:17",
		"/run/elliptics.sock": "/run/elliptics.sock",
	} {
		require.Equal(t, want, connHost(fakeAddr(in)), in)
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// TestLimitMonitorHTTP: the monitor's HTTP server bounds slow and large
// request headers and idle connections.
func TestLimitMonitorHTTP(t *testing.T) {
	s := startServer(t, func(o *Options) { o.Monitor.HTTPAddr = "127.0.0.1:0" }, nil)
	require.NotNil(t, s.http)
	require.Positive(t, s.http.ReadHeaderTimeout)
	require.Positive(t, s.http.ReadTimeout)
	require.Positive(t, s.http.WriteTimeout)
	require.Positive(t, s.http.IdleTimeout)
	require.Positive(t, s.http.MaxHeaderBytes)
}

// BenchmarkFrameReadDeadline measures the frame deadlines' cost on the read
// path: 1 KiB frames over loopback TCP, read with and without
// deadlineReader, one frame at a time (each frame's first byte arrives on
// an idle connection) and pipelined (frames already buffered).
func BenchmarkFrameReadDeadline(b *testing.B) {
	for _, pipelined := range []bool{false, true} {
		for _, withDeadline := range []bool{false, true} {
			name := map[bool]string{false: "plain", true: "deadline"}[withDeadline]
			name += map[bool]string{false: "/one-by-one", true: "/pipelined"}[pipelined]
			b.Run(name, func(b *testing.B) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(b, err)
				defer ln.Close()
				go func() {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					defer c.Close()
					frame := proto.AppendFrame(nil, proto.NewHeader(proto.CmdWrite, 1, id.Zero, 1), make([]byte, 1024))
					batch := frame
					if pipelined {
						batch = bytes.Repeat(frame, 64)
					}
					ack := make([]byte, 1)
					for {
						if _, err := c.Write(batch); err != nil {
							return
						}
						if _, err := io.ReadFull(c, ack); err != nil {
							return
						}
					}
				}()
				nc, err := net.Dial("tcp", ln.Addr().String())
				require.NoError(b, err)
				defer nc.Close()
				var src io.Reader = nc
				var dr *deadlineReader
				if withDeadline {
					var stopped atomic.Bool
					dr = &deadlineReader{nc: nc, l: &ConnLimits{FrameTimeout: time.Minute, HandshakeTimeout: time.Minute}, stopped: &stopped}
					dr.init()
					src = dr
				}
				br := bufio.NewReaderSize(src, 64<<10)
				r := proto.NewReader(br, 0)
				per := 1
				if pipelined {
					per = 64
				}
				b.SetBytes(1024)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, _, err := r.Next(); err != nil {
						b.Fatal(err)
					}
					if dr != nil {
						dr.frameDone(br.Buffered() > 0)
					}
					if (i+1)%per == 0 {
						if _, err := nc.Write([]byte{1}); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// TestLimitBusyConnection: a connection that keeps sending frames for much
// longer than frame_timeout is never cut (its deadline moves when it fires
// after progress), and one of its frames that stalls is, within twice the
// timeout.
func TestLimitBusyConnection(t *testing.T) {
	s, _ := startLimited(t, ConnLimits{FrameTimeout: 200 * time.Millisecond})
	c := dialRaw(t, s)
	end := time.Now().Add(time.Second)
	for i := uint64(1); time.Now().Before(end); i++ {
		c.ping(i)
		time.Sleep(20 * time.Millisecond)
	}
	// Pipelined frames, written in pieces, for as long.
	var hb [proto.HeaderSize]byte
	end = time.Now().Add(time.Second)
	for i := uint64(1000); time.Now().Before(end); i += 2 {
		var buf []byte
		for j := range uint64(2) {
			h := proto.NewHeader(proto.CmdBackendStatus, i+j, id.Zero, 0)
			h.Encode(hb[:])
			buf = append(buf, hb[:]...)
		}
		for len(buf) > 0 {
			n := min(len(buf), 50)
			_, err := c.nc.Write(buf[:n])
			require.NoError(t, err)
			buf = buf[n:]
			time.Sleep(10 * time.Millisecond)
		}
		for range 2 {
			rh, _ := c.recv()
			require.Equal(t, status.OK, rh.Status)
		}
	}
	h := proto.NewHeader(proto.CmdBackendStatus, 1, id.Zero, 0)
	h.Encode(hb[:])
	start := time.Now()
	_, err := c.nc.Write(hb[:10])
	require.NoError(t, err)
	require.True(t, c.closed())
	require.Less(t, time.Since(start), 2*200*time.Millisecond+time.Second)
}

func TestLimitBulkKeys(t *testing.T) {
	s, _ := startLimited(t, ConnLimits{MaxBulkKeys: 1024})
	c := dialRaw(t, s)
	attr := (&proto.IOAttr{}).Append(nil)
	keys := func(n int) []proto.BulkKey {
		ks := make([]proto.BulkKey, n)
		for i := range ks {
			ks[i] = proto.BulkKey{ID: key("k" + strconv.Itoa(i)), Payload: attr}
		}
		return ks
	}
	h := proto.NewHeader(proto.CmdBulkRead, 1, id.Zero, 1)
	c.send(h, proto.AppendBulkRequest(nil, keys(1025)))
	rh, p := c.recv()
	require.Equal(t, status.TooLarge, rh.Status)
	require.Contains(t, string(p), "node.max_bulk_keys")
	// The connection, and requests within the limit, go on.
	h.Trans = 2
	c.send(h, proto.AppendBulkRequest(nil, keys(1024)))
	rh, _ = c.recv()
	require.Equal(t, status.OK, rh.Status)
}
