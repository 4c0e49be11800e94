package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/status"
)

// Options configure a Manager.
type Options struct {
	// Dir keeps the state of jobs, so they resume after a restart ("" =
	// not kept).
	Dir string
	// Limits are the node's: every job shares them.
	Limits Limits
	// Batch is how many records a dc job has sent per SEND request
	// (default 256).
	Batch int
	// Keep is how many finished jobs are remembered (default 32).
	Keep int
	// Concurrency is how many jobs run at once on the node (default 2);
	// the others wait their turn.
	Concurrency int
	Logger      *zap.Logger
}

// checkpointEvery bounds how often a running job writes its state: a job
// resumed after a crash redoes at most this much work, which is harmless
// (every step is idempotent: newest wins).
const checkpointEvery = time.Second

// Manager runs the recovery jobs of one node.
type Manager struct {
	host Host
	opts Options
	log  *zap.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// runMu orders wg.Add in run against Close's Wait: once closed, no job
	// starts (Resume may run on the node's loop while it shuts down).
	runMu  sync.Mutex
	closed bool

	limiter *throttle
	slots   *slots // one per running job (Options.Concurrency)

	mu   sync.Mutex
	jobs map[uint64]*Job
	last uint64
}

// ErrClosed is returned by a Manager after Close.
var ErrClosed = errors.New("recovery: manager closed")

// New returns a manager; Resume starts the jobs a previous run left.
func New(host Host, opts Options) *Manager {
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Keep <= 0 {
		opts.Keep = 32
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{host: host, opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel,
		limiter: newThrottle(opts.Limits), slots: newSlots(opts.Concurrency), jobs: map[uint64]*Job{}, last: uint64(time.Now().UnixMilli())}
}

// Load reads the jobs kept in Options.Dir. Finished ones are listed;
// running ones wait for Resume, which the node calls once its route table
// has settled: a job resumed with a table that knows only the node itself
// would find every record "owned here" and move nothing. Paused ones wait
// for an operator.
func (m *Manager) Load() error {
	if m.opts.Dir == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(m.opts.Dir, "job-*.json"))
	if err != nil {
		return fmt.Errorf("recovery: list jobs: %w", err)
	}
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("recovery: %w", err))
			continue
		}
		var st Status
		if err := json.Unmarshal(b, &st); err != nil {
			// A torn state file is not fatal: the job is lost, not the data.
			errs = append(errs, fmt.Errorf("recovery: %s: %w", f, err))
			continue
		}
		m.mu.Lock()
		m.last = max(m.last, st.ID)
		m.newJobLocked(st)
		m.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Resume starts the loaded jobs that were running when the node stopped.
func (m *Manager) Resume() {
	m.mu.Lock()
	var todo []*Job
	for _, j := range m.jobs {
		j.mu.Lock()
		if j.st.State == Running && j.cancel == nil {
			todo = append(todo, j)
		}
		j.mu.Unlock()
	}
	m.mu.Unlock()
	for _, j := range todo {
		st := j.Status()
		loc, err := m.host.Local(st.Spec.Backend)
		if err != nil {
			continue // the backend is disabled: wait until it serves again
		}
		loc.Release()
		m.log.Info("resuming recovery job", zap.Uint64("job", st.ID), zap.String("kind", string(st.Spec.Kind)),
			zap.Int32("backend", st.Spec.Backend), zap.Uint64("scanned", st.Scanned))
		m.run(j)
	}
}

func (m *Manager) newJobLocked(st Status) *Job {
	j := &Job{m: m, st: st, wake: make(chan struct{}), plan: map[[2]string]*Move{}, limiter: newThrottle(st.Spec.Limits)}
	for _, mv := range st.Plan {
		j.plan[[2]string{mv.From, mv.To}] = &Move{From: mv.From, To: mv.To, Objects: mv.Objects, Bytes: mv.Bytes}
	}
	j.st.Plan = nil
	m.jobs[st.ID] = j
	return j
}

