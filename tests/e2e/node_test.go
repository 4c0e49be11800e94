package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

func TestGoClientAgainstDaemon(t *testing.T) {
	d := startDaemon(t, "", "--listen", "127.0.0.1:0")
	s := session(t, d.Addr)
	require.Equal(t, []uint32{1}, s.Groups(), "default node serves group 1")
	ctx := context.Background()

	big := make([]byte, 8<<20)
	_, _ = rand.Read(big)
	for _, v := range [][]byte{[]byte("v"), []byte("with\x00nul"), big} {
		_, err := s.Write(ctx, client.NewKey("k"), v)
		require.NoError(t, err)
		e, err := s.Read(ctx, client.NewKey("k"), 0, 0)
		require.NoError(t, err)
		require.True(t, bytes.Equal(v, e.Data))
	}
	_, err := s.Remove(ctx, client.NewKey("k"))
	require.NoError(t, err)
	_, err = s.Lookup(ctx, client.NewKey("k"))
	require.ErrorIs(t, err, status.ErrNotFound)
	require.NoError(t, d.stop(), "SIGTERM exits 0")
}

func TestCLIAgainstDaemon(t *testing.T) {
	d := startDaemon(t, "", "--listen", "127.0.0.1:0")
	r := "--remote=" + d.Addr

	payload := []byte("hello\x00world\n")
	_, stderr, code := cli(t, payload, r, "write", "greeting", "-")
	require.Equal(t, 0, code, stderr)

	out, stderr, code := cli(t, nil, r, "read", "greeting")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, string(payload), out, "read prints exactly the bytes")

	file := filepath.Join(t.TempDir(), "in.bin")
	require.NoError(t, os.WriteFile(file, []byte("from a file"), 0o644))
	_, stderr, code = cli(t, nil, r, "--namespace", "ns", "write", "greeting", file)
	require.Equal(t, 0, code, stderr)
	out, _, code = cli(t, nil, r, "--namespace", "ns", "read", "greeting")
	require.Equal(t, 0, code)
	require.Equal(t, "from a file", out)
	out, _, _ = cli(t, nil, r, "read", "greeting")
	require.Equal(t, string(payload), out, "namespaces keep keys apart")

	out, stderr, code = cli(t, nil, r, "lookup", "--checksum", "greeting")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, fmt.Sprint(len(payload)))

	_, stderr, code = cli(t, nil, r, "remove", "greeting")
	require.Equal(t, 0, code, stderr)
	_, stderr, code = cli(t, nil, r, "read", "greeting")
	require.Equal(t, 3, code, "missing key exits 3")
	require.Contains(t, stderr, "not found")

	_, stderr, code = cli(t, nil, r, "frobnicate")
	require.Equal(t, 2, code, "unknown command is a usage error")
	require.NotEmpty(t, stderr)

	_, stderr, code = cli(t, nil, r, "--groups", "7", "--checker", "all", "write", "x", "-")
	require.Equal(t, 1, code, "no node serves group 7")
	require.NotEmpty(t, stderr)

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	_, stderr, code = cli(t, nil, "--remote="+dead, "read", "greeting")
	require.Equal(t, 4, code, "unreachable node exits 4: %s", stderr)
}

// A malformed stream on one connection closes that connection only.
func TestGarbageDoesNotHurtOthers(t *testing.T) {
	d := startDaemon(t, "", "--listen", "127.0.0.1:0")
	s := session(t, d.Addr)
	ctx := context.Background()
	_, err := s.Write(ctx, client.NewKey("k"), []byte("v"))
	require.NoError(t, err)

	for i := 0; i < 20; i++ {
		nc, err := net.Dial("tcp", d.Addr)
		require.NoError(t, err)
		junk := make([]byte, 1000+i*97)
		_, _ = rand.Read(junk)
		_, _ = nc.Write(junk)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := nc.Read(buf); err != nil {
				require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "node must close a garbage connection")
				break
			}
		}
		nc.Close()
	}
	e, err := s.Read(ctx, client.NewKey("k"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v", string(e.Data))
}

// SIGKILL under load: the client fails fast with clear errors (no hang),
// and reconnects when a node is back on the same address.
func TestKillAndRestart(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--listen", "127.0.0.1:0")
	addr := d.Addr
	s := session(t, addr)
	s.SetTimeout(2 * time.Second)
	ctx := context.Background()

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				_, err := s.Write(ctx, client.NewKey(fmt.Sprintf("w%d-%d", w, i)), []byte("x"))
				if err != nil {
					failed.Add(1)
					if time.Since(start) > 5*time.Second {
						t.Errorf("a failed write took %v", time.Since(start))
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	d.kill()
	time.Sleep(300 * time.Millisecond)
	require.Positive(t, ok.Load())
	require.Positive(t, failed.Load(), "writes to a dead node fail")

	startDaemon(t, dir, "--listen", addr)
	before := ok.Load()
	require.Eventually(t, func() bool { return ok.Load() > before+10 }, 10*time.Second, 50*time.Millisecond,
		"client reconnects to the restarted node")
	close(stop)
	wg.Wait()
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown-key.toml", "[node]\nlisten = [\"127.0.0.1:0\"]\nbogus = 1\n", "bogus"},
		{"bad-addr.toml", "[node]\nlisten = [\"not an address\"]\n", "listen"},
		{"bad-group.toml", "[[backend]]\nid = 0\ngroup = 0\ntype = \"mem\"\n", "group"},
		{"bad-type.toml", "[[backend]]\nid = 0\ngroup = 1\ntype = \"floppy\"\n", "floppy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.name, tc.body)
			cmd := execDaemon(t, "--config", p)
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			require.Equal(t, 2, cmd.ProcessState.ExitCode(), "config errors exit 2: %s", out)
			require.Contains(t, string(out), tc.want)
			require.True(t, strings.HasPrefix(strings.TrimSpace(string(out)), "ellipticsd:"), string(out))
		})
	}
	cmd := execDaemon(t, "--config", filepath.Join(dir, "missing.toml"))
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "missing.toml")
}

