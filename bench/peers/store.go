package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// KV is what a workload needs from a system: a whole-value put and get.
type KV interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// Store is a started system as the load generator sees it.
type Store interface {
	// Worker returns the client of worker i (its own connection or a
	// shared one, as the system's client library prefers).
	Worker(i int) (KV, error)
	// Pids are the server processes (for CPU counters).
	Pids() []int
	// Close closes the clients and stops the servers.
	Close() error
}

// system is one system under test and how to start it.
type system struct {
	name string
	// durability says when a write is acknowledged: "fsync" (after an
	// fsync, group commit allowed) or "none" (in the OS page cache).
	durability string
	ours       bool
	replicas   int
	workloads  []string // names of the workloads it runs
	// start starts the system in work; with pprof, its servers serve
	// net/http/pprof where they can (Store may then be a profiler).
	start func(ctx context.Context, work string, pprof bool) (Store, error)
}

// freePort returns a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// proc is a peer's server process, its output in <dir>/<name>.log.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
}

func startProc(name, dir string, env []string, bin string, args ...string) (*proc, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.log.Close()
}

// tail returns the end of the process's log, for error messages.
func (p *proc) tail() string {
	data, _ := os.ReadFile(p.log.Name())
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}

// waitReady calls try until it succeeds, the process exits or 60 s pass.
func (p *proc) waitReady(try func() error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := try()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited: %v\n%s", p.name, err, p.tail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 60 s: %w\n%s", p.name, err, p.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errNotFound = errors.New("not found")