// Start starts a job. A job of the same kind already running or paused on
// the backend makes it status.ErrAlready.
func (m *Manager) Start(spec Spec) (Status, error) {
	if spec.Kind != Merge && spec.Kind != DC {
		return Status{}, status.Errorf(status.Invalid, "recovery: unknown job kind %q (merge or dc)", spec.Kind)
	}
	if spec.Limits.BytesPerSec < 0 || spec.Limits.ObjectsPerSec < 0 {
		return Status{}, status.Errorf(status.Invalid, "recovery: negative rate")
	}
	for _, r := range spec.Ranges {
		if r.End.Less(r.Start) {
			return Status{}, status.Errorf(status.Invalid, "recovery: range start %s is after end %s", r.Start.Short(), r.End.Short())
		}
	}
	loc, err := m.host.Local(spec.Backend)
	if err != nil {
		return Status{}, fmt.Errorf("recovery: backend %d: %w", spec.Backend, err)
	}
	total := loc.Store.Stats().Records
	group := loc.Group
	loc.Release()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return Status{}, ErrClosed
	}
	for _, j := range m.jobs {
		if st := j.Status(); st.Spec.Kind == spec.Kind && st.Spec.Backend == spec.Backend && !st.State.Finished() {
			return st, status.Errorf(status.Already, "recovery: a %s job (%d) is already %s on backend %d", spec.Kind, st.ID, st.State, spec.Backend)
		}
	}
	m.last++
	now := time.Now()
	st := Status{ID: m.last, Spec: spec, Group: group, State: Running, Started: now, Updated: now}
	if spec.Kind == Merge {
		st.Total = total
	}
	j := m.newJobLocked(st)
	m.pruneLocked()
	j.mu.Lock()
	j.since = now
	m.saveLocked(j, true)
	j.mu.Unlock()
	m.run(j)
	return j.Status(), nil
}

