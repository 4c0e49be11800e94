package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// completion is the caller's ell_completion, copied at call time.
type completion struct {
	callback C.ell_callback
	userdata unsafe.Pointer // the caller's, handed back untouched
	queue    uint64
	tag      uint64
}

// emitter turns Go entries into C entries of one operation.
type emitter struct {
	o     *op
	s     *client.Session
	nomem atomic.Bool

	// batch: entries are kept in pend and written into C memory by flush,
	// all in one block (bulk calls; one goroutine emits at a time).
	batch bool
	pend  []pending
	want  int // entries batchOf expects: sizes the first data block

	// data is the C block the pending entries' data is copied into as they
	// arrive (dataLen of dataCap bytes used), so that flush, which runs after
	// the last reply and before the caller can wake, copies no data.
	data             unsafe.Pointer
	dataLen, dataCap int
}

// pending is an entry held for flush; its data is in the emitter's data
// block (e.Data is nil), size bytes after the previous entry's.
type pending struct {
	e         client.Entry
	keyIndex  uint64
	backendID int32
	size      int
}

func (em *emitter) emit(e *client.Entry, keyIndex uint64) {
	em.emitExt(e, keyIndex, nil)
}

// emitExt is emit with the entry's extension fields besides the expiry.
func (em *emitter) emitExt(e *client.Entry, keyIndex uint64, x *extra) {
	if em.batch && x == nil {
		p := pending{e: *e, keyIndex: keyIndex, backendID: em.backendID(e), size: len(e.Data)}
		if !em.stage(e.Data) {
			em.nomem.Store(true)
			return
		}
		p.e.Data = nil
		em.pend = append(em.pend, p)
		return
	}
	p := newEntry(e, keyIndex, em.backendID(e), x)
	if p == nil {
		em.nomem.Store(true)
		return
	}
	em.o.add(p)
}

// flush writes the pending entries into one C block (see newSlab) and adds
// them to the operation with one lock and one wake-up. The pending slice is
// kept for recycle, which the caller runs once the operation is complete,
// so that its clearing is not between the last reply and the wake-up.
func (em *emitter) flush() {
	if len(em.pend) == 0 {
		return
	}
	data := em.data
	slab, ps := newSlab(em.pend, data)
	em.data, em.dataLen, em.dataCap = nil, 0, 0
	if slab == nil {
		C.free(data)
		em.nomem.Store(true)
		return
	}
	em.o.addSlab(ps, slab, data)
}

// recycle returns the pending slice of a flushed batch to the pool.
func (em *emitter) recycle() {
	if em.pend == nil {
		return
	}
	clear(em.pend) // no references to the entries' strings and errors from the pool
	p := em.pend[:0]
	pendPool.Put(&p)
	em.pend = nil
}

// stage appends b to the data block, which grows to hold the entries still
// expected at b's size; false when out of memory.
func (em *emitter) stage(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if need := em.dataLen + len(b); need > em.dataCap {
		c := max(need, 2*em.dataCap, em.dataLen+len(b)*max(em.want-len(em.pend), 1))
		p := C.realloc(em.data, C.size_t(c))
		if p == nil {
			return false
		}
		em.data, em.dataCap = p, c
	}
	copy(unsafe.Slice((*byte)(em.data), em.dataCap)[em.dataLen:], b)
	em.dataLen += len(b)
	return true
}

// pendPool keeps the pending entries of finished bulk calls for the next
// (a 100-key call's are about 33 KB that the GC would otherwise allocate,
// zero and scan on every call).
var pendPool = sync.Pool{New: func() any { return new([]pending) }}

// batchOf starts batching em's entries in a pooled slice of room for n.
func (em *emitter) batchOf(n int) {
	p := pendPool.Get().(*[]pending)
	em.batch, em.pend, em.want = true, (*p)[:0], n
	if cap(em.pend) < n {
		em.pend = make([]pending, 0, n)
	}
}

// backendID finds the backend that answered, from the route table: the
// owner of the key in its group, if that is the node that answered.
func (em *emitter) backendID(e *client.Entry) int32 {
	if e.Address == "" || e.Group == 0 {
		return -1
	}
	if b, ok := em.s.Node().Table().Owner(e.ID, e.Group); ok && b.Addr == e.Address {
		return b.ID
	}
	return -1
}

