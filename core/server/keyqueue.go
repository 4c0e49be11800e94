package server

import (
	"context"
	"sync"

	"github.com/elliptics/elliptics/core/id"
)

// keyQueue runs jobs for the same key one at a time, in submission order,
// and jobs for different keys concurrently. It replaces a per-key mutex,
// which would serialise but not preserve the order requests arrived in.
type keyQueue struct {
	shards [256]keyShard
	// spawn starts a key's runner on a goroutine of its own (nil: go).
	spawn func(job)
}

// job is a unit of work of the key queue and the workers: a request's task,
// or a plain function (funcJob).
type job interface{ run() }

type funcJob func()

func (f funcJob) run() { f() }

type keyShard struct {
	mu      sync.Mutex
	pending map[id.ID]*keyJobs
}

// keyJobs are the jobs of one key: the running one and those queued behind
// it. They are reused once the key's queue is empty.
type keyJobs struct {
	sh    *keyShard
	key   id.ID
	first job
	jobs  []job // queued behind the running job, from head on
	head  int
}

var keyJobsPool = sync.Pool{New: func() any { return &keyJobs{} }}

func newKeyQueue() *keyQueue {
	q := &keyQueue{}
	for i := range q.shards {
		q.shards[i].pending = make(map[id.ID]*keyJobs)
	}
	return q
}

// run schedules fn after every job already queued for key.
func (q *keyQueue) run(key id.ID, fn func()) { q.add(key, funcJob(fn)) }

// withKey runs fn in key's order, among the requests on that key, and
// waits for it: node-internal writes (recovery copies) that check before
// they write must not let a client's write slip in between. If ctx ends
// first, fn still runs later and its error is dropped.
func (s *Server) withKey(ctx context.Context, key id.ID, fn func() error) error {
	done := make(chan error, 1)
	s.keys.run(key, func() { done <- fn() })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// add schedules j after every job already queued for key.
func (q *keyQueue) add(key id.ID, j job) {
	sh := &q.shards[key[0]]
	sh.mu.Lock()
	if p := sh.pending[key]; p != nil {
		p.jobs = append(p.jobs, j)
		sh.mu.Unlock()
		return
	}
	p := keyJobsPool.Get().(*keyJobs)
	p.sh, p.key, p.first = sh, key, j
	sh.pending[key] = p
	sh.mu.Unlock()
	if q.spawn != nil {
		q.spawn(p)
	} else {
		go p.run()
	}
}

// run runs the key's jobs until none is left, then retires the queue.
func (p *keyJobs) run() {
	fn := p.first
	p.first = nil
	sh := p.sh
	for {
		fn.run()
		sh.mu.Lock()
		if p.head == len(p.jobs) {
			delete(sh.pending, p.key)
			sh.mu.Unlock()
			clear(p.jobs)
			p.jobs, p.head, p.sh = p.jobs[:0], 0, nil
			if cap(p.jobs) > 1024 {
				p.jobs = nil // a big backlog's array is not kept
			}
			keyJobsPool.Put(p)
			return
		}
		fn = p.jobs[p.head]
		p.jobs[p.head] = nil
		p.head++
		if p.head >= 64 && 2*p.head >= len(p.jobs) {
			// A key that always has a backlog: drop the consumed front.
			n := copy(p.jobs, p.jobs[p.head:])
			clear(p.jobs[n:])
			p.jobs, p.head = p.jobs[:n], 0
		}
		sh.mu.Unlock()
	}
}