// run runs the job in the background until it finishes or the manager
// closes (then it stays Running on disk and resumes next time).
func (m *Manager) run(j *Job) {
	ctx, cancel := context.WithCancel(m.ctx)
	done := make(chan struct{})
	j.mu.Lock()
	j.cancel, j.done, j.interrupted = cancel, done, false
	if j.since.IsZero() && j.st.State == Running {
		j.since = time.Now()
	}
	j.mu.Unlock()
	m.runMu.Lock()
	if m.closed {
		m.runMu.Unlock()
		cancel()
		close(done)
		return
	}
	m.wg.Add(1)
	// Queue for a slot now, not in the goroutine, so jobs run in the
	// order they were started.
	slot := m.slots.ask()
	m.runMu.Unlock()
	go func() {
		defer m.wg.Done()
		defer close(done)
		defer cancel()
		var err error
		if m.slots.wait(ctx, slot) {
			switch j.st.Spec.Kind {
			case Merge:
				err = m.merge(ctx, j)
			case DC:
				err = m.dc(ctx, j)
			}
			m.slots.release()
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if m.ctx.Err() != nil || j.interrupted {
			// The node is closing or the backend going away: keep the
			// job's state, to go on with it later.
			j.cancel = nil
			m.saveLocked(j, true)
			return
		}
		switch {
		case j.st.State.Finished():
		case err != nil:
			j.st.Err = err.Error()
			j.setStateLocked(Failed)
			m.log.Warn("recovery job failed", zap.Uint64("job", j.st.ID), zap.String("kind", string(j.st.Spec.Kind)),
				zap.Int32("backend", j.st.Spec.Backend), zap.Error(err))
		default:
			j.setStateLocked(Done)
			m.log.Info("recovery job done", zap.Uint64("job", j.st.ID), zap.String("kind", string(j.st.Spec.Kind)),
				zap.Int32("backend", j.st.Spec.Backend), zap.Uint64("scanned", j.st.Scanned),
				zap.Uint64("moved", j.st.Moved), zap.Uint64("bytes", j.st.Bytes), zap.Uint64("errors", j.st.Errors))
		}
	}()
}

// Interrupt stops the running jobs of a backend (it is being disabled)
// and waits for them to let go of it. They keep their state and go on at
// the next Resume once the backend serves again.
func (m *Manager) Interrupt(backendID int32) {
	m.mu.Lock()
	var wait []chan struct{}
	for _, j := range m.jobs {
		j.mu.Lock()
		if j.st.Spec.Backend == backendID && j.cancel != nil && !j.st.State.Finished() {
			j.interrupted = true
			j.cancel()
			wait = append(wait, j.done)
		}
		j.mu.Unlock()
	}
	m.mu.Unlock()
	for _, d := range wait {
		<-d
	}
}

// Action is an operator's command to a job.
type Action string

// Job actions.
const (
	Pause  Action = "pause"
	Resume Action = "resume"
	Stop   Action = "stop"
)

// Control pauses, resumes or stops a job.
func (m *Manager) Control(jobID uint64, a Action) (Status, error) {
	m.mu.Lock()
	j := m.jobs[jobID]
	m.mu.Unlock()
	if j == nil {
		return Status{}, status.Errorf(status.NotFound, "recovery: no job %d on this node", jobID)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	cur := j.st.State
	if cur.Finished() {
		return j.statusLocked(), status.Errorf(status.Invalid, "recovery: job %d is %s", jobID, cur)
	}
	switch a {
	case Pause:
		if cur == Running {
			j.setStateLocked(Paused)
		}
	case Resume:
		if cur == Paused {
			j.setStateLocked(Running)
			if j.cancel == nil {
				// Paused when the node last stopped: not running yet.
				j.mu.Unlock()
				m.run(j)
				j.mu.Lock()
			}
		}
	case Stop:
		j.setStateLocked(Stopped)
	default:
		return j.statusLocked(), status.Errorf(status.Invalid, "recovery: unknown action %q (pause, resume or stop)", a)
	}
	return j.statusLocked(), nil
}

// Jobs returns every job known, newest first.
func (m *Manager) Jobs() []Status {
	m.mu.Lock()
	jobs := make([]*Job, 0, len(m.jobs))
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.mu.Unlock()
	out := make([]Status, len(jobs))
	for i, j := range jobs {
		out[i] = j.Status()
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID > out[b].ID })
	return out
}

// Active reports whether a job of kind runs (or is paused) on the backend.
func (m *Manager) Active(kind Kind, backendID int32) bool {
	for _, st := range m.Jobs() {
		if st.Spec.Kind == kind && st.Spec.Backend == backendID && !st.State.Finished() {
			return true
		}
	}
	return false
}

// Close stops every job at its next record and waits for them; their
// state stays on disk, so the next Resume continues them.
func (m *Manager) Close() {
	m.runMu.Lock()
	m.closed = true
	m.runMu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// pruneLocked forgets the oldest finished jobs beyond Options.Keep.
func (m *Manager) pruneLocked() {
	var done []uint64
	for id, j := range m.jobs {
		if j.Status().State.Finished() {
			done = append(done, id)
		}
	}
	if len(done) <= m.opts.Keep {
		return
	}
	slices.Sort(done)
	for _, id := range done[:len(done)-m.opts.Keep] {
		delete(m.jobs, id)
		if m.opts.Dir != "" {
			os.Remove(m.jobFile(id))
		}
	}
}

func (m *Manager) jobFile(id uint64) string {
	return filepath.Join(m.opts.Dir, fmt.Sprintf("job-%d.json", id))
}

// saveLocked writes the job's state (j.mu held): at once when force, else
// at most once per checkpointEvery. It writes a temporary file and renames
// it, so a crash leaves the old state or the new one.
func (m *Manager) saveLocked(j *Job, force bool) {
	if m.opts.Dir == "" || (!force && time.Since(j.saved) < checkpointEvery) {
		return
	}
	j.saved = time.Now()
	st := j.statusLocked()
	b, err := st.marshal()
	if err == nil {
		err = writeFileAtomic(m.jobFile(st.ID), b)
	}
	if err != nil {
		m.log.Warn("recovery: cannot save job state", zap.Uint64("job", st.ID), zap.Error(err))
	}
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// backendName is "addr/id".
func backendName(addr string, id int32) string { return fmt.Sprintf("%s/%d", addr, id) }