// emitTried emits the entries of a call that tries groups in turn (read,
// lookup, read_latest), as the session filter selects: the entry that
// answered (positive, the default), the failures of the groups tried
// (negative), or every entry tried (all; for read_latest the lookups too).
func (em *emitter) emitTried(filter C.int32_t, e client.Entry, tried []client.Entry, err error, keyIndex uint64) {
	switch filter {
	case C.ELL_FILTER_POSITIVE:
		if err == nil {
			em.emit(&e, keyIndex)
		}
		return
	case C.ELL_FILTER_NEGATIVE:
		for i := range tried {
			if !tried[i].OK() {
				em.emit(&tried[i], keyIndex)
			}
		}
		return
	}
	for i := range tried {
		em.emit(&tried[i], keyIndex)
	}
}

// freeEntry releases an entry made by newEntry: one block.
func freeEntry(p unsafe.Pointer) { C.free(p) }

// extra are the fields of an entry's ell_entry_ext that client.Entry does
// not carry (the expiry it does).
type extra struct {
	count           uint64
	iterID          uint64
	iterated, total uint64
	iterState       uint32
}

// newEntry copies e into one C block: the ell_entry, its ell_entry_ext (at
// e + 1, as elliptics.h promises), then its strings and data. One
// allocation per entry keeps the pointers C holds stable and makes freeing
// trivial; nil when out of memory.
func newEntry(e *client.Entry, keyIndex uint64, backendID int32, x *extra) unsafe.Pointer {
	strs := [...]string{e.Address, errorText(e), e.Path, e.Column}
	size := C.sizeof_ell_entry + C.sizeof_ell_entry_ext + len(e.Data)
	for _, s := range strs {
		size += len(s) + 1
	}
	block := C.calloc(1, C.size_t(size))
	if block == nil {
		return nil
	}
	buf := unsafe.Slice((*byte)(block), size)
	off := C.sizeof_ell_entry + C.sizeof_ell_entry_ext
	var ptrs [len(strs)]*C.char
	for i, s := range strs {
		copy(buf[off:], s) // NUL from calloc follows
		ptrs[i] = (*C.char)(unsafe.Pointer(&buf[off]))
		off += len(s) + 1
	}
	ce := (*C.ell_entry)(block)
	fillEntry(ce, e, keyIndex, backendID)
	ce.address, ce.error, ce.path, ce.column = ptrs[0], ptrs[1], ptrs[2], ptrs[3]
	ext := (*C.ell_entry_ext)(unsafe.Add(block, C.sizeof_ell_entry))
	sec, nsec := splitTime(e.Expire)
	ext.expire_tsec, ext.expire_tnsec = C.uint64_t(sec), C.uint64_t(nsec)
	if x != nil {
		ext.count = C.uint64_t(x.count)
		ext.iterator_id = C.uint64_t(x.iterID)
		ext.iterated_keys, ext.total_keys = C.uint64_t(x.iterated), C.uint64_t(x.total)
		ext.iterator_state = C.uint32_t(x.iterState)
	}
	if len(e.Data) > 0 {
		copy(buf[off:], e.Data)
		ce.data = (*C.uint8_t)(unsafe.Pointer(&buf[off]))
		ce.data_size = C.uint64_t(len(e.Data))
	}
	return block
}

