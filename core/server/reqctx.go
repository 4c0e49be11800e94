package server

import (
	"context"
	"sync"
	"time"
)

// reqCtx is the context of one request: the connection's context plus the
// request deadline. Unlike context.WithTimeout it arms no timer up front:
// Err compares the clock with the deadline, and only a handler that calls
// Done (to wait on it, or to derive a context) gets a timer. Most handlers
// (the mem backend, for one) only call Err.
type reqCtx struct {
	parent   context.Context
	deadline time.Time

	mu         sync.Mutex
	done       chan struct{} // made by the first Done
	err        error
	timer      *time.Timer
	stopParent func() bool
}

func (r *reqCtx) init(parent context.Context, deadline time.Time) {
	r.parent, r.deadline = parent, deadline
}

func (r *reqCtx) Deadline() (time.Time, bool) { return r.deadline, true }

func (r *reqCtx) Value(key any) any { return r.parent.Value(key) }

func (r *reqCtx) Done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return r.done
	}
	if r.err == nil {
		r.checkLocked() // before done exists, or ending now would close it
	}
	r.done = make(chan struct{})
	if r.err != nil {
		close(r.done)
		return r.done
	}
	r.timer = time.AfterFunc(time.Until(r.deadline), func() { r.cancel(context.DeadlineExceeded) })
	r.stopParent = context.AfterFunc(r.parent, func() { r.cancel(r.parent.Err()) })
	return r.done
}

func (r *reqCtx) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.checkLocked()
	}
	return r.err
}

func (r *reqCtx) String() string { return "server.requestContext" }

// checkLocked ends the context if its parent ended or its deadline passed.
func (r *reqCtx) checkLocked() {
	if err := r.parent.Err(); err != nil {
		r.cancelLocked(err)
	} else if !time.Now().Before(r.deadline) {
		r.cancelLocked(context.DeadlineExceeded)
	}
}

// cancel ends the context with err unless it has ended already; the server
// calls it with context.Canceled when the handler returns.
func (r *reqCtx) cancel(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.cancelLocked(err)
	}
	r.mu.Unlock()
}

func (r *reqCtx) cancelLocked(err error) {
	r.err = err
	if r.done != nil {
		close(r.done)
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.stopParent != nil {
		r.stopParent()
	}
}
