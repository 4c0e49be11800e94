package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/elliptics/elliptics/core/status"
)

// codeOf maps a status code to its ELL_E* code. The two share their values
// (negative errno numbers); the explicit table makes a status code added
// in Go without a C counterpart a visible EIO instead of a silent new value
// C callers have no name for. TestCodesMatch checks the table.
func codeOf(c status.Code) C.int32_t {
	switch c {
	case status.OK:
		return C.ELL_OK
	case status.NotPermitted:
		return C.ELL_EPERM
	case status.NotFound:
		return C.ELL_ENOENT
	case status.IOError:
		return C.ELL_EIO
	case status.NoRoute:
		return C.ELL_ENXIO
	case status.Overloaded:
		return C.ELL_EAGAIN
	case status.Exists:
		return C.ELL_EEXIST
	case status.Invalid:
		return C.ELL_EINVAL
	case status.NoSpace:
		return C.ELL_ENOSPC
	case status.ReadOnly:
		return C.ELL_EROFS
	case status.Protocol:
		return C.ELL_EPROTO
	case status.Mismatch:
		return C.ELL_EBADFD
	case status.Corrupt:
		return C.ELL_EILSEQ
	case status.TooLarge:
		return C.ELL_EMSGSIZE
	case status.Unsupported:
		return C.ELL_EOPNOTSUPP
	case status.ConnectionLost:
		return C.ELL_ECONNRESET
	case status.ShuttingDown:
		return C.ELL_ESHUTDOWN
	case status.Timeout:
		return C.ELL_ETIMEDOUT
	case status.Already:
		return C.ELL_EALREADY
	case status.Canceled:
		return C.ELL_ECANCELED
	}
	return C.ELL_EIO
}

// errCode maps any Go error to an ELL_E* code (ELL_OK for nil).
func errCode(err error) C.int32_t { return codeOf(status.FromError(err)) }

// setError fills err (which may be NULL) and returns code: every failing
// export ends in it, so the code returned and the code in err agree.
func setError(err *C.ell_error, code C.int32_t, msg string) C.int32_t {
	if err == nil {
		return code
	}
	err.code = code
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&err.message[0])), C.ELL_ERROR_MESSAGE_MAX)
	n := copy(buf[:len(buf)-1], msg)
	// Do not cut a UTF-8 sequence in half: Python decodes the message.
	for n < len(msg) && n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	buf[n] = 0
	return code
}

// fail fills err from a Go error and returns its code.
func fail(err *C.ell_error, e error) C.int32_t {
	return setError(err, errCode(e), e.Error())
}

// invalid is the common ELL_EINVAL failure.
func invalid(err *C.ell_error, format string, args ...any) C.int32_t {
	return setError(err, C.ELL_EINVAL, fmt.Sprintf(format, args...))
}

// guard is deferred by every export that returns a status: a Go panic must
// not unwind into C (that aborts the process), so it becomes ELL_EIO.
func guard(err *C.ell_error, rc *C.int32_t) {
	if r := recover(); r != nil {
		*rc = setError(err, C.ELL_EIO, fmt.Sprintf("libelliptics internal error: %v", r))
	}
}

// swallow is deferred by the exports that return no status; their result
// stays the zero value the signature documents for a bad handle.
func swallow() { _ = recover() }

// badHandle is the failure of a call given a zero, freed or wrong-type
// handle.
func badHandle(err *C.ell_error, what string, h C.uint64_t) C.int32_t {
	return invalid(err, "invalid %s handle %d", what, uint64(h))
}

// strerrors are the static strings of ell_strerror, made once: C callers
// keep the pointers forever.
var strerrors = func() map[int32]*C.char {
	m := map[int32]*C.char{}
	for code, s := range map[int32]string{
		C.ELL_OK: "ok", C.ELL_EPERM: "not permitted", C.ELL_ENOENT: "no such key",
		C.ELL_EIO: "the backend failed to read or write", C.ELL_ENXIO: "no node serves this group or key",
		C.ELL_EAGAIN: "overloaded, retry later", C.ELL_ENOMEM: "out of memory",
		C.ELL_EEXIST: "the object already exists", C.ELL_EINVAL: "invalid argument",
		C.ELL_ENOSPC: "disk full", C.ELL_EROFS: "read-only", C.ELL_EPROTO: "protocol error",
		C.ELL_EBADFD: "compare-and-swap precondition failed", C.ELL_EILSEQ: "checksum mismatch",
		C.ELL_EMSGSIZE: "too large", C.ELL_EOPNOTSUPP: "unsupported command",
		C.ELL_ECONNRESET: "connection lost", C.ELL_ESHUTDOWN: "node shutting down",
		C.ELL_ETIMEDOUT: "timed out", C.ELL_EALREADY: "already in that state",
		C.ELL_ECANCELED: "canceled",
	} {
		m[code] = C.CString(s)
	}
	return m
}()

var strerrorUnknown = C.CString("unknown status code")