// errorText is the ell_entry error of e ("" when it succeeded).
func errorText(e *client.Entry) string {
	if e.OK() {
		return ""
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Status.String()
}

// newSlab copies es into one C block: every ell_entry with its
// ell_entry_ext (n structs back to back, so entry i is at
// block + i*(sizeof ell_entry + sizeof ell_entry_ext)), then the distinct
// strings, each once (entries with the same address, or empty path, share
// it). Their data stays in data, where the emitter staged it back to back
// in entry order. Returns the block and the entries' addresses; nil when
// out of memory.
func newSlab(es []pending, data unsafe.Pointer) (unsafe.Pointer, []unsafe.Pointer) {
	const stride = C.sizeof_ell_entry + C.sizeof_ell_entry_ext
	// Each entry's four strings (address, error, path, column) as offsets
	// in the block, each distinct string stored once. Entries mostly repeat
	// the previous entry's strings (same node, no error), so each field's
	// last string is compared before the map is asked.
	soff := make([]int, 4*len(es))
	offs := make(map[string]int, 4)
	size := stride * len(es)
	var last [4]string
	var lastOff [4]int
	intern := func(f int, s string) int {
		if s == last[f] && lastOff[f] != 0 {
			return lastOff[f]
		}
		off, ok := offs[s]
		if !ok {
			off = size
			offs[s] = off
			size += len(s) + 1
		}
		last[f], lastOff[f] = s, off
		return off
	}
	for i := range es {
		e := &es[i].e
		for f, s := range [4]string{e.Address, errorText(e), e.Path, e.Column} {
			soff[4*i+f] = intern(f, s)
		}
	}
	block := C.calloc(1, C.size_t(size))
	if block == nil {
		return nil, nil
	}
	buf := unsafe.Slice((*byte)(block), size)
	for s, off := range offs {
		copy(buf[off:], s) // the NUL after it is from the clear
	}
	str := func(off int) *C.char { return (*C.char)(unsafe.Pointer(&buf[off])) }
	ps := make([]unsafe.Pointer, len(es))
	off := 0
	for i := range es {
		e := &es[i].e
		p := unsafe.Add(block, i*stride)
		ps[i] = p
		ce := (*C.ell_entry)(p)
		fillEntry(ce, e, es[i].keyIndex, es[i].backendID)
		so := soff[4*i : 4*i+4]
		ce.address, ce.error, ce.path, ce.column = str(so[0]), str(so[1]), str(so[2]), str(so[3])
		ext := (*C.ell_entry_ext)(unsafe.Add(p, C.sizeof_ell_entry))
		sec, nsec := splitTime(e.Expire)
		ext.expire_tsec, ext.expire_tnsec = C.uint64_t(sec), C.uint64_t(nsec)
		if n := es[i].size; n > 0 {
			ce.data = (*C.uint8_t)(unsafe.Add(data, off))
			ce.data_size = C.uint64_t(n)
			off += n
		}
	}
	return block, ps
}

// fillEntry sets the numbers of ce from e.
func fillEntry(ce *C.ell_entry, e *client.Entry, keyIndex uint64, backendID int32) {
	ce.status = codeOf(e.Status)
	if e.Status != status.OK && ce.status == C.ELL_OK {
		ce.status = C.ELL_EIO
	}
	ce.group_id = C.uint32_t(e.Group)
	ce.backend_id = C.int32_t(backendID)
	ce.record_flags = C.uint64_t(e.RecordFlags)
	putID(&ce.id[0], e.ID)
	putID(&ce.checksum[0], e.Checksum)
	ce.offset = C.uint64_t(e.Offset)
	ce.size = C.uint64_t(e.Size)
	ce.total_size = C.uint64_t(e.TotalSize)
	sec, nsec := splitTime(e.Timestamp)
	ce.tsec, ce.tnsec = C.uint64_t(sec), C.uint64_t(nsec)
	ce.user_flags = C.uint64_t(e.UserFlags)
	ce.key_index = C.uint64_t(keyIndex)
}

// run is the body of one asynchronous call, on its own session copy.
type run func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter) error

// start validates the session and the completion, registers a new
// operation and runs body on a goroutine. Arguments (keys, data) must be
// copied into Go memory before: the caller may reuse its buffers as soon as
// the call returns.
func start(h C.ell_session_t, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error, body run) C.int32_t {
	return startWith(h, done, out, err, nil, body)
}

// startWith is start with a setup of the new operation (flow control)
// before anyone else can see it; setup may be nil.
func startWith(h C.ell_session_t, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error, setup func(*op),
	body run) C.int32_t {
	ss, comp, rc, ok := prepare(h, done, err)
	if !ok {
		return rc
	}
	s, filter := ss.snapshot()
	o := newOp(freeEntry, futexParker{})
	if setup != nil {
		setup(o)
	}
	hnd := handles.add(o)
	*out = C.ell_async_t(hnd)
	ctx := ss.node.ctx
	runOp(func() {
		code, msg := complete(ctx, s, filter, o, body)
		completeOp(o, hnd, comp, code, msg, false)
	})
	return C.ELL_OK
}

