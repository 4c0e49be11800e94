package script

import (
	"github.com/elliptics/elliptics/core/status"
)

// Error is an error of a script call. It matches (errors.Is) the sentinel
// of its kind and, through Unwrap, the core/status sentinel of its code, so
// status.FromError yields the code and status.Message the text.
type Error struct {
	kind *Error // the sentinel this error is an instance of; nil for a sentinel
	code status.Code
	msg  string
	err  error // the cause, if any
}

// Sentinels. Compare with errors.Is; the status code travels with each.
var (
	// ErrCompile: the source does not parse or resolve, is too large
	// (code TooLarge) or uses load.
	ErrCompile = sentinel(status.Invalid, "script does not compile")
	// ErrNoFunction: the script defines no callable of the asked name.
	ErrNoFunction = sentinel(status.Invalid, "script has no such function")
	// ErrSteps: the step budget ran out.
	ErrSteps = sentinel(status.TooLarge, "step budget exceeded")
	// ErrTimeout: the wall-clock deadline passed.
	ErrTimeout = sentinel(status.Timeout, "deadline exceeded")
	// ErrBudget: a read, write or result byte budget ran out.
	ErrBudget = sentinel(status.TooLarge, "byte budget exceeded")
	// ErrMemory: the heap grew more than the memory budget during the call.
	ErrMemory = sentinel(status.TooLarge, "memory budget exceeded")
	// ErrFailed: the script failed at run time (fail(), a type error,
	// recursion, an unencodable result...).
	ErrFailed = sentinel(status.Invalid, "script failed")
)

func sentinel(c status.Code, msg string) *Error { return &Error{code: c, msg: msg} }

// newError returns an instance of kind with a message and an optional cause.
func newError(kind *Error, cause error, msg string) *Error {
	return &Error{kind: kind, code: kind.code, msg: msg, err: cause}
}

// Error returns the message; the status name and code are left to the
// protocol layer, which adds them back from the code.
func (e *Error) Error() string { return e.msg }

// Code is the status code sent on the wire for e.
func (e *Error) Code() status.Code { return e.code }

// Is matches the sentinel of e's kind (and e itself).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && (t == e || (e.kind != nil && t == e.kind))
}

// Unwrap exposes the status error first, so status.FromError finds e's
// code before any code inside the cause.
func (e *Error) Unwrap() []error {
	out := []error{&status.Error{Code: e.code, Msg: e.msg}}
	if e.err != nil {
		out = append(out, e.err)
	}
	return out
}
