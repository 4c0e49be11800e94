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
	"time"
	"unsafe"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// The data operations of issue 6: writes with options, compare-and-swap
// with a converter, ID ranges, server-side iterators and server-send.

const writeFlags = C.ELL_WRITE_APPEND | C.ELL_WRITE_PREPARE | C.ELL_WRITE_PLAIN | C.ELL_WRITE_COMMIT |
	C.ELL_WRITE_CAS_TIMESTAMP

// goWriteOptions converts ell_write_options (NULL: all zero).
func goWriteOptions(o *C.ell_cwrite_options) (client.WriteOptions, error) {
	var wo client.WriteOptions
	if o == nil {
		return wo, nil
	}
	if o.flags&^writeFlags != 0 {
		return wo, status.Errorf(status.Invalid, "ell_write_options: unknown flags %#x", uint32(o.flags&^writeFlags))
	}
	if o.ttl_ms < 0 {
		return wo, status.Errorf(status.Invalid, "ell_write_options: negative ttl_ms %d", int64(o.ttl_ms))
	}
	if int64(o.ttl_ms) > math.MaxInt64/int64(time.Millisecond) {
		return wo, status.Errorf(status.Invalid, "ell_write_options: ttl_ms %d out of range", int64(o.ttl_ms))
	}
	wo.Offset = uint64(o.offset)
	wo.Append = o.flags&C.ELL_WRITE_APPEND != 0
	wo.Prepare = o.flags&C.ELL_WRITE_PREPARE != 0
	wo.Plain = o.flags&C.ELL_WRITE_PLAIN != 0
	wo.Commit = o.flags&C.ELL_WRITE_COMMIT != 0
	wo.CASTimestamp = o.flags&C.ELL_WRITE_CAS_TIMESTAMP != 0
	wo.TotalSize = uint64(o.total_size)
	wo.TTL = ms(o.ttl_ms)
	if o.has_cas != 0 {
		var sum id.ID
		copy(sum[:], unsafe.Slice((*byte)(unsafe.Pointer(&o.cas[0])), id.Size))
		wo.CAS = &sum
	}
	return wo, nil
}

// emitResult emits every entry of a multi-group result.
func (em *emitter) emitResult(res client.Result) {
	for i := range res.Entries {
		em.emit(&res.Entries[i], 0)
	}
}

//export ell_session_write
func ell_session_write(h C.ell_session_t, key *C.ell_ckey, data *C.ell_cvoid, size C.uint64_t, opts *C.ell_cwrite_options,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_write"); !ok {
		return rc
	}
	wo, e := goWriteOptions(opts)
	if e != nil {
		return fail(err, e)
	}
	return startWrite(h, key, data, size, wo, done, out, err)
}

// startWrite is the body of ell_session_write_data and ell_session_write:
// copy the key and data, then write through the callback path (the caller's
// thread sends when connections exist).
func startWrite(h C.ell_session_t, key *C.ell_ckey, data *C.ell_cvoid, size C.uint64_t, wo client.WriteOptions,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) C.int32_t {
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	b, e := goData(unsafe.Pointer(data), size)
	if e != nil {
		return fail(err, e)
	}
	return startAsync(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter, fin func(error)) {
		s.WriteAsync(ctx, k, b, wo, func(res client.Result, e error) {
			defer rescue(fin)
			em.emitResult(res)
			fin(e)
		})
	})
}

// converterFunc calls a C converter: the current value (nil when absent)
// and whether it exists, to the value to write (copied into Go memory).
func converterFunc(conv C.ell_cas_converter, userdata unsafe.Pointer) func(cur []byte, exists bool) ([]byte, error) {
	return func(cur []byte, exists bool) ([]byte, error) {
		res := (*C.ell_conv_out)(C.calloc(1, C.sizeof_ell_conv_out))
		if res == nil {
			return nil, status.Errorf(status.IOError, "write cas: out of memory")
		}
		defer C.free(unsafe.Pointer(res))
		var p unsafe.Pointer // Go memory, read by C during the call only
		if len(cur) > 0 {
			p = unsafe.Pointer(&cur[0])
		}
		ex := C.int32_t(0)
		if exists {
			ex = 1
		}
		if rc := C.ell_call_converter(conv, userdata, p, C.uint64_t(len(cur)), ex, res); rc != C.ELL_OK {
			c := status.Code(rc)
			if rc > 0 {
				c = status.Invalid
			}
			return nil, status.Errorf(c, "the converter failed with %d", int32(rc))
		}
		if res.data == nil && res.size > 0 {
			return nil, status.Errorf(status.Invalid, "the converter returned NULL with size %d", uint64(res.size))
		}
		return goData(res.data, res.size)
	}
}

