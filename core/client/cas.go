package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// DefaultCASAttempts is what WriteCAS uses for count <= 0 (the original's
// write_cas default).
const DefaultCASAttempts = 10

// WriteCAS is a read-modify-write that loses no concurrent update (the
// original's write_cas(key, converter, offset, count)): it reads the newest
// copy of k (ReadLatest), computes fn(current), and writes the result only
// if the stored value still has the checksum of what was read. When another
// writer got there first (status.ErrMismatch) it starts over, at most count
// times in all (count <= 0: DefaultCASAttempts).
//
// fn gets nil when the key does not exist, and must not keep or modify its
// argument; its error ends WriteCAS at once. For a missing key the write is
// conditional on the key still being absent (an all-zero expected checksum,
// which no stored value has). With several groups the condition is checked
// in each group separately: the session's checker decides, as for Write,
// and the entries show which groups refused.
//
// The error after the last attempt wraps status.ErrMismatch.
func (s *Session) WriteCAS(ctx context.Context, k Key, fn func(current []byte) ([]byte, error), count int) (Result, error) {
	if count <= 0 {
		count = DefaultCASAttempts
	}
	var last error
	for attempt := 1; attempt <= count; attempt++ {
		var cur []byte
		var sum id.ID // zero: "absent"
		e, _, err := s.ReadLatest(ctx, k, 0, 0)
		switch {
		case err == nil:
			cur, sum = e.Data, id.Transform(e.Data)
		case errors.Is(err, status.ErrNotFound):
		default:
			return Result{}, fmt.Errorf("write cas %s: read the current value: %w", k, err)
		}
		next, err := fn(cur)
		if err != nil {
			return Result{}, fmt.Errorf("write cas %s: %w", k, err)
		}
		res, err := s.WriteWith(ctx, k, next, WriteOptions{CAS: &sum})
		if err == nil || !errors.Is(err, status.ErrMismatch) {
			return res, err
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return Result{}, fmt.Errorf("write cas %s: gave up after %d attempts: %w", k, count, last)
}