// With no flags and no config the daemon listens on 127.0.0.1:1025, the
// address `make run` promises.
func TestDefaultsWithoutConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:1025")
	if err != nil {
		t.Skipf("port 1025 busy: %v", err)
	}
	ln.Close()
	d := startDaemon(t, "")
	require.Equal(t, "127.0.0.1:1025", d.Addr)
	out, stderr, code := cli(t, []byte("v"), "write", "k", "-")
	require.Equal(t, 0, code, "%s %s", out, stderr)
	out, _, code = cli(t, nil, "read", "k")
	require.Equal(t, 0, code)
	require.Equal(t, "v", out)
	require.NoError(t, d.stop())
}

// Backends are listed, disabled, enabled, made read-only and writable at
// run time with `elliptics backend`, against a real daemon.
func TestBackendControlAgainstDaemon(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "node.toml")
	require.NoError(t, os.WriteFile(conf, []byte(`[node]
listen = ["127.0.0.1:0"]

[[backend]]
id = 0
group = 1

[[backend]]
id = 1
group = 2

[[backend]]
id = 2
group = 3
type = "mem"
enable = false
`), 0o644))
	d := startDaemon(t, dir, "--config", conf)
	r := "--remote=" + d.Addr
	state := func(id string) []string {
		t.Helper()
		out, stderr, code := cli(t, nil, r, "backend", "list")
		require.Equal(t, 0, code, stderr)
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 4 && f[0] == id {
				return f[2:4] // state, ro
			}
		}
		t.Fatalf("backend %s not listed:\n%s", id, out)
		return nil
	}
	ok := func(args ...string) string {
		t.Helper()
		out, stderr, code := cli(t, []byte("v"), append([]string{r}, args...)...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
		return out
	}
	fails := func(code int, want string, args ...string) {
		t.Helper()
		_, stderr, got := cli(t, []byte("v"), append([]string{r}, args...)...)
		require.Equal(t, code, got, "%v: %s", args, stderr)
		require.Contains(t, stderr, want, "%v", args)
	}

	require.Equal(t, []string{"enabled", "no"}, state("0"))
	require.Equal(t, []string{"disabled", "no"}, state("2"), "enable = false starts disabled")
	ok("--groups", "1,2", "--checker", "all", "write", "k", "-")
	fails(1, "serves group 3", "--groups", "3", "write", "k", "-")

	require.Contains(t, ok("backend", "disable", "--backend", "0"), "backend 0 (group 1) on "+d.Addr+": disabled")
	require.Equal(t, []string{"disabled", "no"}, state("0"))
	fails(1, "backend 0 is already disabled", "backend", "disable", "--backend", "0")
	fails(1, "group 1", "--groups", "1", "write", "k", "-")
	require.Equal(t, "v", ok("--groups", "2", "read", "k"), "the other backend still serves")

	ok("backend", "enable", "--backend", "0")
	fails(1, "backend 0 is already enabled", "backend", "enable", "--backend", "0")
	require.Equal(t, []string{"enabled", "no"}, state("0"))
	require.Equal(t, "v", ok("--groups", "1", "read", "k"), "a reopened blob backend keeps its data")

	ok("backend", "ro", "--backend", "0")
	require.Equal(t, []string{"enabled", "yes"}, state("0"))
	fails(1, "read-only", "--groups", "1", "write", "k", "-")
	fails(1, "backend 0 is already read-only", "backend", "ro", "--backend", "0")
	ok("backend", "rw", "--backend", "0")
	fails(1, "backend 0 is already writable", "backend", "rw", "--backend", "0")
	ok("--groups", "1", "write", "k", "-")

	ok("backend", "enable", "--backend", "2")
	ok("--groups", "3", "write", "k", "-")
	fails(1, "backend type does not support defragmentation", "backend", "defrag", "--backend", "2")
	ok("backend", "defrag", "--backend", "0", "--wait")
	require.Equal(t, "v", ok("--groups", "1", "read", "k"))
	fails(1, "node has no backend 7", "backend", "enable", "--backend", "7")

	out := ok("--json", "backend", "list")
	require.Contains(t, out, `"state":"enabled"`)
	require.NotContains(t, out, `"state":"disabled"`)

	require.NoError(t, d.stop())
	logs := d.stderr.String()
	for _, want := range []string{"backend disabled", "backend enabled", "backend made read-only", "backend made writable"} {
		require.Contains(t, logs, want)
	}
	require.Regexp(t, `backend disabled\s+\{"backend": 0, "group": 1\}`, logs)
}