//export ell_session_write_cas
func ell_session_write_cas(h C.ell_session_t, key *C.ell_ckey, conv C.ell_cas_converter, userdata unsafe.Pointer,
	offset C.uint64_t, count C.int32_t, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_write_cas"); !ok {
		return rc
	}
	if conv == nil {
		return invalid(err, "ell_session_write_cas: converter is NULL")
	}
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	fn := converterFunc(conv, userdata)
	attempts := int(count)
	if attempts <= 0 {
		attempts = client.DefaultCASAttempts
	}
	return start(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter) error {
		res, e := writeCAS(ctx, s, k, uint64(offset), attempts, fn)
		em.emitResult(res)
		return e
	})
}

// writeCAS is client.Session.WriteCAS with the original's remote offset
// (the new value is written at offset, conditional on the checksum of the
// whole current value) and a converter that tells an absent key from an
// empty value.
func writeCAS(ctx context.Context, s *client.Session, k client.Key, offset uint64, count int,
	fn func(cur []byte, exists bool) ([]byte, error)) (client.Result, error) {
	var last error
	var res client.Result
	for range count {
		var sum id.ID // zero: "absent"
		e, _, err := s.ReadLatest(ctx, k, 0, 0)
		exists := err == nil
		switch {
		case exists:
			sum = id.Transform(e.Data)
		case errors.Is(err, status.ErrNotFound):
		default:
			return client.Result{}, fmt.Errorf("write cas %s: read the current value: %w", k, err)
		}
		next, err := fn(e.Data, exists)
		if err != nil {
			return client.Result{}, fmt.Errorf("write cas %s: %w", k, err)
		}
		res, err = s.WriteWith(ctx, k, next, client.WriteOptions{Offset: offset, CAS: &sum})
		if err == nil || !errors.Is(err, status.ErrMismatch) {
			return res, err
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return res, fmt.Errorf("write cas %s: gave up after %d attempts: %w", k, count, last)
}

// goRange converts an ell_range.
func goRange(r *C.ell_crange) (client.Range, error) {
	if r == nil {
		return client.Range{}, status.Errorf(status.Invalid, "range is NULL")
	}
	var gr client.Range
	copy(gr.Start[:], unsafe.Slice((*byte)(unsafe.Pointer(&r.start[0])), id.Size))
	copy(gr.End[:], unsafe.Slice((*byte)(unsafe.Pointer(&r.end[0])), id.Size))
	gr.Group = uint32(r.group_id)
	gr.LimitStart, gr.LimitNum = uint64(r.limit_start), uint64(r.limit_num)
	gr.Offset, gr.Size = uint64(r.offset), uint64(r.size)
	return gr, nil
}

// rangeGroup is the group a range call acts on, for its count entry.
func rangeGroup(s *client.Session, r client.Range) uint32 {
	if r.Group != 0 {
		return r.Group
	}
	if gs := s.Groups(); len(gs) > 0 {
		return gs[0]
	}
	return 0
}

// startRange is the common part of the three range calls.
func startRange(h C.ell_session_t, r *C.ell_crange, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error,
	what string, body func(ctx context.Context, s *client.Session, r client.Range, em *emitter) error) C.int32_t {
	if rc, ok := prologue(out, err, what); !ok {
		return rc
	}
	gr, e := goRange(r)
	if e != nil {
		return fail(err, fmt.Errorf("%s: %w", what, e))
	}
	return start(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter) error {
		return body(ctx, s, gr, em)
	})
}

// emitCount emits the one entry of count_range and remove_range.
func emitCount(em *emitter, s *client.Session, r client.Range, n uint64) {
	e := client.Entry{Group: rangeGroup(s, r), ID: r.Start}
	em.emitExt(&e, 0, &extra{count: n})
}

//export ell_session_read_range
func ell_session_read_range(h C.ell_session_t, r *C.ell_crange, done *C.ell_ccompletion, out *C.ell_async_t,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return startRange(h, r, done, out, err, "ell_session_read_range",
		func(ctx context.Context, s *client.Session, r client.Range, em *emitter) error {
			es, e := s.ReadRange(ctx, r)
			for i := range es {
				em.emit(&es[i], 0)
			}
			return e
		})
}

//export ell_session_count_range
func ell_session_count_range(h C.ell_session_t, r *C.ell_crange, done *C.ell_ccompletion, out *C.ell_async_t,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return startRange(h, r, done, out, err, "ell_session_count_range",
		func(ctx context.Context, s *client.Session, r client.Range, em *emitter) error {
			n, e := s.CountRange(ctx, r)
			if e == nil {
				emitCount(em, s, r, n)
			}
			return e
		})
}

//export ell_session_remove_range
func ell_session_remove_range(h C.ell_session_t, r *C.ell_crange, done *C.ell_ccompletion, out *C.ell_async_t,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return startRange(h, r, done, out, err, "ell_session_remove_range",
		func(ctx context.Context, s *client.Session, r client.Range, em *emitter) error {
			n, e := s.RemoveRange(ctx, r)
			emitCount(em, s, r, n)
			return e
		})
}

const iteratorFlags = C.ELL_ITERATOR_DATA | C.ELL_ITERATOR_KEY_RANGE | C.ELL_ITERATOR_TS_RANGE |
	C.ELL_ITERATOR_NO_META | C.ELL_ITERATOR_MOVE | C.ELL_ITERATOR_OVERWRITE

// defaultWindow is how many entries an iterator reads ahead of its reader.
const defaultWindow = 64

// goTime is the time of (tsec, tnsec); zero for 0, 0.
func goTime(tsec, tnsec C.uint64_t, what string) (time.Time, error) {
	if tsec == 0 && tnsec == 0 {
		return time.Time{}, nil
	}
	if tsec > math.MaxInt64 || tnsec >= 1e9 {
		return time.Time{}, status.Errorf(status.Invalid, "%s %d.%09d is not a time", what, uint64(tsec), uint64(tnsec))
	}
	return time.Unix(int64(tsec), int64(tnsec)).UTC(), nil
}

// goIteratorOptions converts ell_iterator_options; window is the flow
// control window.
func goIteratorOptions(o *C.ell_citerator_options) (opts client.IteratorOptions, window int, err error) {
	if o == nil {
		return opts, 0, status.Errorf(status.Invalid, "options are NULL")
	}
	if o.flags&^iteratorFlags != 0 {
		return opts, 0, status.Errorf(status.Invalid, "unknown iterator flags %#x", uint64(o.flags&^iteratorFlags))
	}
	if o.address != nil {
		opts.Address = C.GoString(o.address)
	}
	opts.Backend = int32(o.backend_id)
	opts.Group = uint32(o.group_id)
	copy(opts.Point[:], unsafe.Slice((*byte)(unsafe.Pointer(&o.id[0])), id.Size))
	if o.range_count > 0 {
		if o.ranges == nil || uint64(o.range_count) > proto.MaxIteratorRanges {
			return opts, 0, status.Errorf(status.Invalid, "%d ranges (NULL or over %d)", uint64(o.range_count),
				proto.MaxIteratorRanges)
		}
		for _, r := range unsafe.Slice(o.ranges, int(o.range_count)) {
			var ir proto.IteratorRange
			copy(ir.Start[:], unsafe.Slice((*byte)(unsafe.Pointer(&r.start[0])), id.Size))
			copy(ir.End[:], unsafe.Slice((*byte)(unsafe.Pointer(&r.end[0])), id.Size))
			opts.Ranges = append(opts.Ranges, ir)
		}
	}
	if opts.TimeBegin, err = goTime(o.time_begin_tsec, o.time_begin_tnsec, "time_begin"); err != nil {
		return opts, 0, err
	}
	if opts.TimeEnd, err = goTime(o.time_end_tsec, o.time_end_tnsec, "time_end"); err != nil {
		return opts, 0, err
	}
	opts.Data = o.flags&C.ELL_ITERATOR_DATA != 0
	opts.NoMeta = o.flags&C.ELL_ITERATOR_NO_META != 0
	opts.Move = o.flags&C.ELL_ITERATOR_MOVE != 0
	opts.Overwrite = o.flags&C.ELL_ITERATOR_OVERWRITE != 0
	if o.copy_group_count > 0 {
		if o.copy_groups == nil || uint64(o.copy_group_count) > maxCount {
			return opts, 0, status.Errorf(status.Invalid, "copy_groups is NULL with count %d", uint64(o.copy_group_count))
		}
		for _, g := range unsafe.Slice((*C.uint32_t)(unsafe.Pointer(o.copy_groups)), int(o.copy_group_count)) {
			opts.CopyTo = append(opts.CopyTo, uint32(g))
		}
	}
	window = defaultWindow
	if o.window > 0 {
		window = clamp(o.window, 1<<20)
	}
	// The library's own window buffers the entries: the Go channel needs
	// no more, so a reader that stops stops the node soon.
	opts.Buffer = 1
	return opts, window, nil
}

// iteratorEntry converts an iterator entry for newEntry.
func iteratorEntry(e *client.IteratorEntry) (client.Entry, extra) {
	return client.Entry{Address: e.Address, Group: e.Group, Status: e.Status, Err: e.Err, ID: e.ID, Column: e.Column,
			Size: e.TotalSize, TotalSize: e.TotalSize, Timestamp: e.Timestamp, UserFlags: e.UserFlags,
			RecordFlags: e.RecordFlags, Expire: e.Expire, Data: e.Data},
		extra{iterID: e.IterID, iterated: e.Iterated, total: e.Total}
}

//export ell_session_start_iterator
func ell_session_start_iterator(h C.ell_session_t, opts *C.ell_citerator_options, done *C.ell_ccompletion,
	out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_start_iterator"); !ok {
		return rc
	}
	o, window, e := goIteratorOptions(opts)
	if e != nil {
		return fail(err, fmt.Errorf("ell_session_start_iterator: %w", e))
	}
	setup := func(o *op) { o.setWindow(window) }
	return startWith(h, done, out, err, setup, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter) error {
		it, e := s.StartIterator(ctx, o)
		if e != nil {
			return e
		}
		defer it.Close() // after the end a no-op; else the node cancels the iterator
		for i := 0; ; i++ {
			if !em.o.admit(i) {
				return status.Errorf(status.Canceled, "iterator %d on %s: the handle was freed", it.ID(), it.Address())
			}
			ie, ok := <-it.Entries()
			if !ok {
				break
			}
			ge, x := iteratorEntry(&ie)
			x.iterState = uint32(it.State())
			em.emitExt(&ge, 0, &x)
		}
		return it.Err()
	})
}

