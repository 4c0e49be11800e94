package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"crypto/sha512"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// session is the object behind an ell_session_t. client.Session setters are
// not safe for concurrent use, and C threads may set and call at once, so
// every access takes mu and every data call runs on a Clone taken at call
// time (later setter calls do not change an operation in flight).
//
// The C-facing values that client.Session has no getter for (filter, trace
// id) or spells differently (checker numbers) are kept here too.
type session struct {
	node *node

	mu      sync.Mutex
	s       *client.Session
	checker C.int32_t
	filter  C.int32_t
	traceID uint64
}

func getSession(h C.ell_session_t) (*session, bool) { return getAs[*session](handles, uint64(h)) }

// snapshot returns a private copy of the settings for one call.
func (ss *session) snapshot() (*client.Session, C.int32_t) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.s.Clone(), ss.filter
}

// The checker and filter numbers of the ABI differ from the Go enums (the
// ABI keeps the original's numbering, with the positive filter as default),
// so they are mapped explicitly.
func goChecker(c C.int32_t) (client.Checker, bool) {
	switch c {
	case C.ELL_CHECKER_NO_CHECK:
		return client.CheckNone, true
	case C.ELL_CHECKER_AT_LEAST_ONE:
		return client.CheckAtLeastOne, true
	case C.ELL_CHECKER_ALL:
		return client.CheckAll, true
	case C.ELL_CHECKER_QUORUM:
		return client.CheckQuorum, true
	}
	return 0, false
}

func goFilter(f C.int32_t) (client.Filter, bool) {
	switch f {
	case C.ELL_FILTER_POSITIVE:
		return client.FilterPositive, true
	case C.ELL_FILTER_NEGATIVE:
		return client.FilterNegative, true
	case C.ELL_FILTER_ALL:
		return client.FilterAll, true
	}
	return 0, false
}

//export ell_session_new
func ell_session_new(h C.ell_node_t, out *C.ell_session_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_session_new: out is NULL")
	}
	*out = 0
	nd, ok := getNode(h)
	if !ok {
		return badHandle(err, "node", h)
	}
	s := client.NewSession(nd.n)
	s.SetTimeout(nd.waitTimeout())
	s.SetFilter(client.FilterPositive)
	s.SetChecker(client.CheckAtLeastOne)
	ss := &session{node: nd, s: s, checker: C.ELL_CHECKER_AT_LEAST_ONE, filter: C.ELL_FILTER_POSITIVE}
	*out = C.ell_session_t(handles.add(ss))
	return C.ELL_OK
}

//export ell_session_clone
func ell_session_clone(h C.ell_session_t, out *C.ell_session_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_session_clone: out is NULL")
	}
	*out = 0
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	ss.mu.Lock()
	c := &session{node: ss.node, s: ss.s.Clone(), checker: ss.checker, filter: ss.filter, traceID: ss.traceID}
	ss.mu.Unlock()
	*out = C.ell_session_t(handles.add(c))
	return C.ELL_OK
}

//export ell_session_free
func ell_session_free(h C.ell_session_t) {
	defer swallow()
	removeAs[*session](handles, uint64(h))
}

// set runs f on the session under its lock: the common shape of setters.
func set(h C.ell_session_t, err *C.ell_error, f func(ss *session) C.int32_t) C.int32_t {
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return f(ss)
}

// get runs f on the session under its lock; false on a bad handle.
func get(h C.ell_session_t, f func(ss *session)) bool {
	ss, ok := getSession(h)
	if !ok {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f(ss)
	return true
}

//export ell_session_set_groups
func ell_session_set_groups(h C.ell_session_t, groups *C.ell_cu32, count C.size_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if groups == nil && count > 0 {
		return invalid(err, "ell_session_set_groups: groups is NULL")
	}
	if uint64(count) > maxCount {
		return invalid(err, "ell_session_set_groups: %d groups", uint64(count))
	}
	gs := make([]uint32, 0, int(count))
	for _, g := range unsafe.Slice((*C.uint32_t)(unsafe.Pointer(groups)), int(count)) {
		if g == 0 {
			return invalid(err, "ell_session_set_groups: group 0 does not exist (groups start at 1)")
		}
		gs = append(gs, uint32(g))
	}
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetGroups(gs...); return C.ELL_OK })
}

//export ell_session_get_groups
func ell_session_get_groups(h C.ell_session_t, out *C.uint32_t, capacity C.size_t) (n C.size_t) {
	defer swallow()
	get(h, func(ss *session) {
		gs := ss.s.Groups()
		if out != nil {
			dst := unsafe.Slice(out, clamp(capacity, len(gs)))
			for i := range dst {
				dst[i] = C.uint32_t(gs[i])
			}
		}
		n = C.size_t(len(gs))
	})
	return n
}

//export ell_session_set_timeout
func ell_session_set_timeout(h C.ell_session_t, timeoutMS C.int64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if timeoutMS < 0 {
		return invalid(err, "ell_session_set_timeout: negative timeout")
	}
	return set(h, err, func(ss *session) C.int32_t {
		d := ms(timeoutMS)
		if d == 0 {
			d = ss.node.waitTimeout() // the node's current default, which may differ from its config
		}
		ss.s.SetTimeout(d)
		return C.ELL_OK
	})
}

