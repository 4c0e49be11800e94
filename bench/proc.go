package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FindDaemon returns the path of an ellipticsd binary: in dir, else in
// $ELLIPTICS_BIN, else built from ./cmd/ellipticsd of the module the
// benchmark runs in into a temporary directory (removed by cleanup).
func FindDaemon(ctx context.Context, dir string) (bin string, cleanup func(), err error) {
	if dir == "" {
		dir = os.Getenv("ELLIPTICS_BIN")
	}
	if dir != "" {
		// Absolute: the daemon runs in a scratch directory.
		bin, err := filepath.Abs(filepath.Join(dir, "ellipticsd"))
		if err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(bin); err != nil {
			return "", nil, fmt.Errorf("ellipticsd binary: %w", err)
		}
		return bin, func() {}, nil
	}
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", nil, err
	}
	tmp, err := os.MkdirTemp("", "elliptics-bench-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	bin = filepath.Join(tmp, "ellipticsd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ellipticsd")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build ./cmd/ellipticsd: %w", err)
	}
	return bin, cleanup, nil
}

// ModuleRoot returns the root directory of the Go module the benchmark runs
// in (the repository).
func ModuleRoot(ctx context.Context) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(gomod))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", errors.New("cannot find the module (run from the repository, or pass the binaries' directory)")
	}
	return filepath.Dir(mod), nil
}

// MemNodeConfig is the ellipticsd configuration of the benchmarks: every
// node setting at its default, one in-memory backend of group 1 (ellipticsd's
// own default backend is blob, on disk).
const MemNodeConfig = `# written by a benchmark: one in-memory backend of group 1
[[backend]]
id = 0
group = 1
type = "mem"
`

// Daemon is an ellipticsd process started by StartDaemon.
type Daemon struct {
	*Child
	work string
}

// StartDaemon starts bin with MemNodeConfig on a free loopback port, in a
// scratch directory, with extra arguments appended.
func StartDaemon(ctx context.Context, bin string, extra ...string) (*Daemon, error) {
	work, err := os.MkdirTemp("", "elliptics-bench-node-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(work, "node.toml")
	if err := os.WriteFile(cfg, []byte(MemNodeConfig), 0o644); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	args := append([]string{"--config", cfg, "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir", work}, extra...)
	c, err := StartChild(ctx, "ellipticsd", bin, args, "ellipticsd listening on ", work)
	if err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	return &Daemon{Child: c, work: work}, nil
}

// Stop stops the daemon and removes its scratch directory.
func (d *Daemon) Stop() error {
	err := d.Child.Stop()
	os.RemoveAll(d.work)
	return err
}

// ParseReady returns the first address of a "<prefix>ADDR[,ADDR...]" line.
func ParseReady(line, prefix string) (string, bool) {
	_, rest, ok := strings.Cut(line, prefix)
	if !ok {
		return "", false
	}
	f := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\r' })
	if len(f) == 0 {
		return "", false
	}
	return f[0], true
}

// Child is a server process a benchmark started.
type Child struct {
	Name   string
	Cmd    *exec.Cmd
	Addr   string
	exited chan struct{}
	err    error // of Wait, set before exited is closed
}

// StartChild runs bin with args in dir and waits (up to 30s) for the line
// "<readyPrefix>ADDR" on its standard output or standard error (ellipticsd
// reports on stderr). Its other output goes to our standard error.
func StartChild(ctx context.Context, name, bin string, args []string, readyPrefix, dir string) (*Child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	d := &Child{Name: name, Cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if !found {
				if a, ok := ParseReady(line, readyPrefix); ok {
					found = true
					ready <- a
					continue
				}
			}
			fmt.Fprintf(os.Stderr, "%s: %s\n", name, line)
		}
		_, _ = io.Copy(io.Discard, pr)
		pr.Close()
		d.err = cmd.Wait()
		close(d.exited)
	}()
	select {
	case d.Addr = <-ready:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("%s exited before it was ready: %v", name, d.err)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-d.exited
	return nil, fmt.Errorf("%s did not print its listening line in time", name)
}

// Stop sends SIGTERM and waits for the process to exit, killing it after 15s.
func (d *Child) Stop() error {
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return d.err
	case <-time.After(15 * time.Second):
		_ = d.Cmd.Process.Kill()
		<-d.exited
		return errors.New("did not exit within 15s of SIGTERM, killed")
	}
}
