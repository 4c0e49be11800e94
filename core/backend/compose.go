package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Expired reports whether a column with expiry expire is gone at now. Every
// backend uses it, so "expired" means the same everywhere: at the instant
// itself the column is already gone.
func Expired(expire, now time.Time) bool { return !expire.IsZero() && !now.Before(expire) }

// Previous is the current state of a column as a backend knows it before a
// write. A backend passes Exists false for a missing or expired column;
// Data is needed only when the request's NeedsPrevious says so.
type Previous struct {
	Exists  bool
	Pending bool // an uncommitted upload
	Data    []byte
	Expire  time.Time
}

// Composed is what a write leaves in the column.
type Composed struct {
	// Data is the new value. For a replace write it is the request's own
	// slice, which a backend that keeps it must copy.
	Data    []byte
	Pending bool // the value is an uncommitted upload
	Expire  time.Time
}

// Compose computes the value a write leaves, from the column's current
// state, so that every backend gives offset writes, appends, chunked uploads
// and expiry the same meaning. limit is the largest value the backend
// stores (a larger result is status.ErrTooLarge). Compose builds the value
// in memory; the blob and file backends stream big offset writes and
// appends instead, with the same rules (their rewrite.go).
func Compose(prev Previous, req *WriteRequest, limit uint64) (Composed, error) {
	if req.Phased() {
		return composePhased(prev, req, limit)
	}
	// A plain write over an upload in progress abandons the upload: its
	// bytes were never visible, so they are not a base to write on.
	base := prev.Data
	if !prev.Exists || prev.Pending {
		base, prev = nil, Previous{}
	}
	out := Composed{Expire: req.Expire}
	off := req.Offset
	if req.Append {
		off = uint64(len(base))
	} else if off == 0 {
		if uint64(len(req.Data)) > limit {
			return out, status.Errorf(status.TooLarge, "value of %d bytes over the backend limit of %d", len(req.Data), limit)
		}
		out.Data = req.Data
		return out, nil
	}
	if out.Expire.IsZero() {
		out.Expire = prev.Expire
	}
	end, err := chunkEnd(off, req.Data, limit)
	if err != nil {
		return out, err
	}
	out.Data = make([]byte, max(end, uint64(len(base))))
	copy(out.Data, base)
	copy(out.Data[off:], req.Data)
	return out, nil
}

func composePhased(prev Previous, req *WriteRequest, limit uint64) (Composed, error) {
	if req.Append {
		return Composed{}, status.Errorf(status.Invalid, "append cannot be part of a chunked upload (prepare/plain/commit)")
	}
	var out Composed
	if req.Prepare {
		if req.TotalSize > limit {
			return out, status.Errorf(status.TooLarge, "prepare of %d bytes over the backend limit of %d", req.TotalSize, limit)
		}
		out.Data = make([]byte, req.TotalSize)
		out.Expire = req.Expire
	} else {
		if !prev.Exists || !prev.Pending {
			return out, status.Errorf(status.NotFound, "no upload in progress (prepare first)")
		}
		out.Data = append([]byte(nil), prev.Data...)
		out.Expire = req.Expire
		if out.Expire.IsZero() && !req.Commit {
			out.Expire = prev.Expire
		}
	}
	end, err := chunkEnd(req.Offset, req.Data, limit)
	if err != nil {
		return out, err
	}
	if end > uint64(len(out.Data)) {
		return out, status.Errorf(status.Invalid, "chunk [%d, %d) ends past the %d bytes prepared", req.Offset, end, len(out.Data))
	}
	copy(out.Data[req.Offset:], req.Data)
	out.Pending = true
	if req.Commit {
		if req.TotalSize > uint64(len(out.Data)) {
			return out, status.Errorf(status.Invalid, "commit of %d bytes, larger than the %d bytes prepared", req.TotalSize, len(out.Data))
		}
		out.Data = out.Data[:req.TotalSize]
		out.Pending = false
	}
	return out, nil
}

func chunkEnd(off uint64, data []byte, limit uint64) (uint64, error) {
	end := off + uint64(len(data))
	if end < off {
		return 0, status.Errorf(status.Invalid, "offset %d + %d bytes overflows", off, len(data))
	}
	if end > limit {
		return 0, status.Errorf(status.TooLarge, "write ends at byte %d, over the backend limit of %d", end, limit)
	}
	return end, nil
}

// Condition is a precondition of a write, checked against the stored column
// (the original's COMPARE_AND_SWAP and CAS_TIMESTAMP io flags).
type Condition struct {
	// Checksum, when set, must equal the SHA-512 of the stored value.
	Checksum *id.ID
	// NotOlder refuses the write if the stored timestamp is newer than
	// Timestamp, or a tombstone says the column was removed at or after
	// it.
	NotOlder  bool
	Timestamp time.Time
}

// Check tests c against the column k of b. A missing (or expired, or
// uncommitted) column passes, as in the original: there is nothing to
// compare with. A failed condition is status.ErrMismatch. Check then a
// write is atomic only if the caller runs the writes of a key one at a time;
// the node's per-key queue does.
func (c Condition) Check(ctx context.Context, b Backend, k Key) error {
	if c.Checksum == nil && !c.NotOlder {
		return nil
	}
	if c.NotOlder {
		// An older copy must not bring back what was removed after it.
		if err := notRemoved(ctx, b, k, c.Timestamp); err != nil {
			return err
		}
	}
	info, err := b.Lookup(ctx, k, LookupOptions{Checksum: c.Checksum != nil})
	if errors.Is(err, status.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compare-and-swap: look up the stored value: %w", err)
	}
	if c.Checksum != nil && info.Checksum != *c.Checksum {
		return status.Errorf(status.Mismatch, "compare-and-swap: stored checksum %s, expected %s",
			info.Checksum.Short(), c.Checksum.Short())
	}
	if c.NotOlder && info.Timestamp.After(c.Timestamp) {
		return status.Errorf(status.Mismatch, "compare-and-swap: stored timestamp %s is newer than %s",
			info.Timestamp.Format(time.RFC3339Nano), c.Timestamp.Format(time.RFC3339Nano))
	}
	return nil
}

// notRemoved fails (status.ErrMismatch) when a tombstone says the column
// was removed at or after ts: a remove wins a tie.
func notRemoved(ctx context.Context, b Backend, k Key, ts time.Time) error {
	at, err := RemovedAt(ctx, b, k)
	if err != nil {
		return fmt.Errorf("compare-and-swap: look up tombstones: %w", err)
	}
	if !at.IsZero() && !at.Before(ts) {
		return status.Errorf(status.Mismatch, "compare-and-swap: removed at %s, not before %s",
			at.Format(time.RFC3339Nano), ts.Format(time.RFC3339Nano))
	}
	return nil
}