// prepare checks the session handle and copies the completion.
func prepare(h C.ell_session_t, done *C.ell_ccompletion, err *C.ell_error) (*session, completion, C.int32_t, bool) {
	ss, ok := getSession(h)
	if !ok {
		return nil, completion{}, badHandle(err, "session", h), false
	}
	var comp completion
	if done != nil {
		comp = completion{callback: done.callback, userdata: done.userdata, queue: uint64(done.queue), tag: uint64(done.tag)}
		if comp.queue != 0 {
			if _, ok := getAs[*queue](handles, comp.queue); !ok {
				return nil, completion{}, invalid(err, "invalid queue handle %d in ell_completion", comp.queue), false
			}
		}
	}
	return ss, comp, C.ELL_OK, true
}

// completeOp completes an operation and then runs its completion: the C
// callback and the queue post. offload runs the callback on a worker
// goroutine instead of this one (which is then a connection's reader: a
// caller's callback may block, or wait for another operation whose reply
// that reader has to read).
func completeOp(o *op, hnd uint64, comp completion, code C.int32_t, msg string, offload bool) {
	if !o.finish(int32(code), msg) {
		return // the handle was freed: its completion is dropped
	}
	if comp.callback == nil && comp.queue == 0 {
		return
	}
	post := func() {
		if comp.callback != nil {
			C.ell_call_callback(comp.callback, C.ell_async_t(hnd), comp.userdata)
		}
		if comp.queue != 0 && !o.isReleased() {
			if q, ok := getAs[*queue](handles, comp.queue); ok {
				q.push(posted{tag: comp.tag, handle: hnd})
			}
		}
	}
	if offload && comp.callback != nil {
		runOp(post)
		return
	}
	post()
}

// asyncRun is the body of an operation that completes by itself: it
// starts the work on the calling thread (sending the requests from it) and
// calls fin exactly once, from whichever goroutine ends the work (usually
// a connection's reader). It must not block.
type asyncRun func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter, fin func(error))

// startAsync is start for an asyncRun: no goroutine runs the operation,
// so the C thread that waits for it is woken once, by the goroutine that
// read the reply, instead of once more by a goroutine running the call.
//
// An operation with a completion (a callback or a queue: a caller that
// goes on with other work, such as an event loop with many calls in
// flight) still runs on a worker goroutine, which then sends its request:
// that caller's thread is the bottleneck, and a send on it (a socket write,
// on loopback the receiver's network stack too) costs it more than the
// hand-off.
func startAsync(h C.ell_session_t, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error, body asyncRun) C.int32_t {
	ss, comp, rc, ok := prepare(h, done, err)
	if !ok {
		return rc
	}
	if comp.callback != nil || comp.queue != 0 {
		return startWith(h, done, out, err, nil, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter) error {
			ch := make(chan error, 1)
			body(ctx, s, filter, em, func(e error) {
				select {
				case ch <- e:
				default: // a second call (a panic after fin): the first counts
				}
			})
			return <-ch
		})
	}
	s, filter := ss.snapshot()
	o := newOp(freeEntry, futexParker{})
	hnd := handles.add(o)
	*out = C.ell_async_t(hnd)
	em := &emitter{o: o, s: s}
	var finished atomic.Bool
	fin := func(e error) {
		if !finished.CompareAndSwap(false, true) {
			return
		}
		code, msg := C.int32_t(C.ELL_OK), ""
		var ie internalError
		switch {
		case errors.As(e, &ie):
			code, msg = C.ELL_EIO, ie.Error()
		case e != nil:
			code, msg = errCode(e), e.Error()
		case em.nomem.Load():
			code, msg = C.ELL_ENOMEM, "out of memory: entries were dropped"
		}
		completeOp(o, hnd, comp, code, msg, true)
	}
	func() {
		defer rescue(fin)
		body(ss.node.ctx, s, filter, em, fin)
	}()
	return C.ELL_OK
}

