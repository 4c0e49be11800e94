package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Entry is the outcome of one command in one group.
type Entry struct {
	Address string // node that answered ("" if none could be reached)
	Group   uint32
	Status  status.Code
	Err     error // nil when Status is OK

	ID          id.ID
	Column      string
	Offset      uint64 // of the data in the object
	Size        uint64 // bytes written or read
	TotalSize   uint64 // whole object size
	Timestamp   time.Time
	UserFlags   uint64
	RecordFlags proto.RecordFlags
	Expire      time.Time // when the value expires (zero = never)
	Checksum    id.ID     // SHA-512 of the data when requested
	Path        string    // where the backend keeps it
	Data        []byte    // read data
}

// OK reports whether the entry is a success.
func (e *Entry) OK() bool { return e.Status == status.OK }

// Result is what a multi-group call returns: every group's entry (as the
// session's Filter selects) and the checker's verdict.
type Result struct {
	// Entries are the selected entries, in session group order.
	Entries []Entry
	// Succeeded and Total count the groups that succeeded and were tried.
	Succeeded, Total int
}

// Checker decides whether a multi-group call succeeded from its per-group
// outcomes (checkers in the original).
type Checker int

const (
	// CheckAtLeastOne: success if any group succeeded (the default).
	CheckAtLeastOne Checker = iota
	// CheckAll: success only if every group succeeded.
	CheckAll
	// CheckQuorum: success if more than half the groups succeeded.
	CheckQuorum
	// CheckNone: always success; inspect the entries.
	CheckNone
)

func (c Checker) String() string {
	switch c {
	case CheckAtLeastOne:
		return "at_least_one"
	case CheckAll:
		return "all"
	case CheckQuorum:
		return "quorum"
	case CheckNone:
		return "no_check"
	}
	return fmt.Sprintf("checker(%d)", int(c))
}

// ParseChecker parses a checker name as printed by String.
func ParseChecker(s string) (Checker, error) {
	for _, c := range []Checker{CheckAtLeastOne, CheckAll, CheckQuorum, CheckNone} {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown checker %q (want at_least_one, all, quorum or no_check)", s)
}

func (c Checker) ok(succeeded, total int) bool {
	switch c {
	case CheckAll:
		return succeeded == total && total > 0
	case CheckQuorum:
		return succeeded > total/2
	case CheckNone:
		return true
	default:
		return succeeded > 0
	}
}

// Filter selects which entries a Result carries.
type Filter int

const (
	// FilterAll keeps every group's entry (the default).
	FilterAll Filter = iota
	// FilterPositive keeps successful entries only.
	FilterPositive
	// FilterNegative keeps failed entries only.
	FilterNegative
)

func (f Filter) keep(e *Entry) bool {
	switch f {
	case FilterPositive:
		return e.OK()
	case FilterNegative:
		return !e.OK()
	}
	return true
}

// verdict applies the checker to entries and builds the Result. When the
// checker fails, the error is the first real error if no group succeeded,
// else NoRoute with the counts, as the original reported it.
func verdict(entries []Entry, c Checker, f Filter) (Result, error) {
	r := Result{Total: len(entries)}
	var firstErr error
	kept := entries[:0] // filtered in place: entries is the caller's own
	for i := range entries {
		e := &entries[i]
		if e.OK() {
			r.Succeeded++
		} else if firstErr == nil {
			firstErr = e.Err
		}
		if f.keep(e) {
			kept = append(kept, *e)
		}
	}
	if len(kept) > 0 {
		r.Entries = kept
	}
	if c.ok(r.Succeeded, r.Total) {
		return r, nil
	}
	if r.Succeeded == 0 && firstErr != nil {
		return r, firstErr
	}
	return r, status.Errorf(status.NoRoute, "insufficient results count due to checker %s: %d of %d succeeded",
		c, r.Succeeded, r.Total)
}

// readVerdict picks the error of a sequential read that found nothing: not
// found only if every group said so, else the first other error, since a
// group that failed may still hold the key.
func readVerdict(entries []Entry) error {
	if len(entries) == 0 {
		return status.Errorf(status.NoRoute, "session has no groups")
	}
	for i := range entries {
		if !errors.Is(entries[i].Err, status.ErrNotFound) {
			return entries[i].Err
		}
	}
	return entries[len(entries)-1].Err
}
