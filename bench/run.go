package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// OpFunc runs one operation of a worker. It is called from one goroutine
// only and should not allocate beyond what the code under test does.
type OpFunc func() error

// Workload describes one closed-loop measurement: Clients goroutines each
// run their op back to back (a new request only once the previous one has
// been answered) for Warmup+Duration.
type Workload struct {
	Name     string
	Clients  int
	Warmup   time.Duration
	Duration time.Duration
	// Setup prepares what the workers share (connections, ...) and returns
	// a cleanup; it may be nil.
	Setup func(ctx context.Context) (cleanup func(), err error)
	// NewWorker returns the op of worker i (0 <= i < Clients), after Setup.
	NewWorker func(ctx context.Context, i int) (op OpFunc, cleanup func(), err error)
	// Counters, if set, returns the cumulative counters (CPU time,
	// syscalls, context switches) of every process involved; Run reports
	// their growth over the measured window.
	Counters func() Counters
	// Labels are added to the pprof labels of every goroutine the workload
	// starts (role, op, ...), so one CPU profile can be split per workload.
	Labels []string
}

// Result is the outcome of a workload.
type Result struct {
	Name      string
	Clients   int
	Ops       uint64 // completed in the measured window
	Errors    uint64
	FirstErr  error
	Elapsed   time.Duration // of the measured window
	OpsPerSec float64
	// Counters grew by this much in the measured window, summed over the
	// processes involved (zero if unknown).
	Counters Counters
	Hist     Histogram
}

// P50 returns the median latency.
func (r *Result) P50() time.Duration { return r.Hist.Quantile(0.50) }

// P99 returns the 99th percentile latency.
func (r *Result) P99() time.Duration { return r.Hist.Quantile(0.99) }

// CPUPerOp returns the CPU time used per completed op (0 if unknown).
func (r *Result) CPUPerOp() time.Duration {
	if r.Counters.CPU <= 0 || r.Ops == 0 {
		return 0
	}
	return r.Counters.CPU / time.Duration(r.Ops)
}

// ForeignCPUs returns how many CPUs, on average over the measured window,
// were busy with something other than the processes measured (machine busy
// time minus theirs, plus steal); 0 if unknown. The machine figure is
// tick-based, so values below ~0.1 are noise.
func (r *Result) ForeignCPUs() float64 {
	c := r.Counters
	if c.MachineBusy == 0 || r.Elapsed <= 0 {
		return 0
	}
	return max(0, (c.MachineBusy-c.CPU+c.MachineSteal).Seconds()/r.Elapsed.Seconds())
}

// PerOp returns n divided by the number of completed ops.
func (r *Result) PerOp(n uint64) float64 {
	if r.Ops == 0 {
		return 0
	}
	return float64(n) / float64(r.Ops)
}

const (
	phasePaused int32 = iota
	phaseWarmup
	phaseMeasure
	phaseStop
)

type worker struct {
	hist     Histogram
	errs     uint64
	firstErr error
}

// Run runs the workload (Warmup, then Duration measured) and returns its
// figures. Errors of single ops are counted, not fatal; an error is
// returned only when setup fails or ctx is canceled.
func Run(ctx context.Context, w Workload) (Result, error) {
	r, err := Start(ctx, w)
	if err != nil {
		return Result{Name: w.Name, Clients: w.Clients}, err
	}
	defer r.Close()
	if err := r.Round(ctx, w.Warmup, w.Duration); err != nil {
		return r.Result(), err
	}
	return r.Result(), nil
}

// Running is a started workload: its connections are open and its workers
// wait, paused, for rounds. Several Runnings can take turns in short rounds
// so that slow changes of the machine's load touch them alike.
type Running struct {
	w       Workload
	ctx     context.Context // carries the workload's pprof labels
	workers []worker
	cleanup []func()

	phase   atomic.Int32
	mu      sync.Mutex
	cond    *sync.Cond
	gen     int            // round number, guarded by mu
	inRound sync.WaitGroup // workers still in the current round
	exited  sync.WaitGroup

	ops      uint64
	elapsed  time.Duration
	counters Counters
}

