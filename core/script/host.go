package script

import (
	"context"
	"time"
)

// Host is the node side of the builtins. The engine charges the byte
// budgets around these calls; the host only does the I/O. Calls of one Run
// come from one goroutine, one at a time; different Runs call concurrently.
type Host interface {
	// Read returns size bytes at offset (size 0: to the end). A missing
	// key is status.ErrNotFound (errors.Is).
	Read(ctx context.Context, key string, offset, size uint64) ([]byte, error)
	Write(ctx context.Context, key string, data []byte) error
	// Remove fails with status.ErrNotFound when the key is missing.
	Remove(ctx context.Context, key string) error
	// Lookup fails with status.ErrNotFound when the key is missing.
	Lookup(ctx context.Context, key string) (Info, error)
	// ReadRange returns up to limit records whose IDs (hex) lie in
	// [start, end]; "" is an open end.
	ReadRange(ctx context.Context, start, end string, limit int) ([]Record, error)
}

// Info describes a stored object.
type Info struct {
	Size      uint64
	Timestamp time.Time
	UserFlags uint64
	Checksum  string // hex
}

// Record is one object of a range read.
type Record struct {
	ID   string // hex
	Data []byte
}
