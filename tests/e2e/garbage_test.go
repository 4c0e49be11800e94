package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

// garbageMaxConns is the test node's max_conns_per_addr: the good client,
// the node's own HTTP/S3 client and the garbage senders all come from
// 127.0.0.1.
const garbageMaxConns = 24

// garbageNode starts a blob node with small limits (frame and handshake
// timeouts of 500ms, garbageMaxConns connections per address), the monitor
// port and the [http] API with S3.
func garbageNode(t *testing.T) (d *daemon, addr, monitor, api string) {
	dir := t.TempDir()
	addr, monitor, api = freeAddr(t), freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "node.toml")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
data_dir = %q
max_conns_per_addr = %d
frame_timeout = "500ms"
handshake_timeout = "500ms"
max_payload = "1MiB"

[monitor]
http_addr = %q

[http]
addr = %q
chunk = "512KiB"

[s3]
enabled = true
[[s3.credentials]]
access_key = "AKIDGARBAGE"
secret_key = "garbage-secret"

[[backend]]
group = 1
type = "blob"
sync = "none"
`, addr, filepath.Join(dir, "data"), garbageMaxConns, monitor, api)), 0o644))
	d = startDaemon(t, dir, "--config", conf)
	return d, addr, monitor, api
}

// closedByPeer reads from c until the peer closes it (EOF or a reset),
// within limit; it fails the test if c stays open.
func closedByPeer(t *testing.T, c net.Conn, limit time.Duration, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("%s: the node did not close the connection within %v", what, limit)
	}
}

// garbageFrames are byte streams the node must survive: random bytes,
// random bytes behind a good magic, a header with a random rest, and well
// formed headers with random payloads for every command number.
func garbageFrames(r *rand.Rand) [][]byte {
	rnd := func(n int) []byte { b := make([]byte, n); r.Read(b); return b }
	var out [][]byte
	out = append(out, rnd(1+r.Intn(4096)))
	var hb [proto.HeaderSize]byte
	wh := proto.NewHeader(proto.CmdWrite, 1, id.Zero, 1)
	wh.Encode(hb[:])
	out = append(out, append(append([]byte{}, hb[:4]...), rnd(r.Intn(512))...))
	bad := append([]byte{}, hb[:]...)
	copy(bad[8:], rnd(proto.HeaderSize-8))
	out = append(out, bad)
	var frames []byte
	for cmd := 0; cmd < 80; cmd++ {
		switch proto.Cmd(cmd) {
		case proto.CmdHandshake, proto.CmdRemoveRange, proto.CmdBackendControl, proto.CmdRecovery:
			// Admin commands a lucky payload could turn into a real
			// change (a node announced, the backend disabled) that would
			// fail the good client for reasons other than bad input.
			continue
		}
		h := proto.NewHeader(proto.Cmd(cmd), uint64(cmd+1), id.Zero, 1)
		frames = proto.AppendFrame(frames, h, rnd(r.Intn(200)))
	}
	out = append(out, frames)
	return out
}

// TestGarbage: a node keeps serving a good client while every one of its
// ports gets random bytes, a slow-loris connection and more connections
// from one address than it accepts; it closes the bad connections within
// its timeouts and logs no panic.
func TestGarbage(t *testing.T) {
	d, addr, monitor, api := garbageNode(t)
	sess := session(t, addr)
	sess.SetGroups(1)
	ctx := context.Background()

	// The good clients: the native protocol and the HTTP API.
	stop := make(chan struct{})
	var good sync.WaitGroup
	var goodOps atomic.Int64
	goodErr := make(chan error, 2)
	good.Add(2)
	go func() {
		defer good.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := client.NewKey(fmt.Sprintf("good-%d", i%50))
			v := []byte(fmt.Sprintf("value %d", i))
			if _, err := sess.Write(ctx, k, v); err != nil {
				goodErr <- fmt.Errorf("write %d: %w", i, err)
				return
			}
			e, err := sess.Read(ctx, k, 0, 0)
			if err != nil || !bytes.Equal(e.Data, v) {
				goodErr <- fmt.Errorf("read %d: %q, %v", i, e.Data, err)
				return
			}
			goodOps.Add(1)
		}
	}()
	go func() {
		defer good.Done()
		hc := &http.Client{Timeout: 10 * time.Second}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := fmt.Sprintf("http://%s/v1/ns/http-%d?groups=1", api, i%20)
			v := fmt.Sprintf("http value %d", i)
			req, _ := http.NewRequest("PUT", u, strings.NewReader(v))
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					err = fmt.Errorf("status %s", resp.Status)
				}
			}
			if err == nil {
				resp, err = hc.Get(u)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(b) != v {
						err = fmt.Errorf("GET %s: %s %q", u, resp.Status, b)
					}
				}
			}
			if err != nil {
				goodErr <- fmt.Errorf("http %d: %w", i, err)
				return
			}
			goodOps.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	dial := func(a string) net.Conn {
		c, err := net.DialTimeout("tcp", a, 5*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}

	// Random bytes to every port: the node closes each connection (the
	// native port at the first bad frame or, for frames it answers, when
	// the stream ends; the HTTP servers with 400).
	for round := 0; round < 3; round++ {
		for _, a := range []string{addr, monitor, api} {
			for _, g := range garbageFrames(r) {
				c := dial(a)
				_, _ = c.Write(g)
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				closedByPeer(t, c, 5*time.Second, "garbage to "+a)
			}
		}
	}

	// Slow-loris on the native port: a good frame, then half a header and
	// a stall; and a connection that never sends its first frame.
	var hb [proto.HeaderSize]byte
	h := proto.NewHeader(proto.CmdBackendStatus, 1, id.Zero, 0)
	h.Encode(hb[:])
	half := dial(addr)
	require.NoError(t, proto.WriteFrame(half, h))
	_ = half.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := proto.NewReader(half, 0).Next()
	require.NoError(t, err)
	_, err = half.Write(hb[:proto.HeaderSize/2])
	require.NoError(t, err)
	silent := dial(addr)
	start := time.Now()
	closedByPeer(t, half, 5*time.Second, "half a header")
	closedByPeer(t, silent, 5*time.Second, "no first frame")
	require.Less(t, time.Since(start), 5*time.Second)

	// Slow-loris on the HTTP ports: half a request line and headers. The
	// servers' ReadHeaderTimeout is 10s; the connection must close by then.
	var slowHTTP sync.WaitGroup
	for _, a := range []string{monitor, api} {
		c := dial(a)
		_, err := c.Write([]byte("GET /v1/ns/k HTTP/1.1\r\nHost: x\r\nX-Slow: "))
		require.NoError(t, err)
		slowHTTP.Add(1)
		go func() {
			defer slowHTTP.Done()
			closedByPeer(t, c, 15*time.Second, "slow HTTP headers to "+a)
		}()
	}

	// More connections from one address than max_conns_per_addr: the
	// extra ones are closed at once, the rest answer.
	var conns []net.Conn
	refused := 0
	for i := 0; i < garbageMaxConns+8; i++ {
		c := dial(addr)
		conns = append(conns, c)
		require.NoError(t, proto.WriteFrame(c, proto.NewHeader(proto.CmdBackendStatus, 7, id.Zero, 0)))
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := proto.NewReader(c, 0).Next(); err != nil {
			refused++
		}
	}
	require.GreaterOrEqual(t, refused, 8, "connections over max_conns_per_addr were served")
	for _, c := range conns {
		c.Close()
	}

	slowHTTP.Wait()
	close(stop)
	good.Wait()
	select {
	case err := <-goodErr:
		t.Fatalf("the good client failed: %v", err)
	default:
	}
	require.Greater(t, goodOps.Load(), int64(10))

	// The node still answers, and its log explains what it closed.
	require.Eventually(t, func() bool {
		_, err := sess.Write(ctx, client.NewKey("after"), []byte("ok"))
		return err == nil
	}, 5*time.Second, 50*time.Millisecond)
	resp, err := http.Get("http://" + monitor + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	log := d.stderr.String()
	require.NotContains(t, log, "panic", log)
	require.Contains(t, log, "node.max_conns_per_addr")
	require.Contains(t, log, "node.frame_timeout")
	require.Contains(t, log, "node.handshake_timeout")
}