// Start sets the workload up (Setup, then one NewWorker per client) and
// starts its workers, paused.
func Start(ctx context.Context, w Workload) (*Running, error) {
	if w.Clients <= 0 {
		return nil, errors.New("bench: workload needs at least one client")
	}
	r := &Running{w: w, workers: make([]worker, w.Clients)}
	r.cond = sync.NewCond(&r.mu)
	labels := append([]string{"workload", w.Name}, w.Labels...)
	var err error
	// Goroutines started in here (client connections, workers) inherit the
	// labels.
	pprof.Do(ctx, pprof.Labels(labels...), func(ctx context.Context) {
		r.ctx = ctx
		err = r.start(ctx)
	})
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Running) start(ctx context.Context) error {
	if r.w.Setup != nil {
		cleanup, err := r.w.Setup(ctx)
		if err != nil {
			return fmt.Errorf("%s: setup: %w", r.w.Name, err)
		}
		if cleanup != nil {
			r.cleanup = append(r.cleanup, cleanup)
		}
	}
	ops := make([]OpFunc, r.w.Clients)
	for i := range ops {
		op, cleanup, err := r.w.NewWorker(ctx, i)
		if err != nil {
			return fmt.Errorf("%s: worker %d: %w", r.w.Name, i, err)
		}
		if cleanup != nil {
			r.cleanup = append(r.cleanup, cleanup)
		}
		ops[i] = op
	}
	for i := range ops {
		r.exited.Add(1)
		go r.work(&r.workers[i], ops[i])
	}
	return nil
}

// work is one worker: it waits for each round, runs ops back to back while
// the round lasts and records the latency of those started while measuring.
func (r *Running) work(wk *worker, op OpFunc) {
	defer r.exited.Done()
	gen := 0
	for {
		r.mu.Lock()
		for r.gen == gen && r.phase.Load() != phaseStop {
			r.cond.Wait()
		}
		gen = r.gen
		r.mu.Unlock()
		if r.phase.Load() == phaseStop {
			return // Close, between rounds
		}
		for {
			p := r.phase.Load()
			if p == phasePaused || p == phaseStop {
				break
			}
			start := time.Now()
			err := op()
			d := time.Since(start)
			if p != phaseMeasure {
				continue
			}
			if err != nil {
				if wk.errs == 0 {
					wk.firstErr = err
				}
				wk.errs++
				continue
			}
			wk.hist.Record(d)
		}
		r.inRound.Done()
	}
}

// Round runs the workers for warmup, then measures them for d, then pauses
// them and waits until their last ops are answered.
func (r *Running) Round(ctx context.Context, warmup, d time.Duration) error {
	sleep := func(d time.Duration) bool {
		if d <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	r.inRound.Add(len(r.workers))
	r.mu.Lock()
	r.gen++
	r.phase.Store(phaseWarmup)
	r.cond.Broadcast()
	r.mu.Unlock()
	ok := sleep(warmup)
	var c0 Counters
	if ok && r.w.Counters != nil {
		c0 = r.w.Counters()
	}
	start := time.Now()
	if ok {
		r.phase.Store(phaseMeasure)
		ok = sleep(d)
	}
	r.phase.Store(phasePaused)
	r.inRound.Wait()
	if !ok {
		return ctx.Err()
	}
	r.elapsed += time.Since(start)
	if r.w.Counters != nil {
		r.counters = r.counters.Add(r.w.Counters().Sub(c0))
	}
	return nil
}

// Result returns the figures of every round so far.
func (r *Running) Result() Result {
	res := Result{Name: r.w.Name, Clients: r.w.Clients, Elapsed: r.elapsed, Counters: r.counters}
	for i := range r.workers {
		wk := &r.workers[i]
		res.Hist.Merge(&wk.hist)
		res.Errors += wk.errs
		if res.FirstErr == nil && wk.firstErr != nil {
			res.FirstErr = wk.firstErr
		}
	}
	res.Ops = res.Hist.Count()
	if res.Elapsed > 0 {
		res.OpsPerSec = float64(res.Ops) / res.Elapsed.Seconds()
	}
	return res
}

// Close stops the workers and runs the cleanups (closing connections).
func (r *Running) Close() {
	r.mu.Lock()
	r.phase.Store(phaseStop)
	r.cond.Broadcast()
	r.mu.Unlock()
	r.exited.Wait()
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	r.cleanup = nil
}