// internalError is a panic caught in an operation.
type internalError struct{ v any }

func (e internalError) Error() string { return fmt.Sprintf("libelliptics internal error: %v", e.v) }

// rescue is deferred by the code of an asyncRun, on any goroutine: a panic
// completes the operation with ELL_EIO, since nothing above could recover
// it.
func rescue(fin func(error)) {
	if r := recover(); r != nil {
		fin(internalError{r})
	}
}

// Operations run on worker goroutines that wait for the next one, rather
// than on a new goroutine each: a new goroutine starts with a small stack
// and grows it (copying it) to the depth of the client's call path on every
// operation, which showed as 4% of the library's CPU time in sequential
// calls. An idle worker takes the next operation handed to it; with none
// idle, a new one starts, and workers idle for workerIdle exit, so a burst
// leaves no goroutines behind.
var work = make(chan func())

const workerIdle = 10 * time.Second

func runOp(f func()) {
	select {
	case work <- f:
	default:
		go worker(f)
	}
}

func worker(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-work:
		case <-idle.C:
			return
		}
	}
}

// complete runs body and returns the operation's status; a panic becomes
// ELL_EIO, since nothing above this goroutine could recover it.
func complete(ctx context.Context, s *client.Session, filter C.int32_t, o *op, body run) (code C.int32_t, msg string) {
	defer func() {
		if r := recover(); r != nil {
			code, msg = C.ELL_EIO, fmt.Sprintf("libelliptics internal error: %v", r)
		}
	}()
	em := &emitter{o: o, s: s}
	if err := body(ctx, s, filter, em); err != nil {
		return errCode(err), err.Error()
	}
	if em.nomem.Load() {
		return C.ELL_ENOMEM, "out of memory: entries were dropped"
	}
	return C.ELL_OK, ""
}

// prologue is the common start of the data calls: out is set to 0 so a
// failed call never leaves a stale handle there.
func prologue(out *C.ell_async_t, err *C.ell_error, what string) (C.int32_t, bool) {
	if out == nil {
		return invalid(err, "%s: out is NULL", what), false
	}
	*out = 0
	return C.ELL_OK, true
}

// checkKey rejects what every call would: an empty name.
func checkKey(k client.Key) error {
	if !k.Raw && k.Name == "" {
		return status.Errorf(status.Invalid, "empty key")
	}
	return nil
}

func oneKey(key *C.ell_ckey) (client.Key, error) {
	k, e := goKey(key)
	if e == nil {
		e = checkKey(k)
	}
	return k, e
}

// goData copies n bytes at p.
func goData(p unsafe.Pointer, n C.uint64_t) ([]byte, error) {
	if p == nil && n > 0 {
		return nil, status.Errorf(status.Invalid, "data is NULL with size %d", uint64(n))
	}
	if uint64(n) > math.MaxInt {
		return nil, status.Errorf(status.TooLarge, "data size %d", uint64(n))
	}
	b := make([]byte, int(n))
	copy(b, unsafe.Slice((*byte)(p), int(n)))
	return b, nil
}

//export ell_session_write_data
func ell_session_write_data(h C.ell_session_t, key *C.ell_ckey, data *C.ell_cvoid, size C.uint64_t, offset C.uint64_t,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_write_data"); !ok {
		return rc
	}
	return startWrite(h, key, data, size, client.WriteOptions{Offset: uint64(offset)}, done, out, err)
}

//export ell_session_read_data
func ell_session_read_data(h C.ell_session_t, key *C.ell_ckey, offset C.uint64_t, size C.uint64_t,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_read_data"); !ok {
		return rc
	}
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	return startAsync(h, done, out, err, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter, fin func(error)) {
		s.ReadAsync(ctx, k, uint64(offset), uint64(size), func(r client.Entry, tried []client.Entry, e error) {
			defer rescue(fin)
			em.emitTried(filter, r, tried, e, 0)
			fin(e)
		})
	})
}

