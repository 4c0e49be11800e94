package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/config"
)

func TestListFlag(t *testing.T) {
	var l listFlag
	require.NoError(t, l.Set("a:1"))
	require.NoError(t, l.Set("b:2, c:3"))
	require.Equal(t, listFlag{"a:1", "b:2", "c:3"}, l)
	require.Equal(t, "a:1,b:2,c:3", l.String())
	require.ErrorContains(t, l.Set("d:4,,e:5"), `empty address in "d:4,,e:5"`)
	require.Error(t, l.Set(""))
}

func TestParseFlags(t *testing.T) {
	f, err := parseFlags(nil)
	require.NoError(t, err)
	require.Empty(t, f.set)
	require.False(t, f.overrides())

	f, err = parseFlags([]string{"--config", "n.toml", "--listen", "127.0.0.1:0,[::1]:0", "-listen=:7",
		"--group", "3", "--log-level=debug", "--data-dir", "/d", "--print-config"})
	require.NoError(t, err)
	require.Equal(t, "n.toml", f.configPath)
	require.Equal(t, listFlag{"127.0.0.1:0", "[::1]:0", ":7"}, f.listen)
	require.Equal(t, int64(3), f.group)
	require.Equal(t, "debug", f.logLevel)
	require.Equal(t, "/d", f.dataDir)
	require.True(t, f.printConfig)
	require.False(t, f.version)
	require.True(t, f.overrides())

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "flag provided but not defined: -nope"},
		{[]string{"--group", "one"}, `invalid value "one" for flag -group`},
		{[]string{"--listen", ""}, "empty address"},
		{[]string{"--config"}, "flag needs an argument: -config"},
		{[]string{"node.toml"}, `unexpected argument "node.toml"`},
	} {
		_, err := parseFlags(tc.args)
		require.ErrorContains(t, err, tc.want, tc.args)
	}
	_, err = parseFlags([]string{"-h"})
	require.ErrorIs(t, err, errHelp)
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestLoadConfig(t *testing.T) {
	two := writeFile(t, "[node]\nlisten = [\"127.0.0.1:3000\"]\nlog_level = \"warn\"\n[[backend]]\ngroup = 1\n[[backend]]\ngroup = 2\n")
	one := writeFile(t, "[node]\nlog_format = \"json\"\n[[backend]]\nid = 4\ngroup = 7\n")
	bad := writeFile(t, "[node]\nlisten = [\"nowhere\"]\n")

	withDefaults := func(change func(*config.Config)) config.Config {
		c := config.Default()
		change(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		args []string
		want config.Config
	}{
		{"defaults", nil, config.Default()},
		{"listen", []string{"--listen", "127.0.0.1:0", "--listen", "0.0.0.0:1,:2"},
			withDefaults(func(c *config.Config) { c.Node.Listen = []string{"127.0.0.1:0", "0.0.0.0:1", ":2"} })},
		{"http", []string{"--http", "127.0.0.1:0"},
			withDefaults(func(c *config.Config) { c.Monitor.HTTPAddr = "127.0.0.1:0" })},
		{"group", []string{"--group", "5"},
			withDefaults(func(c *config.Config) { c.Backends[0].Group = 5 })},
		{"log level and data dir", []string{"--log-level", "error", "--data-dir", "/srv/e"},
			withDefaults(func(c *config.Config) { c.Node.LogLevel = "error"; c.Node.DataDir = "/srv/e" })},
		{"file", []string{"--config", two}, withDefaults(func(c *config.Config) {
			c.Node.Listen = []string{"127.0.0.1:3000"}
			c.Node.LogLevel = "warn"
			c.Backends = []config.Backend{testbackend(0, 1, "blob"), testbackend(1, 2, "blob")}
		})},
		{"file with overrides", []string{"--config", two, "--listen", "127.0.0.1:0", "--log-level", "debug"}, withDefaults(func(c *config.Config) {
			c.Node.Listen = []string{"127.0.0.1:0"}
			c.Node.LogLevel = "debug"
			c.Backends = []config.Backend{testbackend(0, 1, "blob"), testbackend(1, 2, "blob")}
		})},
		{"file with one backend and group", []string{"--config", one, "--group", "9"}, withDefaults(func(c *config.Config) {
			c.Node.LogFormat = "json"
			c.Backends = []config.Backend{testbackend(4, 9, "blob")}
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFlags(tc.args)
			require.NoError(t, err)
			c, err := loadConfig(f)
			require.NoError(t, err)
			require.Equal(t, tc.want, c)
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"group with two backends", []string{"--config", two, "--group", "3"}, "--group: the configuration has 2 backends"},
		{"group zero", []string{"--group", "0"}, "backend[0].group: must be > 0, got 0 (after command-line overrides)"},
		{"bad log level", []string{"--log-level", "loud"}, `node.log_level: "loud" is not one of debug, info, warn, error (after command-line overrides)`},
		{"empty log level", []string{"--log-level="}, `node.log_level: "" is not one of`},
		{"bad listen", []string{"--listen", "localhost"}, `node.listen[0]: "localhost": want host:port`},
		{"empty data dir", []string{"--data-dir="}, "node.data_dir: must not be empty"},
		{"missing file", []string{"--config", "/nonexistent/node.toml"}, "open /nonexistent/node.toml: no such file or directory"},
		{"bad file", []string{"--config", bad}, bad + `: node.listen[0]: "nowhere": want host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFlags(tc.args)
			require.NoError(t, err)
			_, err = loadConfig(f)
			require.ErrorContains(t, err, tc.want)
		})
	}

	// A bad file is reported even when flags would fix it.
	f, err := parseFlags([]string{"--config", bad, "--listen", "127.0.0.1:0"})
	require.NoError(t, err)
	_, err = loadConfig(f)
	require.ErrorContains(t, err, bad)
}

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runSync(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(args, &out, &errOut, make(chan os.Signal))
	return code, out.String(), errOut.String()
}

func TestRunExitsEarly(t *testing.T) {
	code, out, errOut := runSync(t, "--version")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `^ellipticsd \S+ \(protocol \d+\.\d+, go[^)]*\)\n$`, out)
	require.Empty(t, errOut)

	code, out, _ = runSync(t, "-h")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "Usage: ellipticsd [flags]")
	for _, name := range []string{"-config", "-listen", "-group", "-log-level", "-data-dir", "-version", "-print-config"} {
		require.Regexp(t, `(?m)^  `+name+`\b`, out)
	}

	code, out, errOut = runSync(t, "--bogus")
	require.Equal(t, exitConfig, code)
	require.Empty(t, out)
	require.Equal(t, "ellipticsd: flag provided but not defined: -bogus (see ellipticsd -h)\n", errOut)

	bad := writeFile(t, "[node]\nmax_inflight = 0\nfoo = 1\n")
	code, _, errOut = runSync(t, "--config", bad)
	require.Equal(t, exitConfig, code)
	require.Equal(t, "ellipticsd: "+bad+": line 3: unknown key node.foo\n", errOut)

	code, _, errOut = runSync(t, "--log-level", "chatty", "--group", "-1")
	require.Equal(t, exitConfig, code)
	require.True(t, strings.HasPrefix(errOut, "ellipticsd: "), errOut)
	require.Contains(t, errOut, "node.log_level")
	require.Contains(t, errOut, "backend[0].group")
	require.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
}

func TestRunPrintConfig(t *testing.T) {
	code, out, errOut := runSync(t, "--print-config", "--listen", "127.0.0.1:0", "--group", "2", "--data-dir", "/x")
	require.Equal(t, exitOK, code, errOut)
	require.True(t, strings.HasPrefix(out, "# effective configuration of ellipticsd "), out)
	c, err := config.Parse([]byte(out))
	require.NoError(t, err)
	want := config.Default()
	want.Node.Listen = []string{"127.0.0.1:0"}
	want.Node.DataDir = "/x"
	want.Backends[0].Group = 2
	require.Equal(t, want, c)
}

func TestRunListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	code, out, errOut := runSync(t, "--listen", ln.Addr().String(), "--log-level", "error")
	require.Equal(t, exitRuntime, code)
	require.Empty(t, out)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	last := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(last, "ellipticsd: "), errOut)
	require.Contains(t, last, "listen on "+ln.Addr().String())
}

// startDaemon runs the daemon in-process and returns its address, its
// signal channel and a channel with its exit status.
func startDaemon(t *testing.T, stderr io.Writer, args ...string) (addr string, sigs chan os.Signal, done chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	sigs = make(chan os.Signal, 4)
	done = make(chan int, 1)
	go func() {
		code := run(args, pw, stderr, sigs)
		pw.Close()
		done <- code
	}()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case l, ok := <-line:
		require.True(t, ok, "daemon exited before listening: %v", stderr)
		require.True(t, strings.HasPrefix(l, "ellipticsd listening on "), l)
		return strings.TrimPrefix(l, "ellipticsd listening on "), sigs, done
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not start")
	}
	return "", nil, nil
}

func TestRunServesAndStops(t *testing.T) {
	var logs syncBuffer
	addr, sigs, done := startDaemon(t, &logs, "--listen", "127.0.0.1:0", "--log-level", "debug")
	require.NotContains(t, addr, ",")
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	require.NotEqual(t, "0", port)

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c.Close()

	sigs <- syscall.SIGHUP
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "SIGHUP ignored") }, 5*time.Second, 10*time.Millisecond)
	select {
	case code := <-done:
		t.Fatalf("daemon exited on SIGHUP with %d", code)
	default:
	}

	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	require.Contains(t, logs.String(), "ellipticsd starting")
	require.Contains(t, logs.String(), "node stopped")
	_, err = net.Dial("tcp", addr)
	require.Error(t, err)
}

func TestRunTwoListeners(t *testing.T) {
	var logs syncBuffer
	addr, sigs, done := startDaemon(t, &logs, "--listen", "127.0.0.1:0,127.0.0.1:0", "--log-level", "warn")
	addrs := strings.Split(addr, ",")
	require.Len(t, addrs, 2)
	require.NotEqual(t, addrs[0], addrs[1])
	sigs <- os.Interrupt
	require.Equal(t, exitOK, <-done)
	require.Empty(t, logs.String(), "nothing at warn level or above")
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	n := config.Default().Node
	n.LogFormat = "json"
	n.LogLevel = "warn"
	l := newLogger(n, &buf)
	l.Info("hidden")
	l.Warn("shown", zap.String("k", "v"))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), buf.String())
	require.Equal(t, "shown", rec["msg"])
	require.Equal(t, "warn", rec["level"])
	require.Equal(t, "v", rec["k"])
	require.Contains(t, rec, "ts")

	buf.Reset()
	n.LogFormat = "console"
	n.LogLevel = "debug"
	l = newLogger(n, &buf)
	l.Debug("details")
	require.Contains(t, buf.String(), "DEBUG")
	require.Contains(t, buf.String(), "details")
}

func testbackend(id int, group int64, typ string) config.Backend {
	b := config.DefaultBackend(id)
	b.Group, b.Type = group, typ
	return b
}

func TestRunFrontendNeedsAddresses(t *testing.T) {
	code, _, errOut := runSync(t, "--frontend", "--remote", "127.0.0.1:1025")
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "--frontend needs the API's address")
	code, _, errOut = runSync(t, "--frontend", "--http-api", "127.0.0.1:0")
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "--frontend needs a node of the cluster")
	code, _, errOut = runSync(t, "--http-api", "nope")
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "http.addr")

	code, out, errOut := runSync(t, "--print-config", "--http-api", ":8080", "--remote", "10.0.0.1:1025,10.0.0.2:1025")
	require.Equal(t, exitOK, code, errOut)
	c, err := config.Parse([]byte(out))
	require.NoError(t, err)
	require.Equal(t, ":8080", c.HTTP.Addr)
	require.Equal(t, []string{"10.0.0.1:1025", "10.0.0.2:1025"}, c.Node.Remotes)
}
