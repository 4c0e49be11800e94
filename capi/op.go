package main

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
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
// move, and stay valid until the handle is freed.
//
// Two ways to wait. ell_async_wait, the hot path of every blocking call,
// sleeps on word through a parker: a futex in the library (wait.go), so the
// C thread sleeps in the kernel and is woken by one syscall. Waiting inside
// the Go scheduler instead (a channel) costs far more there: a C thread's
// goroutine is locked to its thread, so waking it hands the P over between
// two threads, several futex calls and context switches per operation.
// ell_async_next (streaming, rarer, and needing "entry i arrived") waits on
// the changed channel, which a change closes; it is made only when someone
// waits, so appending entries allocates nothing.
type op struct {
	start time.Time
	free  func(unsafe.Pointer)
	park  parker

	word    atomic.Int32 // opRunning, then opDone or opReleased: what wait sleeps on
	waiters atomic.Int32 // threads in wait; finish and release skip the wake-up syscall without any

	mu      sync.Mutex
	changed chan struct{} // nil until a next call waits
	entries []unsafe.Pointer
	slabs   []unsafe.Pointer // blocks of entries added by addSlab, freed as a whole
	// slabEntries are the entries in slabs (not to be freed one by one).
	slabEntries []unsafe.Pointer
	done        bool
	end         time.Time
	code        int32
	msg         string
	released    bool // the handle was freed: entries go when the operation completes

	flow *flow // flow control of a streaming operation (iterators); nil: none
}

// flow bounds how far a streaming operation (an iterator) runs ahead of its
// reader: entry i is added only once i < wanted+window, where wanted is one
// more than the highest index asked for with next, so a reader that stops
// stops the producer (and, through the connection, the node). A wait for
// completion (ell_async_wait, ell_async_collect) lifts the bound: that
// caller wants every entry. Guarded by op.mu.
type flow struct {
	window    int
	wanted    int
	unlimited bool
	room      chan struct{} // closed when the bound moves; nil until a producer waits
}

// The values of op.word. Released wins over done: a wait on a freed handle
// reports the free, as before either happened.
const (
	opRunning int32 = iota
	opDone
	opReleased
)

// parker sleeps until a word changes: park returns when *word != old, when
// timeout passes (< 0: no limit) or spuriously, and unpark wakes every
// park on word. The library's parker is a futex (wait.go); it is an
// interface so that this file needs no cgo and its tests run under the race
// detector with either parker.
type parker interface {
	park(word *atomic.Int32, old int32, timeout time.Duration)
	unpark(word *atomic.Int32)
}

// chanParker is a parker in plain Go, for one op: tests use it.
type chanParker struct {
	mu sync.Mutex
	ch chan struct{}
}

