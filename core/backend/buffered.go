package backend

import "context"

// BufferedReader is a backend that reads into buffers of the caller's: a
// reader serving many large values (the node's built-in HTTP API) reuses
// them instead of allocating and zeroing one per read.
type BufferedReader interface {
	// ReadBuffered is Read with the data placed in alloc(n), a buffer of
	// length n the backend asks for (at most once) when it knows what it
	// reads; the data returned is a part of it. The backend may allocate
	// its own instead (a compressed record), so the caller must use the
	// data returned, not the buffer it handed out. The checks are Read's:
	// stored bytes that fail their checksum are status.ErrCorrupt, never
	// data.
	ReadBuffered(ctx context.Context, key Key, offset, size uint64, alloc func(n int) []byte) ([]byte, Meta, error)
}
