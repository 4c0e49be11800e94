// Package backend defines the storage interface a node serves data from.
//
// A backend stores objects by 64-byte ID. An object has one or more named
// columns (the default column is ""), each an independent byte string with a
// timestamp and 64-bit user flags. Backends must be safe for concurrent use;
// the server already orders commands on the same key, so a backend needs no
// per-key locking of its own beyond keeping its structures consistent.
//
// To add a backend, implement Backend and run the conformance suite in
// package backendtest against it:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend { return mybackend.Open(t.TempDir()) })
//	}
//
// Columns may carry an expiry (WriteRequest.Expire) and may be uncommitted
// uploads (Prepare/Plain/Commit); both are invisible to Read, Lookup and
// Iterate. Compose gives every backend the same write semantics for
// offsets, appends and expiry, and PlanUpload the same checks for the steps
// of a chunked upload, which backends write in place (a chunk costs its own
// bytes, not a rewrite of the value); Condition is the compare-and-swap
// check the node runs before a conditional write.
//
// Errors are the sentinels of package status: status.ErrNotFound for a
// missing object or column, status.ErrInvalid for a bad offset,
// status.ErrReadOnly for writes to a read-only backend, status.ErrCorrupt when
// stored bytes fail their checksum.
package backend

import (
	"context"
	"time"

	"github.com/elliptics/elliptics/core/id"
)

// Key names one column of one object.
type Key struct {
	ID     id.ID
	Column string // "" is the default column
}

// Meta describes a stored column.
type Meta struct {
	Size      uint64    // bytes of data
	Timestamp time.Time // of the last write
	UserFlags uint64    // opaque to the store, set by the writer
	// Expire is when the column stops existing (zero = never). From that
	// instant Read, Lookup and Iterate no longer see it; the space is
	// reclaimed later (defragmentation, or the next write or remove).
	Expire time.Time
}

// WriteRequest is one write of one column.
type WriteRequest struct {
	Key
	Data []byte
	// Offset places Data inside the existing value: bytes before Offset are
	// kept, bytes in [Offset, Offset+len(Data)) are replaced, the value grows
	// if needed (a gap past the old end reads as zeros). An Offset of 0
	// without Append replaces the whole value.
	Offset uint64
	// Append adds Data after the current end (Offset is ignored). Appending
	// to a missing column creates it.
	Append    bool
	Timestamp time.Time // the server always sets it; zero means now
	UserFlags uint64
	// Expire is when the column written stops existing (zero = never). A
	// replace write or a prepare sets it; an offset write, append or plain
	// write with a zero Expire keeps the column's current one (so chunks and
	// appends do not make an object permanent); a commit sets it (zero =
	// never), because the upload's own deadline must not outlive the upload.
	// A time already past is allowed: the column is written and at once
	// invisible.
	Expire time.Time

	// Prepare, Plain and Commit are the phases of a chunked upload (the
	// original's two-phase eblob write). Between prepare and commit the
	// column is "uncommitted": invisible to Read, Lookup and Iterate
	// (status.ErrNotFound, as if absent) but kept across restarts until its
	// Expire.
	//
	// Prepare starts an upload of TotalSize bytes (zeros) and places Data at
	// Offset; any earlier value of the column is dropped. Plain places Data
	// at Offset of the upload in progress. Commit places Data at Offset, cuts
	// the value to TotalSize and makes it visible. Flags may be combined
	// (Prepare|Commit is a whole write in one request). A chunk that ends
	// past the reserved size, a commit size larger than the reservation, and
	// Append with any phase are status.ErrInvalid; Plain or Commit without
	// an upload in progress is status.ErrNotFound.
	Prepare, Plain, Commit bool
	// TotalSize is the reservation of a Prepare and the final size of a
	// Commit.
	TotalSize uint64
}

// Phased reports whether the write is part of a chunked upload.
func (r *WriteRequest) Phased() bool { return r.Prepare || r.Plain || r.Commit }

// NeedsPrevious reports whether the write's result depends on the
// column's current bytes (offset write, append, plain write, commit), so a
// backend must read them before calling Compose.
func (r *WriteRequest) NeedsPrevious() bool {
	if r.Prepare {
		return false
	}
	return r.Append || r.Offset > 0 || r.Plain || r.Commit
}

// LookupOptions select what Lookup computes.
type LookupOptions struct {
	// Checksum asks for the SHA-512 of the data, which costs a full read.
	Checksum bool
}

