package script

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/status"
)

// ProcessOptions configure a ProcessRunner.
type ProcessOptions struct {
	// Command starts a worker, e.g. {"/usr/bin/ellipticsd", "script-worker"}.
	Command []string
	// Env is added to the worker's environment.
	Env []string
	// MemoryLimit is the private memory a worker may map beyond what it
	// maps when it starts (RLIMIT_DATA); 0 means DefaultWorkerMemory,
	// negative means none (a race-instrumented worker cannot run under
	// one: its sanitizer's allocator fails).
	MemoryLimit int64
	// Workers is the number of worker processes, each running one call at
	// a time; 0 means 1.
	Workers int
	Logger  *zap.Logger
}

// DefaultWorkerMemory is a worker's memory allowance.
const DefaultWorkerMemory = 1 << 30

// stopGrace is how long past the call's own deadline the parent waits
// before killing a worker that did not stop by itself.
const stopGrace = 2 * time.Second

// ProcessRunner runs calls in worker processes under rlimits: a script
// that exhausts memory or CPU kills its worker, not the node. The worker
// asks the parent for every host operation over its pipes, so the data
// path stays in the node. A dead worker is replaced on the next call.
type ProcessRunner struct {
	o     ProcessOptions
	log   *zap.Logger
	slots chan struct{}
	stats statsTable

	mu     sync.Mutex
	idle   []*worker
	closed bool
}

// NewProcessRunner returns a runner; workers start on first use.
func NewProcessRunner(o ProcessOptions) *ProcessRunner {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultWorkerMemory
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	return &ProcessRunner{o: o, log: o.Logger, slots: make(chan struct{}, o.Workers)}
}

// Stats returns per-script counters, as Engine.Stats.
func (pr *ProcessRunner) Stats() map[string]ScriptStats { return pr.stats.snapshot() }

// Close stops the idle workers; busy ones stop when their call ends.
func (pr *ProcessRunner) Close() error {
	pr.mu.Lock()
	idle := pr.idle
	pr.idle, pr.closed = nil, true
	pr.mu.Unlock()
	for _, w := range idle {
		w.stop()
	}
	return nil
}

// Run runs call in a worker; the same contract as Engine.Run.
func (pr *ProcessRunner) Run(ctx context.Context, p *Program, call Call) (out []byte, err error) {
	if p == nil {
		return nil, status.Errorf(status.Invalid, "script: no program")
	}
	start := time.Now()
	defer func() { pr.stats.record(p.Name, err, time.Since(start)) }()
	if err := call.Limits.Validate(); err != nil {
		return nil, err
	}
	if call.Host == nil {
		return nil, status.Errorf(status.Invalid, "script %q: no host", p.Name)
	}
	select {
	case pr.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("script %q: waiting for a worker: %w", p.Name, ctx.Err())
	}
	defer func() { <-pr.slots }()

	w, err := pr.worker()
	if err != nil {
		return nil, err
	}
	out, err = w.run(ctx, p, call)
	pr.mu.Lock()
	if w.dead || pr.closed {
		pr.mu.Unlock()
		w.stop()
	} else {
		pr.idle = append(pr.idle, w)
		pr.mu.Unlock()
	}
	return out, err
}

func (pr *ProcessRunner) worker() (*worker, error) {
	pr.mu.Lock()
	if pr.closed {
		pr.mu.Unlock()
		return nil, status.Errorf(status.ShuttingDown, "script runner closed")
	}
	if n := len(pr.idle); n > 0 {
		w := pr.idle[n-1]
		pr.idle = pr.idle[:n-1]
		pr.mu.Unlock()
		return w, nil
	}
	pr.mu.Unlock()
	return pr.start()
}

// worker is one worker process.
type worker struct {
	pr     *ProcessRunner
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *headBuffer
	exited chan struct{} // closed when the process is waited for
	dead   bool          // the pipe broke or the process died: do not reuse
}

func (pr *ProcessRunner) start() (*worker, error) {
	if len(pr.o.Command) == 0 {
		return nil, status.Errorf(status.Invalid, "script runner: no worker command")
	}
	cmd := exec.Command(pr.o.Command[0], pr.o.Command[1:]...)
	cmd.Env = append(os.Environ(), pr.o.Env...)
	w := &worker{pr: pr, cmd: cmd, stderr: &headBuffer{max: 4096}, exited: make(chan struct{})}
	cmd.Stderr = w.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("script runner: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("script runner: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, status.Errorf(status.IOError, "script runner: start worker %v: %v", pr.o.Command, err)
	}
	w.stdin, w.stdout = stdin, bufio.NewReaderSize(stdout, 64<<10)
	go func() { _ = cmd.Wait(); close(w.exited) }()

	// The hello frame means the runtime is up: its memory is what
	// the limit is relative to.
	if f, err := readFrame(w.stdout); err != nil || f.Kind != frameHello {
		w.stop()
		return nil, status.Errorf(status.IOError, "script runner: worker did not start: %v %s", err, w.stderr.head())
	}
	if err := limitMemory(cmd.Process.Pid, pr.o.MemoryLimit); err != nil {
		w.stop()
		return nil, status.Errorf(status.IOError, "script runner: limit worker memory: %v", err)
	}
	pr.log.Debug("script worker started", zap.Int("pid", cmd.Process.Pid))
	return w, nil
}

