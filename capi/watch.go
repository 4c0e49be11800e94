package main

/*
#include <string.h>
#include "capi_types.h"
*/
import "C"

import (
	"context"
	"errors"
	"time"
	"unsafe"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// Watches (NOTIFY) are handles whose events C pulls one at a time with a
// timeout: a blocking call is the easiest thing to wrap in any language
// (Python runs it with the GIL released, asyncio on a worker thread).

func getWatch(h C.ell_watch_t) (*client.Watcher, bool) {
	return getAs[*client.Watcher](handles, uint64(h))
}

//export ell_session_watch
func ell_session_watch(h C.ell_session_t, key *C.ell_ckey, queue C.uint32_t, out *C.ell_watch_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_session_watch: out is NULL")
	}
	*out = 0
	k, e := goKey(key)
	if e != nil {
		return fail(err, e)
	}
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	s, _ := ss.snapshot()
	// The watch outlives this call: its context ends at ell_watch_close.
	w, e := s.Watch(context.Background(), k, client.WatchOptions{Queue: int(queue)})
	if e != nil {
		return fail(err, e)
	}
	*out = C.ell_watch_t(handles.add(w))
	return C.ELL_OK
}

//export ell_watch_next
func ell_watch_next(h C.ell_watch_t, timeoutMS C.int64_t, ev *C.ell_watch_event, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if ev == nil {
		return invalid(err, "ell_watch_next: ev is NULL")
	}
	w, ok := getWatch(h)
	if !ok {
		return setError(err, C.ELL_ECANCELED, "ell_watch_next: the watch is closed")
	}
	ctx := context.Background()
	if timeoutMS >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutMS)*time.Millisecond)
		defer cancel()
	}
	e, gerr := w.Next(ctx)
	switch {
	case gerr == nil:
	case errors.Is(gerr, context.DeadlineExceeded):
		return setError(err, C.ELL_ETIMEDOUT, "ell_watch_next: no event within the timeout")
	case errors.Is(gerr, status.ErrCanceled):
		return setError(err, C.ELL_ECANCELED, "ell_watch_next: the watch is closed")
	default:
		return fail(err, gerr)
	}
	C.memset(unsafe.Pointer(ev), 0, C.sizeof_ell_watch_event)
	ev.kind = watchKind(e.Kind)
	ev.group_id = C.uint32_t(e.Group)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&ev.id[0])), C.ELL_ID_SIZE), e.ID[:])
	ev.size = C.uint64_t(e.Size)
	if !e.Timestamp.IsZero() {
		ev.tsec, ev.tnsec = C.uint64_t(e.Timestamp.Unix()), C.uint64_t(e.Timestamp.Nanosecond())
	}
	ev.user_flags = C.uint64_t(e.UserFlags)
	ev.record_flags = C.uint64_t(e.RecordFlags)
	ev.missed = C.uint64_t(e.Missed)
	if e.Err != nil {
		ev.error = errCode(e.Err)
	}
	cstr(unsafe.Slice((*byte)(unsafe.Pointer(&ev.address[0])), C.ELL_ADDRESS_MAX), e.Address)
	cstr(unsafe.Slice((*byte)(unsafe.Pointer(&ev.column[0])), C.ELL_COLUMN_MAX), e.Column)
	return C.ELL_OK
}

// watchKind maps the Go kinds to the ABI's, explicitly: the ABI's numbers
// must not move with the Go enum.
func watchKind(k client.WatchKind) C.int32_t {
	switch k {
	case client.WatchWrite:
		return C.ELL_WATCH_WRITE
	case client.WatchRemove:
		return C.ELL_WATCH_REMOVE
	case client.WatchMissed:
		return C.ELL_WATCH_MISSED
	case client.WatchStarted:
		return C.ELL_WATCH_STARTED
	case client.WatchLost:
		return C.ELL_WATCH_LOST
	}
	return 0
}

// cstr copies s NUL-terminated into buf, cut to fit.
func cstr(buf []byte, s string) {
	buf[copy(buf[:len(buf)-1], s)] = 0
}

//export ell_watch_close
func ell_watch_close(h C.ell_watch_t) {
	defer swallow()
	if w, ok := removeAs[*client.Watcher](handles, uint64(h)); ok {
		w.Close()
	}
}