//export ell_session_read_latest
func ell_session_read_latest(h C.ell_session_t, key *C.ell_ckey, offset C.uint64_t, size C.uint64_t,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_read_latest"); !ok {
		return rc
	}
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	return start(h, done, out, err, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter) error {
		r, tried, e := s.ReadLatest(ctx, k, uint64(offset), uint64(size))
		em.emitTried(filter, r, tried, e, 0)
		return e
	})
}

//export ell_session_lookup
func ell_session_lookup(h C.ell_session_t, key *C.ell_ckey, done *C.ell_ccompletion, out *C.ell_async_t,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_lookup"); !ok {
		return rc
	}
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	return startAsync(h, done, out, err, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter, fin func(error)) {
		s.LookupAsync(ctx, k, client.LookupOptions{}, func(r client.Entry, tried []client.Entry, e error) {
			defer rescue(fin)
			em.emitTried(filter, r, tried, e, 0)
			fin(e)
		})
	})
}

//export ell_session_remove
func ell_session_remove(h C.ell_session_t, key *C.ell_ckey, done *C.ell_ccompletion, out *C.ell_async_t,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_remove"); !ok {
		return rc
	}
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	return startAsync(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter, fin func(error)) {
		s.RemoveAsync(ctx, k, func(res client.Result, e error) {
			defer rescue(fin)
			for i := range res.Entries {
				em.emit(&res.Entries[i], 0)
			}
			fin(e)
		})
	})
}

// goKeys copies count C keys.
func goKeys(keys *C.ell_ckey, count C.size_t) ([]client.Key, error) {
	if keys == nil && count > 0 {
		return nil, status.Errorf(status.Invalid, "keys is NULL with count %d", uint64(count))
	}
	if uint64(count) > maxCount {
		return nil, status.Errorf(status.Invalid, "%d keys", uint64(count))
	}
	cks := unsafe.Slice(keys, int(count))
	out := make([]client.Key, len(cks))
	for i := range cks {
		k, e := oneKey(&cks[i])
		if e != nil {
			return nil, fmt.Errorf("key %d: %w", i, e)
		}
		out[i] = k
	}
	return out, nil
}

//export ell_session_bulk_read
func ell_session_bulk_read(h C.ell_session_t, keys *C.ell_ckey, count C.size_t, done *C.ell_ccompletion,
	out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_bulk_read"); !ok {
		return rc
	}
	ks, e := goKeys(keys, count)
	if e != nil {
		return fail(err, e)
	}
	return startBulkRead(h, ks, done, out, err)
}

//export ell_session_bulk_write
func ell_session_bulk_write(h C.ell_session_t, keys *C.ell_ckey, datas *C.ell_cvptr, sizes *C.ell_cu64, count C.size_t,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_bulk_write"); !ok {
		return rc
	}
	ks, e := goKeys(keys, count)
	if e != nil {
		return fail(err, e)
	}
	if count > 0 && (datas == nil || sizes == nil) {
		return invalid(err, "ell_session_bulk_write: datas or sizes is NULL")
	}
	ptrs := unsafe.Slice(datas, int(count))
	lens := unsafe.Slice(sizes, int(count))
	bufs := make([][]byte, len(ks))
	for i := range bufs {
		if bufs[i], e = goData(unsafe.Pointer(ptrs[i]), C.uint64_t(lens[i])); e != nil {
			return fail(err, fmt.Errorf("key %d: %w", i, e))
		}
	}
	return startBulkWrite(h, ks, bufs, done, out, err)
}

// startBulkRead starts a bulk read of ks.
func startBulkRead(h C.ell_session_t, ks []client.Key, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) C.int32_t {
	return startAsync(h, done, out, err, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter, fin func(error)) {
		em.batchOf(len(ks)) // one entry per key with the default filter
		found := 0
		var firstErr error
		s.BulkReadAsync(ctx, ks, func(i int, e client.Entry, err error) {
			defer rescue(fin)
			if err == nil {
				found++
				if filter != C.ELL_FILTER_NEGATIVE {
					em.emit(&e, uint64(i))
				}
				return
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("key %d: %w", i, err)
			}
			if filter != C.ELL_FILTER_POSITIVE {
				em.emit(&e, uint64(i))
			}
		}, func(e error) {
			defer rescue(fin)
			em.flush()
			if found == 0 && firstErr != nil {
				e = fmt.Errorf("bulk read: no key found; %w", firstErr)
			}
			fin(e)
			em.recycle()
		})
	})
}

