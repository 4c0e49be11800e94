package server

import (
	"sync"

	"github.com/elliptics/elliptics/core/id"
)

// keyQueue runs jobs for the same key one at a time, in submission order,
// and jobs for different keys concurrently. It replaces a per-key mutex,
// which would serialise but not preserve the order requests arrived in.
type keyQueue struct {
	shards [256]keyShard
}

type keyShard struct {
	mu      sync.Mutex
	pending map[id.ID]*keyJobs
}

type keyJobs struct {
	jobs []func()
}

func newKeyQueue() *keyQueue {
	q := &keyQueue{}
	for i := range q.shards {
		q.shards[i].pending = make(map[id.ID]*keyJobs)
	}
	return q
}

// run schedules fn after every job already queued for key.
func (q *keyQueue) run(key id.ID, fn func()) {
	sh := &q.shards[key[0]]
	sh.mu.Lock()
	if p := sh.pending[key]; p != nil {
		p.jobs = append(p.jobs, fn)
		sh.mu.Unlock()
		return
	}
	p := &keyJobs{}
	sh.pending[key] = p
	sh.mu.Unlock()
	go func() {
		for {
			fn()
			sh.mu.Lock()
			if len(p.jobs) == 0 {
				delete(sh.pending, key)
				sh.mu.Unlock()
				return
			}
			fn = p.jobs[0]
			p.jobs[0] = nil
			p.jobs = p.jobs[1:]
			sh.mu.Unlock()
		}
	}()
}