// Info is the result of Lookup.
type Info struct {
	Meta
	Checksum id.ID  // set only when asked for
	Path     string // where the data lives, backend-specific ("" if meaningless)
}

// RemoveOptions select what Remove deletes.
type RemoveOptions struct {
	// Column removes only that column when OnlyColumn is set; otherwise
	// Remove deletes the object with every column.
	Column     string
	OnlyColumn bool
}

// IterateOptions bound an iteration.
type IterateOptions struct {
	// Start and End bound the IDs visited, both inclusive. The zero value of
	// End is replaced by id.Max, so IterateOptions{} visits everything.
	Start, End id.ID
}

// Record is one column seen by Iterate.
type Record struct {
	Key
	Meta
}

// Stats are the figures every backend reports.
type Stats struct {
	Records  uint64 // live columns
	Bytes    uint64 // live data bytes
	ReadOnly bool
	// Extra holds backend-specific figures for statistics output.
	Extra map[string]any
}

// Backend is the storage interface. All methods may block on I/O and must
// respect ctx cancellation where they wait.
type Backend interface {
	// Write stores data and returns the column's metadata after the write.
	// When Write returns nil the data survives a crash of the process.
	Write(ctx context.Context, req *WriteRequest) (Meta, error)
	// Read returns size bytes at offset (size 0 = to the end) and the
	// column's metadata (Meta.Size is the whole size). An offset past the end
	// is status.ErrInvalid; an offset equal to the size reads nothing.
	Read(ctx context.Context, key Key, offset, size uint64) ([]byte, Meta, error)
	// Lookup returns metadata without the data.
	Lookup(ctx context.Context, key Key, opts LookupOptions) (Info, error)
	// Remove deletes an object or one of its columns.
	Remove(ctx context.Context, oid id.ID, opts RemoveOptions) error
	// Iterate calls fn for every live column with an ID in range, in
	// ascending (ID, column) order. It stops at fn's first error and returns
	// it. Writes made during the iteration may or may not be seen. fn may
	// call the backend's other methods (range reads and removals, iterators
	// and server-send read or remove each record from inside fn), so
	// Iterate must not hold a lock fn's calls need; fn may also block for
	// long (a paused iterator).
	Iterate(ctx context.Context, opts IterateOptions, fn func(Record) error) error
	// Stats returns current figures.
	Stats() Stats
	// Close releases resources; every later call fails.
	Close() error
}

// Defragmenter is implemented by backends that can rewrite their files to
// drop removed and overwritten data while serving.
type Defragmenter interface {
	// StartDefrag starts a defragmentation in the background. It returns
	// status.ErrAlready if one is running.
	StartDefrag(ctx context.Context) error
	// StopDefrag asks a running defragmentation to stop at the next safe
	// point; it returns status.ErrAlready if none is running.
	StopDefrag() error
	// DefragStatus reports the progress of the running or last run.
	DefragStatus() DefragStatus
}

// DefragStatus is the progress of a defragmentation.
type DefragStatus struct {
	Running    bool
	StartedAt  time.Time
	FinishedAt time.Time // zero while running or if never run
	FilesDone  int
	FilesTotal int
	BytesDone  uint64 // bytes of data files processed
	BytesTotal uint64
	Reclaimed  uint64 // bytes returned to the file system
	Err        string // why the last run failed, "" if it did not
}

// ReadOnlySetter is implemented by backends with a read-only state of their
// own, for example entered after a write failed with a full disk. The node
// calls it when an operator makes the backend writable again.
type ReadOnlySetter interface {
	SetReadOnly(ro bool)
}

// Digester is a backend that reports range hashes (package digest): for
// each bucket of the ID space, the sum of the hashes of its records. ok is
// false while the sums are not known (being built after a start): callers
// compare records instead.
type Digester interface {
	Digests(ctx context.Context, first, last int) (sums []uint64, ok bool, err error)
}

// Wrapper is a backend that adds behaviour around another (a node's
// notifying store): Unwrap returns it, so As finds the optional interfaces
// (Digester, ColumnLister, ...) of what it wraps.
type Wrapper interface {
	Unwrap() Backend
}

// As returns b, or the first backend b wraps, that implements T.
func As[T any](b Backend) (T, bool) {
	for b != nil {
		if t, ok := b.(T); ok {
			return t, true
		}
		w, ok := b.(Wrapper)
		if !ok {
			break
		}
		b = w.Unwrap()
	}
	var zero T
	return zero, false
}
