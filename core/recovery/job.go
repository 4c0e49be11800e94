package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Kind is what a job does.
type Kind string

// Job kinds.
const (
	// Merge moves the records a backend holds but no longer owns to their
	// owners in its group.
	Merge Kind = "merge"
	// DC fills the ranges a backend owns from the other groups.
	DC Kind = "dc"
)

// State is where a job is in its life.
type State string

// Job states. Running and Paused jobs resume after a restart of the node.
const (
	Running State = "running"
	Paused  State = "paused"
	Stopped State = "stopped" // by an operator; not resumed
	Done    State = "done"
	Failed  State = "failed"
)

// Finished reports whether the job will do no more work.
func (s State) Finished() bool { return s == Stopped || s == Done || s == Failed }

// Spec says what a job does.
type Spec struct {
	Kind    Kind  `json:"kind"`
	Backend int32 `json:"backend"`
	// Ranges limit a dc job (both ends inclusive); none means every range
	// the backend owns when the job starts.
	Ranges []IDRange `json:"ranges,omitempty"`
	// Before (dc) copies only records written before this time (zero:
	// all). A backend that starts empty fills only what was written
	// before it started: later writes reach it directly, and a write a
	// client chose to give to other groups only stays there.
	Before time.Time `json:"before,omitzero"`
	// DryRun walks the records and reports the plan without moving any.
	DryRun bool `json:"dry_run,omitempty"`
	// Limits of this job, on top of the node's.
	Limits Limits `json:"limits"`
	// Auto: started by the node itself (a route change, an empty backend).
	Auto bool `json:"auto,omitempty"`
	// Verify (dc) first reads every local record of the ranges and checks
	// its data against its checksum (a scrub); a corrupt one is replaced
	// by an intact copy from another group, even an older one.
	Verify bool `json:"verify,omitempty"`
}

// IDRange is a range of IDs, both ends inclusive.
type IDRange struct {
	Start id.ID `json:"start"`
	End   id.ID `json:"end"`
}

// Move is one line of a plan: records going from one backend to another.
type Move struct {
	From    string `json:"from"` // "addr/backend"
	To      string `json:"to"`
	Objects uint64 `json:"objects"`
	Bytes   uint64 `json:"bytes"`
}

