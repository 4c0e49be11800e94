package route

import (
	"errors"
	"fmt"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Sentinel errors. Errors returned by this package wrap one of them (match
// with errors.Is) and also the status sentinel named below, so a server that
// refuses a route announcement replies with a meaningful status code
// (status.FromError).
var (
	// ErrConflict: two different backends of one group announce the same
	// ring point. The error is a *ConflictError naming both backends and
	// the point; it also matches status.ErrExists.
	ErrConflict = errors.New("route: ring point conflict")
	// ErrInvalid: a backend breaks the rules (group 0, no points, too many
	// points, a point listed twice, a bad address, a backend listed twice).
	// It also matches status.ErrInvalid.
	ErrInvalid = errors.New("route: invalid backend")
	// ErrIDsFile: a backend's ids file exists but is damaged. It is never
	// regenerated silently, since new points would move the backend's data
	// to other backends. It also matches status.ErrCorrupt.
	ErrIDsFile = errors.New("route: damaged ids file")
)

// Decoding errors (DecodeTable, DecodeBackends) match status.ErrProtocol for
// malformed input and status.ErrTooLarge for counts over the Limits.

// routeError carries a full message and the sentinels it matches.
type routeError struct {
	msg  string
	errs []error
}

func (e *routeError) Error() string   { return e.msg }
func (e *routeError) Unwrap() []error { return e.errs }

func invalidf(format string, args ...any) error {
	return &routeError{msg: "route: " + fmt.Sprintf(format, args...), errs: []error{ErrInvalid, status.ErrInvalid}}
}

func idsFilef(format string, args ...any) error {
	return &routeError{msg: "route: " + fmt.Sprintf(format, args...), errs: []error{ErrIDsFile, status.ErrCorrupt}}
}

// ConflictError reports two backends of one group announcing the same point.
type ConflictError struct {
	Group uint32
	Point id.ID
	A, B  Backend // the two backends, in table order (by address, then ID)
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("route: group %d: backends %s and %s both announce ring point %s: ring point conflict",
		e.Group, e.A.Name(), e.B.Name(), e.Point)
}

// Unwrap makes the error match ErrConflict and status.ErrExists.
func (e *ConflictError) Unwrap() []error { return []error{ErrConflict, status.ErrExists} }