// ell_session_get_timeout returns the timeout in effect in ms (the node
// default after set_timeout(0)), or ELL_EINVAL on a bad handle.
//
//export ell_session_get_timeout
func ell_session_get_timeout(h C.ell_session_t) (v C.int64_t) {
	defer swallow()
	v = C.ELL_EINVAL
	get(h, func(ss *session) { v = C.int64_t(ss.s.Timeout() / time.Millisecond) })
	return v
}

//export ell_session_set_cflags
func ell_session_set_cflags(h C.ell_session_t, f C.uint64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetCFlags(proto.Flags(f)); return C.ELL_OK })
}

//export ell_session_get_cflags
func ell_session_get_cflags(h C.ell_session_t) (v C.uint64_t) {
	defer swallow()
	get(h, func(ss *session) { v = C.uint64_t(ss.s.CFlags()) })
	return v
}

//export ell_session_set_ioflags
func ell_session_set_ioflags(h C.ell_session_t, f C.uint32_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetIOFlags(proto.IOFlags(f)); return C.ELL_OK })
}

//export ell_session_get_ioflags
func ell_session_get_ioflags(h C.ell_session_t) (v C.uint32_t) {
	defer swallow()
	get(h, func(ss *session) { v = C.uint32_t(ss.s.IOFlags()) })
	return v
}

//export ell_session_set_user_flags
func ell_session_set_user_flags(h C.ell_session_t, f C.uint64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetUserFlags(uint64(f)); return C.ELL_OK })
}

//export ell_session_get_user_flags
func ell_session_get_user_flags(h C.ell_session_t) (v C.uint64_t) {
	defer swallow()
	get(h, func(ss *session) { v = C.uint64_t(ss.s.UserFlags()) })
	return v
}

//export ell_session_set_trace_id
func ell_session_set_trace_id(h C.ell_session_t, t C.uint64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	return set(h, err, func(ss *session) C.int32_t {
		ss.s.SetTraceID(uint64(t))
		ss.traceID = uint64(t)
		return C.ELL_OK
	})
}

//export ell_session_get_trace_id
func ell_session_get_trace_id(h C.ell_session_t) (v C.uint64_t) {
	defer swallow()
	get(h, func(ss *session) { v = C.uint64_t(ss.traceID) })
	return v
}

//export ell_session_set_timestamp
func ell_session_set_timestamp(h C.ell_session_t, tsec, tnsec C.uint64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if tsec > math.MaxInt64 || tnsec >= 1e9 {
		return invalid(err, "ell_session_set_timestamp: %d.%09d is not a time", uint64(tsec), uint64(tnsec))
	}
	var ts time.Time // zero: "now", the server's clock at the write
	if tsec != 0 || tnsec != 0 {
		ts = time.Unix(int64(tsec), int64(tnsec)).UTC()
	}
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetTimestamp(ts); return C.ELL_OK })
}

//export ell_session_get_timestamp
func ell_session_get_timestamp(h C.ell_session_t, tsec, tnsec *C.uint64_t) {
	defer swallow()
	var sec, nsec uint64
	get(h, func(ss *session) { sec, nsec = splitTime(ss.s.Timestamp()) })
	if tsec != nil {
		*tsec = C.uint64_t(sec)
	}
	if tnsec != nil {
		*tnsec = C.uint64_t(nsec)
	}
}

// splitTime is the (tsec, tnsec) of t, 0/0 for the zero time.
func splitTime(t time.Time) (uint64, uint64) {
	if t.IsZero() {
		return 0, 0
	}
	return uint64(t.Unix()), uint64(t.Nanosecond())
}

//export ell_session_set_namespace
func ell_session_set_namespace(h C.ell_session_t, ns *C.ell_cchar, n C.size_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if ns == nil && n > 0 {
		return invalid(err, "ell_session_set_namespace: ns is NULL")
	}
	if uint64(n) > maxBytes {
		return invalid(err, "ell_session_set_namespace: length %d", uint64(n))
	}
	v := string(unsafe.Slice((*byte)(unsafe.Pointer(ns)), int(n)))
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetNamespace(v); return C.ELL_OK })
}

//export ell_session_get_namespace
func ell_session_get_namespace(h C.ell_session_t, out *C.char, capacity C.size_t) (n C.size_t) {
	defer swallow()
	get(h, func(ss *session) {
		ns := ss.s.Namespace()
		if out != nil {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), clamp(capacity, len(ns))), ns)
		}
		n = C.size_t(len(ns))
	})
	return n
}

//export ell_session_set_checker
func ell_session_set_checker(h C.ell_session_t, c C.int32_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	gc, ok := goChecker(c)
	if !ok {
		return invalid(err, "ell_session_set_checker: %d is not an ELL_CHECKER_*", int32(c))
	}
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetChecker(gc); ss.checker = c; return C.ELL_OK })
}