//export ell_session_iterator_control
func ell_session_iterator_control(h C.ell_session_t, address *C.ell_cchar, iterID C.uint64_t, action C.int32_t,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_iterator_control"); !ok {
		return rc
	}
	if address == nil || *address == 0 {
		return invalid(err, "ell_session_iterator_control: address is NULL or empty")
	}
	var act proto.IteratorAction
	switch action {
	case C.ELL_ITERATOR_PAUSE:
		act = proto.IterPause
	case C.ELL_ITERATOR_CONTINUE:
		act = proto.IterContinue
	case C.ELL_ITERATOR_CANCEL:
		act = proto.IterCancel
	default:
		return invalid(err, "ell_session_iterator_control: %d is not an ELL_ITERATOR_* action", int32(action))
	}
	addr := C.GoString(address)
	return start(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter) error {
		ie, e := s.IteratorControl(ctx, addr, uint64(iterID), act)
		if e != nil {
			return e
		}
		ge, x := iteratorEntry(&ie)
		ge.Address = addr
		em.emitExt(&ge, 0, &x)
		return nil
	})
}

//export ell_session_server_send
func ell_session_server_send(h C.ell_session_t, keys *C.ell_ckey, count C.size_t, groups *C.ell_cu32, groupCount C.size_t,
	flags C.uint64_t, done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if rc, ok := prologue(out, err, "ell_session_server_send"); !ok {
		return rc
	}
	ks, e := goKeys(keys, count)
	if e != nil {
		return fail(err, fmt.Errorf("ell_session_server_send: %w", e))
	}
	if groupCount == 0 || groups == nil || uint64(groupCount) > maxCount {
		return invalid(err, "ell_session_server_send: no groups")
	}
	if flags&^(C.ELL_ITERATOR_MOVE|C.ELL_ITERATOR_OVERWRITE) != 0 {
		return invalid(err, "ell_session_server_send: flags %#x (only ELL_ITERATOR_MOVE, ELL_ITERATOR_OVERWRITE)", uint64(flags))
	}
	var gs []uint32
	for _, g := range unsafe.Slice((*C.uint32_t)(unsafe.Pointer(groups)), int(groupCount)) {
		gs = append(gs, uint32(g))
	}
	var f proto.IteratorFlags
	if flags&C.ELL_ITERATOR_MOVE != 0 {
		f |= proto.IterMove
	}
	if flags&C.ELL_ITERATOR_OVERWRITE != 0 {
		f |= proto.IterOverwrite
	}
	return start(h, done, out, err, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter) error {
		index := make(map[client.Key]int, len(ks))
		for i := len(ks) - 1; i >= 0; i-- {
			index[ks[i]] = i
		}
		res, e := s.ServerSend(ctx, ks, gs, f)
		for _, r := range res {
			ok := r.Status == status.OK && r.Err == nil
			if ok && filter == C.ELL_FILTER_NEGATIVE || !ok && filter == C.ELL_FILTER_POSITIVE {
				continue
			}
			ge := client.Entry{Address: r.Address, Group: r.Group, Status: r.Status, Err: r.Err, ID: r.ID,
				Column: r.Key.Column}
			if ge.Status == status.OK && r.Err != nil {
				ge.Status = status.FromError(r.Err)
			}
			em.emit(&ge, uint64(index[r.Key]))
		}
		return e
	})
}

//export ell_entry_ext_of
func ell_entry_ext_of(e *C.ell_centry) *C.ell_centry_ext {
	if e == nil {
		return nil
	}
	return (*C.ell_centry_ext)(unsafe.Add(unsafe.Pointer(e), C.sizeof_ell_entry))
}