// stop ends the process and waits for it.
func (w *worker) stop() {
	w.dead = true
	_ = w.stdin.Close()
	select {
	case <-w.exited:
		return
	case <-time.After(100 * time.Millisecond):
	}
	_ = w.cmd.Process.Kill()
	<-w.exited
}

func (w *worker) run(ctx context.Context, p *Program, call Call) ([]byte, error) {
	limits := call.Limits.WithDefaults()
	if err := limitCPU(w.cmd.Process.Pid, uint64(limits.Timeout/time.Second)+2); err != nil {
		w.dead = true
		return nil, status.Errorf(status.IOError, "script runner: limit worker CPU: %v", err)
	}
	// The worker enforces the deadline itself; this is for a worker that
	// cannot (stuck in one huge operation, or broken).
	hard, cancel := context.WithTimeout(ctx, limits.Timeout+stopGrace)
	defer cancel()
	stopKill := context.AfterFunc(hard, func() { _ = w.cmd.Process.Kill() })
	defer stopKill()

	err := writeFrame(w.stdin, &frame{Kind: frameRun, Name: p.Name, Version: p.Version, Src: p.src, Call: &wireCall{
		Function: call.Function, Key: call.Key, HasKey: call.HasKey, Data: call.Data, Limits: call.Limits, Vars: call.Vars}})
	for err == nil {
		var f *frame
		if f, err = readFrame(w.stdout); err != nil {
			break
		}
		switch f.Kind {
		case frameDone:
			if f.Err != nil {
				return nil, fromWire(f.Err)
			}
			if f.Data == nil {
				f.Data = []byte{}
			}
			return f.Data, nil
		case frameHost:
			err = writeFrame(w.stdin, serveHost(hard, call.Host, f))
		default:
			err = fmt.Errorf("script worker: unexpected %q frame", f.Kind)
		}
	}
	w.dead = true
	return nil, w.failure(ctx, hard, p, limits, err)
}

// serveHost runs one host request of the worker on the real Host.
func serveHost(ctx context.Context, h Host, f *frame) (rep *frame) {
	rep = &frame{Kind: frameReply}
	defer func() {
		if r := recover(); r != nil {
			rep = &frame{Kind: frameReply, Err: toWire(newError(ErrFailed, nil, fmt.Sprintf("host panicked: %v", r)))}
		}
	}()
	var err error
	switch f.Op {
	case "read":
		rep.Data, err = h.Read(ctx, f.Key, f.Offset, f.Size)
	case "write":
		err = h.Write(ctx, f.Key, f.Data)
	case "remove":
		err = h.Remove(ctx, f.Key)
	case "lookup":
		var info Info
		info, err = h.Lookup(ctx, f.Key)
		rep.Info = &info
	case "read_range":
		rep.Records, err = h.ReadRange(ctx, f.Start, f.End, f.Limit)
	default:
		err = status.Errorf(status.Protocol, "unknown host operation %q", f.Op)
	}
	rep.Err = toWire(err)
	return rep
}

// failure explains a call whose worker broke: killed for memory or CPU,
// killed by the deadline, or crashed.
func (w *worker) failure(ctx, hard context.Context, p *Program, limits Limits, err error) error {
	select {
	case <-w.exited:
	case <-time.After(stopGrace):
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
	tail := w.stderr.head()
	var sig syscall.Signal
	if ws, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig = ws.Signal()
	}
	switch {
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return newError(ErrTimeout, ctx.Err(), fmt.Sprintf("script %q: deadline exceeded; worker stopped", p.Name))
		}
		return fmt.Errorf("script %q: %w", p.Name, status.Errorf(status.Canceled, "call canceled; worker stopped"))
	case hard.Err() != nil:
		return newError(ErrTimeout, nil, fmt.Sprintf("script %q: deadline of %v exceeded; worker killed", p.Name, limits.Timeout))
	case outOfMemory(tail):
		return newError(ErrMemory, nil, fmt.Sprintf("script %q: worker ran out of its %d MiB of memory and was restarted (%s)", p.Name, w.pr.o.MemoryLimit>>20, tail))
	case sig == syscall.SIGXCPU:
		return newError(ErrTimeout, nil, fmt.Sprintf("script %q: worker exceeded its CPU time limit and was restarted", p.Name))
	case sig == syscall.SIGKILL:
		// Not ours (hard is not done): most likely the kernel's OOM killer.
		return newError(ErrMemory, nil, fmt.Sprintf("script %q: worker was killed (out of memory?) and was restarted", p.Name))
	}
	return status.Errorf(status.IOError, "script %q: worker failed (%v, %v): %s", p.Name, err, w.cmd.ProcessState, tail)
}

// outOfMemory says whether a worker's last words blame its memory
// limit: the Go runtime's out of memory, or a thread it could not start
// (a thread's stack needs memory too, so under RLIMIT_DATA a growing
// heap often fails there first).
func outOfMemory(tail string) bool {
	for _, s := range []string{"out of memory", "cannot allocate memory", "pthread_create failed",
		"failed to create new OS thread"} {
		if strings.Contains(tail, s) {
			return true
		}
	}
	return false
}

// headBuffer keeps the first max bytes written to a worker's stderr: a
// Go runtime puts the reason of a fatal error first, then the stacks.
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *headBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.buf); room > 0 {
		t.buf = append(t.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// head returns the first lines kept.
func (t *headBuffer) head() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if lines := strings.SplitN(s, "\n", 4); len(lines) > 3 {
		s = strings.Join(lines[:3], "; ")
	}
	return s
}