func (p *chanParker) park(word *atomic.Int32, old int32, timeout time.Duration) {
	p.mu.Lock()
	if p.ch == nil {
		p.ch = make(chan struct{})
	}
	ch := p.ch
	p.mu.Unlock()
	if word.Load() != old { // changed before ch was taken: its close may be gone
		return
	}
	if timeout < 0 {
		<-ch
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (p *chanParker) unpark(*atomic.Int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch != nil {
		close(p.ch)
		p.ch = nil
	}
}

// newOp makes an operation whose entries are freed with free; park nil
// means a chanParker.
func newOp(free func(unsafe.Pointer), park parker) *op {
	if park == nil {
		park = &chanParker{}
	}
	return &op{start: time.Now(), free: free, park: park}
}

// wakeLocked wakes the next waiters.
func (o *op) wakeLocked() {
	if o.changed != nil {
		close(o.changed)
		o.changed = nil
	}
}

// setWindow turns on flow control (window > 0) before the operation starts.
func (o *op) setWindow(window int) {
	if window > 0 {
		o.flow = &flow{window: window}
	}
}

// roomLocked wakes a producer waiting in admit.
func (o *op) roomLocked() {
	if f := o.flow; f != nil && f.room != nil {
		close(f.room)
		f.room = nil
	}
}

// admit waits until entry i may be added: at once without flow control,
// else once the reader asked for entries close enough to i or lifted the
// bound. False when the handle was released or the operation completed:
// the producer should stop.
func (o *op) admit(i int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		if o.released || o.done {
			return false
		}
		f := o.flow
		if f == nil || f.unlimited || i < f.wanted+f.window {
			return true
		}
		if f.room == nil {
			f.room = make(chan struct{})
		}
		ch := f.room
		o.mu.Unlock()
		<-ch
		o.mu.Lock()
	}
}

// want records that the reader asked for entry i.
func (o *op) want(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f := o.flow; f != nil && i+1 > f.wanted {
		f.wanted = i + 1
		o.roomLocked()
	}
}

// unthrottle lifts the flow control bound for good.
func (o *op) unthrottle() {
	if o.flow == nil { // set before the op is shared, never changed
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.flow.unlimited {
		o.flow.unlimited = true
		o.roomLocked()
	}
}

// unparkWaiters wakes the threads in wait after o.word changed. The word is
// stored under o.mu (so finish and release cannot reorder their words) and
// the wake-up comes after o.mu is released: a woken thread's next call
// (status, entries) takes o.mu, and finding it held would park that C
// thread inside the Go scheduler, the cost the futex avoids. The store
// comes before the waiters check and wait counts itself before it checks
// the word (both sequentially consistent), so either the waker sees the
// waiter or the waiter sees the new word.
func (o *op) unparkWaiters() {
	if o.waiters.Load() > 0 {
		o.park.unpark(&o.word)
	}
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
	if o.done {
		o.mu.Unlock()
		return false
	}
	o.done, o.end, o.code, o.msg = true, time.Now(), code, msg
	o.wakeLocked()
	o.roomLocked()
	if o.released {
		o.freeEntriesLocked()
		o.mu.Unlock()
		return false
	}
	o.word.Store(opDone)
	o.mu.Unlock()
	o.unparkWaiters()
	return true
}

// release is ell_async_free: the entries are freed now if the operation is
// complete, else by finish. Waiters on other threads wake up.
func (o *op) release() {
	o.mu.Lock()
	if o.released {
		o.mu.Unlock()
		return
	}
	o.released = true
	o.wakeLocked()
	o.roomLocked()
	if o.done {
		o.freeEntriesLocked()
	}
	o.word.Store(opReleased)
	o.mu.Unlock()
	o.unparkWaiters()
}

func (o *op) freeEntriesLocked() {
	switch {
	case len(o.slabEntries) == len(o.entries): // nothing but slabs (or nothing)
	case o.slabs == nil:
		for _, p := range o.entries {
			o.free(p)
		}
	default:
		// Entries of slabs are freed with their slab, the others one by one.
		inSlab := make(map[unsafe.Pointer]bool, len(o.entries))
		for _, p := range o.slabEntries {
			inSlab[p] = true
		}
		for _, p := range o.entries {
			if !inSlab[p] {
				o.free(p)
			}
		}
	}
	for _, b := range o.slabs {
		o.free(b)
	}
	o.slabs, o.slabEntries = nil, nil
	o.entries = nil
}

// addSlab appends the entries ps, which all lie in blocks (a slab and the
// block of their data; nil ones are skipped), with one lock and one
// wake-up; the blocks are freed (with o.free) when the entries are. False
// when the operation is done or released: the blocks are freed at once.
func (o *op) addSlab(ps []unsafe.Pointer, blocks ...unsafe.Pointer) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.released || o.done {
		for _, b := range blocks {
			if b != nil {
				o.free(b)
			}
		}
		return false
	}
	o.entries = append(o.entries, ps...)
	for _, b := range blocks {
		if b != nil {
			o.slabs = append(o.slabs, b)
		}
	}
	o.slabEntries = append(o.slabEntries, ps...)
	o.wakeLocked()
	return true
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
		if o.changed == nil {
			o.changed = make(chan struct{})
		}
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

// wait is ell_async_wait. It takes no lock: it sleeps on o.word.
func (o *op) wait(timeoutMS int64) waitResult {
	if w := o.word.Load(); w != opRunning || timeoutMS == 0 {
		return wordResult(w)
	}
	var deadline time.Time
	if timeoutMS > 0 {
		deadline = time.Now().Add(time.Duration(timeoutMS) * time.Millisecond)
	}
	o.waiters.Add(1)
	defer o.waiters.Add(-1)
	for {
		if w := o.word.Load(); w != opRunning {
			return wordResult(w)
		}
		left := time.Duration(-1)
		if timeoutMS > 0 {
			if left = time.Until(deadline); left <= 0 {
				return waitTimeout
			}
		}
		o.park.park(&o.word, opRunning, left)
	}
}

func wordResult(w int32) waitResult {
	switch w {
	case opDone:
		return waitOK
	case opReleased:
		return waitReleased
	}
	return waitTimeout
}

// next is ell_async_next: entry i once it arrived.
func (o *op) next(i int, timeoutMS int64) (unsafe.Pointer, waitResult) {
	if o.flow != nil {
		o.want(i)
	}
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

// collect is ell_async_collect's read of a completed operation, under one
// lock: the status, the entries (handed to copy) and the elapsed time.
func (o *op) collect(copy func([]unsafe.Pointer)) (code int32, msg string, n int, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	copy(o.entries)
	return o.code, o.msg, len(o.entries), o.end.Sub(o.start)
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