// Status is a job's progress, as persisted and as reported to operators.
type Status struct {
	ID    uint64 `json:"id"`
	Spec  Spec   `json:"spec"`
	Group uint32 `json:"group"`
	// Sources are the groups a dc job copies from, fixed when it starts.
	Sources  []uint32  `json:"sources,omitempty"`
	State    State     `json:"state"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Finished time.Time `json:"finished,omitzero"`
	// Scanned counts the records looked at; Total is how many there are to
	// look at (an estimate; 0 when unknown).
	Scanned uint64 `json:"scanned"`
	Total   uint64 `json:"total"`
	// Moved counts the records copied (dc) or moved off (merge), Bytes
	// their size; Kept the ones whose destination already held a copy as
	// new or newer.
	Moved  uint64 `json:"moved"`
	Bytes  uint64 `json:"bytes"`
	Kept   uint64 `json:"kept"`
	Errors uint64 `json:"errors"`
	// Equal counts the buckets of the ID space (package digest) a dc found
	// equal here and at the source by their range hashes, and skipped.
	Equal uint64 `json:"equal_buckets,omitempty"`
	// Corrupt counts the records that failed their checksum: here (found
	// by Verify) or at a source (never copied).
	Corrupt uint64 `json:"corrupt,omitempty"`
	// LastError is the most recent per-record error; Err why the job
	// failed.
	LastError string `json:"last_error,omitempty"`
	Err       string `json:"error,omitempty"`
	// Rate is records looked at per second and ByteRate bytes moved per
	// second, over the job's running time; ETA the seconds left at that
	// rate (0 when unknown).
	Rate     float64 `json:"rate"`
	ByteRate float64 `json:"byte_rate"`
	ETA      float64 `json:"eta"`
	// Plan (dry runs) lists what would move.
	Plan []Move `json:"plan,omitempty"`
	// Cursor is where the job resumes: the pass and the last ID done.
	Cursor Cursor `json:"cursor"`
	// Active is the job's running time before the current run (resumed
	// jobs), for the rates.
	Active time.Duration `json:"active"`
}

// Reply is the JSON reply of a node's RECOVERY command.
type Reply struct {
	Jobs []Status `json:"jobs"`
	// Digests answers a digests request.
	Digests *Digests `json:"digests,omitempty"`
}

// Digests are a backend's range hashes of buckets First.. (package
// digest), little-endian uint64s; Ready is false while the backend builds
// them (or keeps none), and Sums is then empty.
type Digests struct {
	First int    `json:"first"`
	Ready bool   `json:"ready"`
	Sums  []byte `json:"sums,omitempty"`
}

// Cursor is a job's position.
type Cursor struct {
	Pass int   `json:"pass"`
	Last id.ID `json:"last"`
	Any  bool  `json:"any"` // Last is set: at least one record of the pass done
}

// Job is a running (or finished) job.
type Job struct {
	m *Manager

	mu     sync.Mutex
	st     Status
	since  time.Time          // start of the current run (for rates)
	wake   chan struct{}      // closed and replaced on every state change
	cancel context.CancelFunc // of the running goroutine; nil when not running
	done   chan struct{}      // closed when the running goroutine ends
	// interrupted: canceled by Manager.Interrupt, to go on later.
	interrupted bool
	saved       time.Time
	plan        map[[2]string]*Move
	limiter     *throttle
}

// Status returns a copy of the job's progress with rates filled in.
func (j *Job) Status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.statusLocked()
}

func (j *Job) statusLocked() Status {
	st := j.st
	st.Plan = append([]Move(nil), st.Plan...)
	for _, mv := range j.plan {
		st.Plan = append(st.Plan, *mv)
	}
	active := st.Active
	if st.State == Running && !j.since.IsZero() {
		active += time.Since(j.since)
	}
	if secs := active.Seconds(); secs > 0 {
		st.Rate = float64(st.Scanned) / secs
		st.ByteRate = float64(st.Bytes) / secs
		if st.Total > st.Scanned && st.Rate > 0 && st.State == Running {
			st.ETA = float64(st.Total-st.Scanned) / st.Rate
		}
	}
	return st
}

// gate returns nil when the job may do its next step: it waits while the
// job is paused and fails once it is stopped or ctx ends.
func (j *Job) gate(ctx context.Context) error {
	for {
		j.mu.Lock()
		state, wake := j.st.State, j.wake
		j.mu.Unlock()
		switch state {
		case Running:
			return ctx.Err()
		case Paused:
			select {
			case <-wake:
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			return status.Errorf(status.Canceled, "recovery job %d %s", j.st.ID, state)
		}
	}
}

// setState changes the state and wakes a paused job.
func (j *Job) setState(s State) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.setStateLocked(s)
}

func (j *Job) setStateLocked(s State) {
	now := time.Now()
	if j.st.State == Running && s != Running && !j.since.IsZero() {
		j.st.Active += now.Sub(j.since)
		j.since = time.Time{}
	}
	if s == Running && j.st.State != Running {
		j.since = now
	}
	j.st.State, j.st.Updated = s, now
	if s.Finished() {
		j.st.Finished = now
	}
	close(j.wake)
	j.wake = make(chan struct{})
	j.m.saveLocked(j, true)
}

// progress records one record looked at, after the cursor moved past it.
func (j *Job) progress(fn func(st *Status)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn(&j.st)
	j.st.Updated = time.Now()
	j.m.saveLocked(j, false)
}

// recordError records a per-record error; the job goes on.
func (j *Job) recordError(err error) {
	j.progress(func(st *Status) {
		st.Errors++
		st.LastError = err.Error()
	})
}

// planned adds a record to a dry run's plan.
func (j *Job) planned(from, to string, size uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k := [2]string{from, to}
	mv := j.plan[k]
	if mv == nil {
		mv = &Move{From: from, To: to}
		j.plan[k] = mv
	}
	mv.Objects++
	mv.Bytes += size
}

func (st *Status) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("recovery job %d: encode: %w", st.ID, err)
	}
	return b, nil
}