// startBulkWrite starts a bulk write of bufs[i] under ks[i].
func startBulkWrite(h C.ell_session_t, ks []client.Key, bufs [][]byte, done *C.ell_ccompletion, out *C.ell_async_t,
	err *C.ell_error) C.int32_t {
	return startAsync(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter, fin func(error)) {
		em.batchOf(len(ks)) // one entry per key and group: grows for several groups
		s.BulkWriteAsync(ctx, ks, bufs, func(i int, res client.Result, _ error) {
			defer rescue(fin)
			for j := range res.Entries {
				em.emit(&res.Entries[j], uint64(i))
			}
		}, func(e error) {
			defer rescue(fin)
			em.flush()
			fin(e)
			em.recycle()
		})
	})
}

// unpack splits count byte strings packed back to back at p (lens[i] bytes
// each) into Go slices of one copy; what names them in errors.
func unpack(p unsafe.Pointer, lens *C.ell_cu64, count C.size_t, what string) ([][]byte, error) {
	if uint64(count) > maxCount {
		return nil, status.Errorf(status.Invalid, "%d %s", uint64(count), what)
	}
	if count > 0 && lens == nil {
		return nil, status.Errorf(status.Invalid, "%s lengths are NULL with count %d", what, uint64(count))
	}
	ls := unsafe.Slice(lens, int(count))
	var total uint64
	for _, n := range ls {
		if uint64(n) > maxBytes || total+uint64(n) > maxBytes { // both <= MaxInt: no overflow
			return nil, status.Errorf(status.TooLarge, "%s of more than %d bytes", what, uint64(maxBytes))
		}
		total += uint64(n)
	}
	all, e := goData(p, C.uint64_t(total))
	if e != nil {
		return nil, fmt.Errorf("%s: %w", what, e)
	}
	out := make([][]byte, len(ls))
	off := uint64(0)
	for i, n := range ls {
		out[i] = all[off : off+uint64(n) : off+uint64(n)]
		off += uint64(n)
	}
	return out, nil
}

// goNames is goKeys for names packed back to back (keys by name).
func goNames(names *C.ell_cchar, lens *C.ell_cu64, count C.size_t) ([]client.Key, error) {
	bs, e := unpack(unsafe.Pointer(names), lens, count, "names")
	if e != nil {
		return nil, e
	}
	ks := make([]client.Key, len(bs))
	for i, b := range bs {
		if len(b) == 0 {
			return nil, fmt.Errorf("key %d: %w", i, status.Errorf(status.Invalid, "empty key"))
		}
		// The names share one fresh copy (unpack) that nothing writes to:
		// strings over it, not a copy (an allocation) per name.
		ks[i] = client.Key{Name: unsafe.String(&b[0], len(b))}
	}
	return ks, nil
}

//export ell_session_bulk_read_names
func ell_session_bulk_read_names(h C.ell_session_t, names *C.ell_cchar, nameLens *C.ell_cu64, count C.size_t,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_bulk_read_names"); !ok {
		return rc
	}
	ks, e := goNames(names, nameLens, count)
	if e != nil {
		return fail(err, e)
	}
	return startBulkRead(h, ks, done, out, err)
}

//export ell_session_bulk_write_names
func ell_session_bulk_write_names(h C.ell_session_t, names *C.ell_cchar, nameLens *C.ell_cu64, data *C.ell_cvoid,
	sizes *C.ell_cu64, count C.size_t, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_bulk_write_names"); !ok {
		return rc
	}
	ks, e := goNames(names, nameLens, count)
	if e != nil {
		return fail(err, e)
	}
	bufs, e := unpack(unsafe.Pointer(data), sizes, count, "values")
	if e != nil {
		return fail(err, e)
	}
	return startBulkWrite(h, ks, bufs, done, out, err)
}
