package script

import (
	"time"

	"github.com/elliptics/elliptics/core/status"
)

// Limits bound one call. Zero fields mean "the default" in DefaultLimits
// and configuration, and "no override" in Cap.
type Limits struct {
	Steps       uint64        // Starlark execution steps
	Timeout     time.Duration // wall-clock deadline per call
	ReadBytes   int64         // bytes the builtins may read per call
	WriteBytes  int64         // bytes the builtins may write per call
	ResultBytes int64         // size of the returned result
	Memory      int64         // heap growth allowed while the call runs (coarse, see doc.go)
}

// MaxRangeLimit caps read_range's limit argument: a script asking for more
// records gets at most this many.
const MaxRangeLimit = 10000

// DefaultLimits returns the limits of a call that sets none.
func DefaultLimits() Limits {
	return Limits{
		Steps:       10_000_000,
		Timeout:     5 * time.Second,
		ReadBytes:   64 << 20,
		WriteBytes:  64 << 20,
		ResultBytes: 16 << 20,
		Memory:      256 << 20,
	}
}

// Cap returns l lowered by o: each non-zero field of o that is lower than
// l's replaces it. Per-call overrides from clients can only go down.
func (l Limits) Cap(o Limits) Limits {
	if o.Steps != 0 && o.Steps < l.Steps {
		l.Steps = o.Steps
	}
	if o.Timeout > 0 && o.Timeout < l.Timeout {
		l.Timeout = o.Timeout
	}
	l.ReadBytes = lower(l.ReadBytes, o.ReadBytes)
	l.WriteBytes = lower(l.WriteBytes, o.WriteBytes)
	l.ResultBytes = lower(l.ResultBytes, o.ResultBytes)
	l.Memory = lower(l.Memory, o.Memory)
	return l
}

func lower(cur, o int64) int64 {
	if o > 0 && o < cur {
		return o
	}
	return cur
}

// Validate rejects negative figures.
func (l Limits) Validate() error {
	switch {
	case l.Timeout < 0:
		return status.Errorf(status.Invalid, "script limits: negative timeout %v", l.Timeout)
	case l.ReadBytes < 0:
		return status.Errorf(status.Invalid, "script limits: negative read budget %d", l.ReadBytes)
	case l.WriteBytes < 0:
		return status.Errorf(status.Invalid, "script limits: negative write budget %d", l.WriteBytes)
	case l.ResultBytes < 0:
		return status.Errorf(status.Invalid, "script limits: negative result budget %d", l.ResultBytes)
	case l.Memory < 0:
		return status.Errorf(status.Invalid, "script limits: negative memory budget %d", l.Memory)
	}
	return nil
}

// WithDefaults fills zero fields from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.Steps == 0 {
		l.Steps = d.Steps
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.ReadBytes <= 0 {
		l.ReadBytes = d.ReadBytes
	}
	if l.WriteBytes <= 0 {
		l.WriteBytes = d.WriteBytes
	}
	if l.ResultBytes <= 0 {
		l.ResultBytes = d.ResultBytes
	}
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	return l
}
