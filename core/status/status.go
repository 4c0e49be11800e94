// Package status holds the status codes of the protocol and the sentinel
// errors they map to, one to one.
//
// Codes are negative errno values, as in the original Elliptics, so a code seen
// in a log, on the wire, in Python (Error.code) or in C (the return value)
// means the same everywhere. Callers branch with errors.Is:
//
//	if errors.Is(err, status.ErrNotFound) { ... }
//
// An *Error may carry a message with detail; it still matches its sentinel.
package status

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Code is a protocol status: 0 for success, a negative errno otherwise.
type Code int32

// The status codes. Values are the negated Linux errno numbers.
const (
	OK             Code = 0
	NotPermitted   Code = -1   // EPERM: not allowed (auth, admin commands)
	NotFound       Code = -2   // ENOENT: no such key
	IOError        Code = -5   // EIO: the backend failed to read or write
	NoRoute        Code = -6   // ENXIO: no node or backend serves this group/key
	Overloaded     Code = -11  // EAGAIN: too many requests in flight, retry later
	Exists         Code = -17  // EEXIST: the object already exists
	Invalid        Code = -22  // EINVAL: malformed or contradictory request
	NoSpace        Code = -28  // ENOSPC: disk full
	ReadOnly       Code = -30  // EROFS: backend or node is read-only
	Protocol       Code = -71  // EPROTO: bad frame or incompatible protocol version
	Mismatch       Code = -77  // EBADFD: compare-and-swap precondition failed
	Corrupt        Code = -84  // EILSEQ: checksum mismatch, data on disk is corrupt
	TooLarge       Code = -90  // EMSGSIZE: a length exceeds a configured limit
	Unsupported    Code = -95  // EOPNOTSUPP: unknown or disabled command
	ConnectionLost Code = -104 // ECONNRESET: the connection closed before the reply
	ShuttingDown   Code = -108 // ESHUTDOWN: the node is stopping
	Timeout        Code = -110 // ETIMEDOUT: no reply within the deadline
	Already        Code = -114 // EALREADY: the requested state is already in effect
	Canceled       Code = -125 // ECANCELED: the caller gave up
)

// Error is an error with a protocol status code and an optional message.
type Error struct {
	Code Code
	Msg  string
}

// Sentinel errors, one per code. Compare with errors.Is.
var (
	ErrNotPermitted   = &Error{Code: NotPermitted}
	ErrNotFound       = &Error{Code: NotFound}
	ErrIO             = &Error{Code: IOError}
	ErrNoRoute        = &Error{Code: NoRoute}
	ErrOverloaded     = &Error{Code: Overloaded}
	ErrExists         = &Error{Code: Exists}
	ErrInvalid        = &Error{Code: Invalid}
	ErrNoSpace        = &Error{Code: NoSpace}
	ErrReadOnly       = &Error{Code: ReadOnly}
	ErrProtocol       = &Error{Code: Protocol}
	ErrMismatch       = &Error{Code: Mismatch}
	ErrCorrupt        = &Error{Code: Corrupt}
	ErrTooLarge       = &Error{Code: TooLarge}
	ErrUnsupported    = &Error{Code: Unsupported}
	ErrConnectionLost = &Error{Code: ConnectionLost}
	ErrShuttingDown   = &Error{Code: ShuttingDown}
	ErrTimeout        = &Error{Code: Timeout}
	ErrAlready        = &Error{Code: Already}
	ErrCanceled       = &Error{Code: Canceled}
)

var names = map[Code]string{
	OK:             "ok",
	NotPermitted:   "not permitted",
	NotFound:       "not found",
	IOError:        "input/output error",
	NoRoute:        "no route to group or key",
	Overloaded:     "overloaded, try again",
	Exists:         "already exists",
	Invalid:        "invalid request",
	NoSpace:        "no space left on device",
	ReadOnly:       "read-only",
	Protocol:       "protocol error",
	Mismatch:       "compare-and-swap mismatch",
	Corrupt:        "data corrupt (checksum mismatch)",
	TooLarge:       "too large",
	Unsupported:    "unsupported command",
	ConnectionLost: "connection lost",
	ShuttingDown:   "node shutting down",
	Timeout:        "timed out",
	Already:        "already in that state",
	Canceled:       "canceled",
}

// Codes returns every known code, for documentation and exhaustive tests.
func Codes() []Code {
	out := make([]Code, 0, len(names))
	for c := range names {
		out = append(out, c)
	}
	return out
}

// String names the code.
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("status %d", int32(c))
}

// Err returns the sentinel error of c, or nil for OK. Unknown codes get a
// fresh *Error so nothing is lost.
func (c Code) Err() error {
	if c == OK {
		return nil
	}
	if e, ok := sentinels[c]; ok {
		return e
	}
	return &Error{Code: c}
}

var sentinels = func() map[Code]*Error {
	m := map[Code]*Error{}
	for _, e := range []*Error{ErrNotPermitted, ErrNotFound, ErrIO, ErrNoRoute, ErrOverloaded,
		ErrExists, ErrInvalid, ErrNoSpace, ErrReadOnly, ErrProtocol, ErrMismatch, ErrCorrupt,
		ErrTooLarge, ErrUnsupported, ErrConnectionLost, ErrShuttingDown, ErrTimeout, ErrAlready,
		ErrCanceled} {
		m[e.Code] = e
	}
	return m
}()

// Error formats as "message: name (code)" the way the original's Python
// binding did ("<text>: <strerror>: <code>").
func (e *Error) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("%s (%d)", e.Code, int32(e.Code))
	}
	return fmt.Sprintf("%s: %s (%d)", e.Msg, e.Code, int32(e.Code))
}

// Is makes every *Error with the same code match the sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with code c and a formatted message.
func Errorf(c Code, format string, args ...any) error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// FromError maps any error to the code sent on the wire. Errors from the file
// system and context are translated so a disk-full write reaches the client
// as NoSpace, not as a generic failure.
func FromError(err error) Code {
	if err == nil {
		return OK
	}
	var se *Error
	if errors.As(err, &se) {
		return se.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, syscall.ENOSPC):
		return NoSpace
	case errors.Is(err, syscall.EROFS):
		return ReadOnly
	case errors.Is(err, os.ErrNotExist):
		return NotFound
	case errors.Is(err, os.ErrPermission):
		return NotPermitted
	}
	return IOError
}

// Message returns the detail of err for an error reply, without the
// "name (code)" suffix that the receiving side adds back from the code.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var se *Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	if err == error(se) {
		return se.Msg
	}
	msg := err.Error()
	suffix := fmt.Sprintf("%s (%d)", se.Code, int32(se.Code))
	msg = strings.TrimSuffix(msg, suffix)
	return strings.TrimSuffix(msg, ": ")
}
