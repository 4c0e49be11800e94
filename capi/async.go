package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

func getOp(h C.ell_async_t) (*op, bool) { return getAs[*op](handles, uint64(h)) }

// released is the error of a wait whose handle another thread freed.
func released(err *C.ell_error, h C.ell_async_t) C.int32_t {
	return invalid(err, "async handle %d was freed while waiting", uint64(h))
}

//export ell_async_wait
func ell_async_wait(h C.ell_async_t, timeoutMS C.int64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	o, ok := getOp(h)
	if !ok {
		return badHandle(err, "async", h)
	}
	if timeoutMS != 0 {
		o.unthrottle()
	}
	return waitFor(o, h, timeoutMS, err)
}

func waitFor(o *op, h C.ell_async_t, timeoutMS C.int64_t, err *C.ell_error) C.int32_t {
	switch o.wait(int64(timeoutMS)) {
	case waitOK:
		return C.ELL_OK
	case waitReleased:
		return released(err, h)
	}
	return setError(err, C.ELL_ETIMEDOUT, "the operation is still running")
}

//export ell_async_collect
func ell_async_collect(h C.ell_async_t, timeoutMS C.int64_t, out *C.ell_async_result, entries **C.ell_centry,
	capacity C.size_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_async_collect: out is NULL")
	}
	if entries == nil && capacity > 0 {
		return invalid(err, "ell_async_collect: entries is NULL with cap %d", uint64(capacity))
	}
	o, ok := getOp(h)
	if !ok {
		return badHandle(err, "async", h)
	}
	if timeoutMS != 0 {
		o.unthrottle()
	}
	if rc := waitFor(o, h, timeoutMS, err); rc != C.ELL_OK {
		return rc
	}
	var dst []*C.ell_centry
	if capacity > 0 {
		dst = unsafe.Slice(entries, clamp(capacity, maxCount))
	}
	code, msg, n, elapsed := o.collect(func(ps []unsafe.Pointer) {
		for i := range min(len(ps), len(dst)) {
			dst[i] = (*C.ell_centry)(ps[i])
		}
	})
	out.status = C.int32_t(code)
	out.reserved = 0
	out.count = C.size_t(n)
	out.elapsed_us = C.int64_t(elapsed / time.Microsecond)
	if code != C.ELL_OK {
		setError(err, C.int32_t(code), msg)
	}
	return C.ELL_OK
}

//export ell_async_ready
func ell_async_ready(h C.ell_async_t) C.int32_t {
	defer swallow()
	if o, ok := getOp(h); ok {
		if done, _, _ := o.status(); done {
			return 1
		}
	}
	return 0
}

//export ell_async_next
func ell_async_next(h C.ell_async_t, index C.size_t, timeoutMS C.int64_t, out **C.ell_centry, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_async_next: out is NULL")
	}
	*out = nil
	o, ok := getOp(h)
	if !ok {
		return badHandle(err, "async", h)
	}
	p, res := o.next(int(index), int64(timeoutMS))
	switch res {
	case waitOK:
		*out = (*C.ell_centry)(p)
		return C.ELL_OK
	case waitEnd:
		return setError(err, C.ELL_ENOENT, "no more entries")
	case waitReleased:
		return released(err, h)
	}
	return setError(err, C.ELL_ETIMEDOUT, "no entry arrived in time")
}

//export ell_async_count
func ell_async_count(h C.ell_async_t) C.size_t {
	defer swallow()
	if o, ok := getOp(h); ok {
		return C.size_t(o.count())
	}
	return 0
}

//export ell_async_entry
func ell_async_entry(h C.ell_async_t, i C.size_t) *C.ell_centry {
	defer swallow()
	if o, ok := getOp(h); ok && uint64(i) < uint64(o.count()) {
		return (*C.ell_centry)(o.entry(int(i)))
	}
	return nil
}

//export ell_async_status
func ell_async_status(h C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	o, ok := getOp(h)
	if !ok {
		return badHandle(err, "async", h)
	}
	done, code, msg := o.status()
	if !done {
		return setError(err, C.ELL_EAGAIN, "the operation is still running")
	}
	if code != C.ELL_OK {
		return setError(err, C.int32_t(code), msg)
	}
	return C.ELL_OK
}

// ell_async_elapsed_us returns -1 for a bad handle.
//
//export ell_async_elapsed_us
func ell_async_elapsed_us(h C.ell_async_t) C.int64_t {
	defer swallow()
	if o, ok := getOp(h); ok {
		return C.int64_t(o.elapsed() / time.Microsecond)
	}
	return -1
}

//export ell_async_free
func ell_async_free(h C.ell_async_t) {
	defer swallow()
	if o, ok := removeAs[*op](handles, uint64(h)); ok {
		o.release()
	}
}

//export ell_queue_new
func ell_queue_new(out *C.ell_queue_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_queue_new: out is NULL")
	}
	*out = 0
	q, e := newQueue()
	if e != nil {
		return setError(err, C.ELL_EIO, "ell_queue_new: eventfd: "+e.Error())
	}
	*out = C.ell_queue_t(handles.add(q))
	return C.ELL_OK
}

// ell_queue_fd returns -1 for a bad handle.
//
//export ell_queue_fd
func ell_queue_fd(h C.ell_queue_t) C.int {
	defer swallow()
	if q, ok := getAs[*queue](handles, uint64(h)); ok {
		return C.int(q.fd)
	}
	return -1
}

//export ell_queue_pop
func ell_queue_pop(h C.ell_queue_t, timeoutMS C.int64_t, tag *C.uint64_t, a *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	q, ok := getAs[*queue](handles, uint64(h))
	if !ok {
		return badHandle(err, "queue", C.uint64_t(h))
	}
	p, res := q.pop(int64(timeoutMS))
	switch res {
	case waitOK:
		if tag != nil {
			*tag = C.uint64_t(p.tag)
		}
		if a != nil {
			*a = C.ell_async_t(p.handle)
		}
		return C.ELL_OK
	case waitReleased:
		return invalid(err, "queue %d was freed while waiting", uint64(h))
	}
	return setError(err, C.ELL_ETIMEDOUT, "no completion in time")
}

//export ell_queue_free
func ell_queue_free(h C.ell_queue_t) {
	defer swallow()
	if q, ok := removeAs[*queue](handles, uint64(h)); ok {
		q.close()
	}
}