//export ell_session_get_checker
func ell_session_get_checker(h C.ell_session_t) (v C.int32_t) {
	defer swallow()
	v = C.ELL_EINVAL
	get(h, func(ss *session) { v = ss.checker })
	return v
}

//export ell_session_set_filter
func ell_session_set_filter(h C.ell_session_t, f C.int32_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	gf, ok := goFilter(f)
	if !ok {
		return invalid(err, "ell_session_set_filter: %d is not an ELL_FILTER_*", int32(f))
	}
	return set(h, err, func(ss *session) C.int32_t { ss.s.SetFilter(gf); ss.filter = f; return C.ELL_OK })
}

//export ell_session_get_filter
func ell_session_get_filter(h C.ell_session_t) (v C.int32_t) {
	defer swallow()
	v = C.ELL_EINVAL
	get(h, func(ss *session) { v = ss.filter })
	return v
}

// Lengths and counts from C are size_t; anything above these is a caller's
// bug (or a negative number cast), refused before it reaches unsafe.Slice.
const (
	maxCount = 1 << 31
	maxBytes = math.MaxInt
)

// clamp is min(n, limit) for a C capacity.
func clamp(n C.size_t, limit int) int {
	if uint64(n) < uint64(limit) {
		return int(n)
	}
	return limit
}

// goKey copies a C key into Go memory.
func goKey(k *C.ell_ckey) (client.Key, error) {
	if k == nil {
		return client.Key{}, status.Errorf(status.Invalid, "key is NULL")
	}
	var key client.Key
	if uint64(k.column_len) > maxBytes || uint64(k.name_len) > maxBytes {
		return client.Key{}, status.Errorf(status.Invalid, "key name or column length out of range")
	}
	if k.column_len > 0 {
		if k.column == nil {
			return client.Key{}, status.Errorf(status.Invalid, "key column is NULL with column_len %d", uint64(k.column_len))
		}
		key.Column = string(unsafe.Slice((*byte)(unsafe.Pointer(k.column)), int(k.column_len)))
	}
	if k.has_id != 0 {
		key.Raw = true
		copy(key.ID[:], unsafe.Slice((*byte)(unsafe.Pointer(&k.id[0])), id.Size))
		return key, nil
	}
	if k.name == nil && k.name_len > 0 {
		return client.Key{}, status.Errorf(status.Invalid, "key name is NULL with name_len %d", uint64(k.name_len))
	}
	key.Name = string(unsafe.Slice((*byte)(unsafe.Pointer(k.name)), int(k.name_len)))
	return key, nil
}

// putID copies an ID to a C ELL_ID_SIZE buffer.
func putID(out *C.uint8_t, v id.ID) {
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), id.Size), v[:])
}

//export ell_session_key_id
func ell_session_key_id(h C.ell_session_t, key *C.ell_ckey, out *C.uint8_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_session_key_id: out is NULL")
	}
	k, e := goKey(key)
	if e != nil {
		return fail(err, e)
	}
	return set(h, err, func(ss *session) C.int32_t {
		v, e := ss.s.ID(k)
		if e != nil {
			return fail(err, e)
		}
		putID(out, v)
		return C.ELL_OK
	})
}

//export ell_session_transform
func ell_session_transform(h C.ell_session_t, data *C.ell_cvoid, n C.size_t, out *C.uint8_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_session_transform: out is NULL")
	}
	if data == nil && n > 0 {
		return invalid(err, "ell_session_transform: data is NULL")
	}
	if uint64(n) > maxBytes {
		return invalid(err, "ell_session_transform: length %d", uint64(n))
	}
	return set(h, err, func(ss *session) C.int32_t {
		// The ID model's hashing (namespace, NUL, data), but empty data is
		// allowed: transform("") is SHA-512 of nothing, as in the original.
		hs := sha512.New()
		if ns := ss.s.Namespace(); ns != "" {
			hs.Write([]byte(ns))
			hs.Write([]byte{0})
		}
		hs.Write(unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
		var v id.ID
		hs.Sum(v[:0])
		putID(out, v)
		return C.ELL_OK
	})
}

//export ell_session_lookup_address
func ell_session_lookup_address(h C.ell_session_t, key *C.ell_ckey, group C.uint32_t, addr *C.char, capacity C.size_t,
	backendID *C.int32_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	k, e := goKey(key)
	if e != nil {
		return fail(err, e)
	}
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	s, _ := ss.snapshot()
	oid, e := s.ID(k)
	if e != nil {
		return fail(err, e)
	}
	owner, found := s.Node().Table().Owner(oid, uint32(group))
	if !found {
		return setError(err, C.ELL_ENXIO, fmt.Sprintf("no known node serves group %d", uint32(group)))
	}
	if addr == nil || uint64(capacity) < uint64(len(owner.Addr))+1 {
		return setError(err, C.ELL_EMSGSIZE, fmt.Sprintf("ell_session_lookup_address: the address %s needs %d bytes",
			owner.Addr, len(owner.Addr)+1))
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(addr)), len(owner.Addr)+1)
	buf[copy(buf, owner.Addr)] = 0
	if backendID != nil {
		*backendID = C.int32_t(owner.ID)
	}
	return C.ELL_OK
}
