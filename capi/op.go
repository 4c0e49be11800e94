package main

import (
	"encoding/binary"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds the parts of the asynchronous machinery that need no cgo,
// so that plain Go tests (which cannot import "C") can run them under the
// race detector: the operation object and the completion queue.

// waitResult is how a wait on an operation or a queue ended.
type waitResult int

const (
	waitOK       waitResult = iota // the condition holds
	waitTimeout                    // the timeout passed first
	waitEnd                        // (next) the operation completed with fewer entries
	waitReleased                   // the handle was freed while waiting
)

// op is one asynchronous operation. The goroutine that runs it appends
// entries and completes it; C threads wait on it and read its entries.
//
// Entries are pointers to C memory (one block per entry, made by the cgo
// side and freed with free), so that C can keep pointers to them: they do not
// move, and stay valid until the handle is freed. A change wakes waiters by
// closing the changed channel and making a new one, which, unlike
// sync.Cond, lets a waiter also select on a timer.
type op struct {
	start time.Time
	free  func(unsafe.Pointer)

	mu       sync.Mutex
	changed  chan struct{}
	entries  []unsafe.Pointer
	done     bool
	end      time.Time
	code     int32
	msg      string
	released bool // the handle was freed: entries go when the operation completes
}

func newOp(free func(unsafe.Pointer)) *op {
	return &op{start: time.Now(), free: free, changed: make(chan struct{})}
}

func (o *op) wakeLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// add appends an entry. Once the handle is released nobody can read it, so
// the entry is freed at once and add reports false.
func (o *op) add(p unsafe.Pointer) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released || o.done {
		o.free(p)
		return false
	}
	o.entries = append(o.entries, p)
	o.wakeLocked()
	return true
}

// finish completes the operation with a status. It reports whether the
// completion is still wanted (the handle was not released); if it was
// released, the entries are freed here, as ell_async_free promised.
func (o *op) finish(code int32, msg string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return false
	}
	o.done, o.end, o.code, o.msg = true, time.Now(), code, msg
	o.wakeLocked()
	if o.released {
		o.freeEntriesLocked()
		return false
	}
	return true
}

// release is ell_async_free: the entries are freed now if the operation is
// complete, else by finish. Waiters on other threads wake up.
func (o *op) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released {
		return
	}
	o.released = true
	o.wakeLocked()
	if o.done {
		o.freeEntriesLocked()
	}
}

func (o *op) freeEntriesLocked() {
	for _, p := range o.entries {
		o.free(p)
	}
	o.entries = nil
}

func (o *op) isReleased() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.released
}

// awaitLocked waits until cond (evaluated with o.mu held) holds, the handle
// is released, or timeoutMS passes (<0: no limit, 0: do not wait). It
// returns with o.mu held.
func (o *op) awaitLocked(timeoutMS int64, cond func() bool) {
	var expired <-chan time.Time
	if timeoutMS > 0 {
		t := time.NewTimer(time.Duration(timeoutMS) * time.Millisecond)
		defer t.Stop()
		expired = t.C
	}
	o.mu.Lock()
	for !cond() && !o.released && timeoutMS != 0 {
		ch := o.changed
		o.mu.Unlock()
		select {
		case <-ch:
			o.mu.Lock()
		case <-expired:
			o.mu.Lock()
			return
		}
	}
}

// wait is ell_async_wait.
func (o *op) wait(timeoutMS int64) waitResult {
	o.awaitLocked(timeoutMS, func() bool { return o.done })
	defer o.mu.Unlock()
	switch {
	case o.released:
		return waitReleased
	case o.done:
		return waitOK
	}
	return waitTimeout
}

// next is ell_async_next: entry i once it arrived.
func (o *op) next(i int, timeoutMS int64) (unsafe.Pointer, waitResult) {
	o.awaitLocked(timeoutMS, func() bool { return i < len(o.entries) || o.done })
	defer o.mu.Unlock()
	switch {
	case o.released:
		return nil, waitReleased
	case i < len(o.entries):
		return o.entries[i], waitOK
	case o.done:
		return nil, waitEnd
	}
	return nil, waitTimeout
}

func (o *op) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.entries)
}

func (o *op) entry(i int) unsafe.Pointer {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i < 0 || i >= len(o.entries) {
		return nil
	}
	return o.entries[i]
}

// status returns whether the operation completed, and its status if so.
func (o *op) status() (bool, int32, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done, o.code, o.msg
}

// elapsed is the time from the call to completion, or until now.
func (o *op) elapsed() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return o.end.Sub(o.start)
	}
	return time.Since(o.start)
}

// posted is one completion in a queue.
type posted struct {
	tag    uint64
	handle uint64
}

// queue is a completion queue. Its eventfd is readable exactly while the
// queue is not empty: push writes to it when the queue goes from empty to
// non-empty, pop reads it (resetting the counter to 0) when the queue goes
// empty, both under mu, so the counter is 1 or 0 in step with the queue.
// Waiters in pop wait on a channel, not on the fd, so that a timeout and
// ell_queue_free wake them.
type queue struct {
	mu      sync.Mutex
	fd      int
	changed chan struct{}
	items   []posted
	closed  bool
}

func newQueue() (*queue, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &queue{fd: fd, changed: make(chan struct{})}, nil
}

// push posts a completion; false if the queue was freed (it is dropped).
func (q *queue) push(p posted) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, p)
	if len(q.items) == 1 {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(q.fd, one[:]) // cannot fail: the counter is 0 here
	}
	close(q.changed)
	q.changed = make(chan struct{})
	return true
}

// pop takes the oldest completion, waiting up to timeoutMS (<0: no limit,
// 0: do not wait).
func (q *queue) pop(timeoutMS int64) (posted, waitResult) {
	var expired <-chan time.Time
	if timeoutMS > 0 {
		t := time.NewTimer(time.Duration(timeoutMS) * time.Millisecond)
		defer t.Stop()
		expired = t.C
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		if timeoutMS == 0 {
			return posted{}, waitTimeout
		}
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
			q.mu.Lock()
		case <-expired:
			q.mu.Lock()
			if len(q.items) == 0 && !q.closed {
				return posted{}, waitTimeout
			}
		}
	}
	if q.closed {
		return posted{}, waitReleased
	}
	p := q.items[0]
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
		var buf [8]byte
		_, _ = unix.Read(q.fd, buf[:]) // drain: the fd is not readable while empty
	}
	return p, waitOK
}

// close frees the queue: pending and later completions are dropped and
// waiters wake up.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	q.items = nil
	_ = unix.Close(q.fd)
	close(q.changed)
}
