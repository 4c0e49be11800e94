package server

import (
	"sync"
)

// maxIdleWorkers bounds the parked workers of a server.
const maxIdleWorkers = 4096

// workers runs request jobs on long-lived goroutines. A job handed to a
// parked worker costs no goroutine start, and the worker keeps the stack
// its handlers grew (a fresh goroutine per request grows and copies its
// stack every time). Workers parked for a whole reaping period (reap) exit.
type workers struct {
	mu      sync.Mutex
	idle    []*worker // a stack: the most recently parked on top
	epoch   uint64    // reaping periods so far
	stopped bool
}

type worker struct {
	jobs  chan job // nil: exit
	epoch uint64   // when it parked
}

// run runs fn on a parked worker, or on a new one.
func (p *workers) run(fn job) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- fn
		return
	}
	p.mu.Unlock()
	go p.work(fn)
}

func (p *workers) work(fn job) {
	w := &worker{jobs: make(chan job, 1)}
	for fn != nil {
		fn.run()
		fn = nil // let the job's memory go while parked
		p.mu.Lock()
		if p.stopped || len(p.idle) >= maxIdleWorkers {
			p.mu.Unlock()
			return
		}
		w.epoch = p.epoch
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		fn = <-w.jobs
	}
}

// reap makes the workers that stayed parked since the previous reap exit.
func (p *workers) reap() {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].epoch < p.epoch {
		n++
	}
	old := make([]*worker, n)
	copy(old, p.idle[:n])
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	p.epoch++
	p.mu.Unlock()
	for _, w := range old {
		w.jobs <- nil
	}
}

// stop makes parked workers exit, and busy ones when their job is done.
func (p *workers) stop() {
	p.mu.Lock()
	p.stopped = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		w.jobs <- nil
	}
}
