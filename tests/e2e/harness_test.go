// Package e2e runs real ellipticsd processes and drives them with the Go
// client and the elliptics CLI.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

var binDir string

func TestMain(m *testing.M) {
	binDir = os.Getenv("ELLIPTICS_BIN")
	if binDir == "" || !exists(filepath.Join(binDir, "ellipticsd")) || !exists(filepath.Join(binDir, "elliptics")) {
		dir, err := os.MkdirTemp("", "elliptics-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		for _, cmd := range []string{"ellipticsd", "elliptics"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "github.com/elliptics/elliptics/cmd/"+cmd).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", cmd, err, out)
				os.Exit(1)
			}
		}
		binDir = dir
	}
	os.Exit(m.Run())
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// daemon is a running ellipticsd process.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	Addr   string
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon starts ellipticsd with args (in dir, a fresh temp dir if
// empty) and waits until it reports its listening address.
func startDaemon(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, dir, nil, args...)
}

// startDaemonIn is startDaemon with a command prefix (such as "ip netns
// exec NS", which execs ellipticsd in place, so the process we kill is the
// daemon itself). The daemon also dies with the test process.
func startDaemonIn(t *testing.T, dir string, prefix []string, args ...string) *daemon {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	argv := append(append(append([]string{}, prefix...), filepath.Join(binDir, "ellipticsd")), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	d := &daemon{t: t, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = d.stderr
	require.NoError(t, cmd.Start())
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.kill() })

	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	where := strings.Join(append(prefix, "ellipticsd"), " ")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				<-d.done
				t.Fatalf("%s exited before listening: %v\nstderr:\n%s", where, d.err, d.stderr)
			}
			if rest, found := strings.CutPrefix(line, "ellipticsd listening on "); found {
				d.Addr = strings.Split(rest, ",")[0]
				return d
			}
		case <-deadline:
			t.Fatalf("%s did not report listening in time\nstderr:\n%s", where, d.stderr)
		}
	}
}

func (d *daemon) kill() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (d *daemon) stop() error {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return d.err
	case <-time.After(20 * time.Second):
		d.t.Fatalf("ellipticsd did not stop on SIGTERM\nstderr:\n%s", d.stderr)
		return nil
	}
}

// cli runs the elliptics CLI and returns stdout, stderr and the exit code.
func cli(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "elliptics"), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "run elliptics: %v", err)
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func session(t *testing.T, addrs ...string) *client.Session {
	t.Helper()
	n := client.NewNode(client.Config{WaitTimeout: 3 * time.Second})
	t.Cleanup(func() { n.Close() })
	require.NoError(t, n.AddRemotes(context.Background(), addrs...))
	return client.NewSession(n)
}

func execDaemon(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "ellipticsd"), args...)
	cmd.Dir = t.TempDir()
	return cmd
}
