package script

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/status"
)

// Call is one run of a script function.
type Call struct {
	Function string
	Key      string // the key the exec ran on; "" with HasKey false for fan-out runs
	HasKey   bool
	Data     []byte // the caller's input
	Host     Host
	Limits   Limits            // already capped by the caller; zero fields = DefaultLimits
	Vars     map[string]string // extra read-only predeclared string globals ("node", "group"...)
}

// run is the state of one call. Builtins run on the call's goroutine one
// at a time, so the byte counters need no locking.
type run struct {
	e      *Engine
	prog   *Program
	call   Call
	limits Limits
	ctx    context.Context

	readBytes, writeBytes int64

	causeMu sync.Mutex
	cause   error        // why the thread was cancelled, first reason wins
	ctxErr  func() error // the error of ctx being done, timeout or cancel
}

// stop records why the call must end and cancels the interpreter; it may
// be called from any goroutine.
func (r *run) stop(th *starlark.Thread, err error) {
	r.causeMu.Lock()
	if r.cause == nil {
		r.cause = err
	}
	r.causeMu.Unlock()
	th.Cancel(err.Error())
}

// stopCause is why the call was stopped from outside the script, if it
// was. A host call may see the deadline and fail before the AfterFunc
// that records it has run, hence the look at ctx.
func (r *run) stopCause() error {
	r.causeMu.Lock()
	c := r.cause
	r.causeMu.Unlock()
	if c == nil && r.ctx.Err() != nil {
		c = r.ctxErr()
	}
	return c
}

// Run runs call.Function of p under call.Limits and returns the result
// bytes. The called function gets positional arguments by the number of
// its positional parameters: none → f(), one → f(data), two or more →
// f(key, data) (key is None for fan-out runs; further parameters need
// defaults). The globals key and data hold the same values.
func (e *Engine) Run(ctx context.Context, p *Program, call Call) (out []byte, err error) {
	if p == nil {
		return nil, status.Errorf(status.Invalid, "script: no program")
	}
	start := time.Now()
	limits := call.Limits.WithDefaults()
	defer func() { e.stats.record(p.Name, err, time.Since(start)) }()
	if err := call.Limits.Validate(); err != nil {
		return nil, err
	}
	if call.Host == nil {
		return nil, status.Errorf(status.Invalid, "script %q: no host", p.Name)
	}
	for _, f := range p.free {
		if _, ok := call.Vars[f.name]; !ok {
			return nil, newError(ErrCompile, nil, fmt.Sprintf("script %q: %s: undefined: %s", p.Name, f.pos, f.name))
		}
	}

	deadline := limits.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < deadline {
		deadline = time.Until(dl) // the caller's own deadline comes first
	}
	ctx, cancel := context.WithTimeout(ctx, limits.Timeout)
	defer cancel()
	r := &run{e: e, prog: p, call: call, limits: limits, ctx: ctx}
	th := &starlark.Thread{
		Name: p.Name,
		Print: func(_ *starlark.Thread, msg string) {
			e.log.Debug("script print", zap.String("script", p.Name), zap.String("msg", msg))
		},
		Load: func(*starlark.Thread, string) (starlark.StringDict, error) {
			return nil, errors.New("load is not available")
		},
	}
	th.SetMaxExecutionSteps(limits.Steps)
	th.OnMaxSteps = func(th *starlark.Thread) {
		r.stop(th, newError(ErrSteps, nil, fmt.Sprintf("script %q: step budget of %d exceeded", p.Name, limits.Steps)))
	}
	r.ctxErr = func() error {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return newError(ErrTimeout, ctx.Err(), fmt.Sprintf("script %q: %s", p.Name, deadlineMessage(start, deadline)))
		}
		return fmt.Errorf("script %q: %w", p.Name, status.Errorf(status.Canceled, "call canceled: %v", context.Cause(ctx)))
	}
	stopAfter := context.AfterFunc(ctx, func() { r.stop(th, r.ctxErr()) })
	defer stopAfter()
	done := guard.add(newWatch(limits.Memory, func(grown int64) {
		r.stop(th, newError(ErrMemory, nil, fmt.Sprintf("script %q: memory budget of %d MiB exceeded (the heap grew by %d MiB during the call)",
			p.Name, limits.Memory>>20, grown>>20)))
	}))
	defer done()

	defer func() {
		// Nothing a script does may crash the node; a panic here is a bug
		// in a builtin or the interpreter, reported and contained.
		if rec := recover(); rec != nil {
			e.log.Error("script panicked", zap.String("script", p.Name), zap.Any("panic", rec), zap.ByteString("stack", debug.Stack()))
			out, err = nil, newError(ErrFailed, nil, fmt.Sprintf("script %q: internal error: %v", p.Name, rec))
		}
	}()
	out, err = r.exec(th)
	if err != nil {
		err = r.classify(err)
		if errors.Is(err, ErrMemory) {
			// What the script built is garbage now, but the collection that
			// confirmed it sized the next GC goal to it: until collected it
			// would inflate the heap figure the next calls start from, and
			// each call stopped late would let the next one grow more.
			done()
			releaseHeap()
		}
		return nil, err
	}
	return out, nil
}

// exec runs the top level, then the function, then converts the result.
func (r *run) exec(th *starlark.Thread) ([]byte, error) {
	globals, err := r.prog.prog.Init(th, r.environment())
	if err != nil {
		return nil, err
	}
	fn, ok := globals[r.call.Function].(*starlark.Function)
	if !ok || !r.prog.isFn[r.call.Function] {
		return nil, newError(ErrNoFunction, nil, fmt.Sprintf("script %q has no function %q", r.prog.Name, r.call.Function))
	}
	var key starlark.Value = starlark.None
	if r.call.HasKey {
		key = starlark.String(r.call.Key)
	}
	data := starlark.Bytes(r.call.Data)
	var args starlark.Tuple
	switch n := positional(fn); {
	case n == 0 && !fn.HasVarargs():
	case n == 1:
		args = starlark.Tuple{data}
	default:
		args = starlark.Tuple{key, data}
	}
	res, err := starlark.Call(th, fn, args, nil)
	if err != nil {
		return nil, err
	}
	return r.result(th, res)
}

// positional counts fn's positional parameters (NumParams includes
// keyword-only ones and *args/**kwargs).
func positional(fn *starlark.Function) int {
	n := fn.NumParams() - fn.NumKwonlyParams()
	if fn.HasVarargs() {
		n--
	}
	if fn.HasKwargs() {
		n--
	}
	return n
}

// classify turns an interpreter error into the error the caller sees: a
// limit that stopped the thread, an error a builtin asked to keep, or a
// script failure with the end of its backtrace.
func (r *run) classify(err error) error {
	if c := r.stopCause(); c != nil {
		return c
	}
	if se := (*Error)(nil); errors.As(err, &se) && !errors.As(err, new(*starlark.EvalError)) {
		return err // ours, raised outside the interpreter
	}
	var ab *abortError
	if errors.As(err, &ab) {
		return ab.err
	}
	msg := err.Error()
	var ev *starlark.EvalError
	if errors.As(err, &ev) {
		msg = lastLines(ev.Backtrace(), 4)
	}
	return newError(ErrFailed, err, fmt.Sprintf("script %q: %s: %s", r.prog.Name, r.call.Function, msg))
}

// lastLines keeps the last n lines of a backtrace: the innermost frames
// and the error, which is what a user needs, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

func deadlineMessage(start time.Time, timeout time.Duration) string {
	return fmt.Sprintf("deadline of %v exceeded (after %v)", timeout, time.Since(start).Round(time.Millisecond))
}
