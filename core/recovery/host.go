package recovery

import (
	"context"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/route"
)

// Host is the node recovery runs on.
type Host interface {
	// Self is the node's own address in its route table.
	Self() string
	// Table is the node's current route table.
	Table() *route.Table
	// Local opens a backend of this node for the length of a pass.
	Local(backendID int32) (Local, error)
	// Copy copies a record of src to its owner in group g (on any node),
	// keeping a newer copy there (then status.ErrMismatch), and returns
	// the metadata of what it sent. Big records go in chunks.
	Copy(ctx context.Context, src backend.Backend, key backend.Key, g uint32) (backend.Meta, error)
	// Pull copies a big record (meta as scanned) from its owner in group
	// g into dst, in chunks, keeping a newer copy in dst.
	Pull(ctx context.Context, key backend.Key, g uint32, meta backend.Meta, dst backend.Backend) error
	// Lookup returns the metadata the owner of key in group g holds.
	Lookup(ctx context.Context, key backend.Key, g uint32) (backend.Meta, error)
	// Scan visits the live records (metadata, no data) of a backend of any
	// node whose IDs are in one of ranges (sorted, disjoint), in ID order,
	// tombstones included (backend.ParseTombstone); with before set, only
	// those written before it.
	Scan(ctx context.Context, owner route.Backend, ranges []IDRange, before time.Time, fn func(backend.Record) error) error
	// Digests returns the range hashes (package digest) of buckets
	// first..last of a backend of any node; ok is false when it keeps none
	// or is still building them.
	Digests(ctx context.Context, owner route.Backend, first, last int) (sums []uint64, ok bool, err error)
	// ApplyTombstone applies a tombstone record (from another group) to a
	// local backend, in the key's order: older columns go, the tombstone
	// stays.
	ApplyTombstone(ctx context.Context, dst backend.Backend, rec backend.Record) error
	// WithKey runs fn in the node's per-key order: no client write or
	// remove of the key runs at the same time, so a check and the write
	// that depends on it are one step.
	WithKey(ctx context.Context, key id.ID, fn func() error) error
	// Fetch reads keys (data and metadata) from their owners in group g.
	// each is called once per key, one call at a time, with its index.
	Fetch(ctx context.Context, keys []backend.Key, g uint32, each func(i int, data []byte, meta backend.Meta, err error)) error
}

// Local is an open backend of the node.
type Local struct {
	ID      int32
	Group   uint32
	Store   backend.Backend
	Release func()
}
