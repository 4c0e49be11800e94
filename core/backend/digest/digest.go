// Package digest keeps a backend's range hashes: the ID space cut into
// Buckets equal slices by the first bytes of the ID, and for each slice the
// sum of a hash of every record in it (ID, column, timestamp, size).
//
// Sums are order-independent and updated by deltas (add the new record's
// hash, subtract the one it replaces), so a backend keeps them on its write
// path at the cost of two atomic adds, and two replicas of a range hold the
// same records exactly when their sums agree (up to 64-bit collisions).
// Anti-entropy (package recovery) compares sums between groups and scans
// only the slices that differ, instead of every record of every range.
//
// A sum rather than an XOR, so a record held twice (two backends of one
// group during a move) does not cancel out.
package digest

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/id"
)

// Bits is how many leading bits of an ID pick its bucket.
const Bits = 16

// Buckets is the number of buckets of the ID space.
const Buckets = 1 << Bits

// Bucket returns the bucket of an ID.
func Bucket(oid id.ID) int { return int(oid[0])<<8 | int(oid[1]) }

// Range returns the first and last ID of bucket b.
func Range(b int) (start, end id.ID) {
	start[0], start[1] = byte(b>>8), byte(b)
	end = id.Max
	end[0], end[1] = byte(b>>8), byte(b)
	return start, end
}

// Of is the hash of one record. Records being uploaded (not committed)
// count as absent: callers pass 0 for them.
func Of(oid id.ID, column string, timestampNano int64, size uint64) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write(oid[:])
	var b [17]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(timestampNano))
	binary.LittleEndian.PutUint64(b[8:], size)
	b[16] = byte(len(column))
	_, _ = d.Write(b[:])
	_, _ = d.WriteString(column)
	h := d.Sum64()
	if h == 0 {
		h = 1 // 0 means "no record"
	}
	return h
}

// Table is the bucket sums of one backend. Its methods are safe for
// concurrent use.
type Table struct {
	sums  []uint64
	ready atomic.Bool
}

// NewTable returns a table of zero sums, not ready.
func NewTable() *Table { return &Table{sums: make([]uint64, Buckets)} }

// Add counts a record of hash h (0: nothing).
func (t *Table) Add(oid id.ID, h uint64) {
	if h != 0 {
		atomic.AddUint64(&t.sums[Bucket(oid)], h)
	}
}

// Sub uncounts a record of hash h (0: nothing).
func (t *Table) Sub(oid id.ID, h uint64) {
	if h != 0 {
		atomic.AddUint64(&t.sums[Bucket(oid)], -h)
	}
}

// Replace moves a bucket's sum from the record old to new (either 0).
func (t *Table) Replace(oid id.ID, old, new uint64) {
	if old != new {
		atomic.AddUint64(&t.sums[Bucket(oid)], new-old)
	}
}

// Reset zeroes every sum and marks the table not ready: a rebuild adds the
// records present at this instant, and the deltas that follow keep it
// current.
func (t *Table) Reset() {
	t.ready.Store(false)
	for i := range t.sums {
		atomic.StoreUint64(&t.sums[i], 0)
	}
}

// SetReady marks the sums complete.
func (t *Table) SetReady() { t.ready.Store(true) }

// Ready reports whether the sums are complete.
func (t *Table) Ready() bool { return t.ready.Load() }

// Sums returns the sums of buckets first..last (inclusive).
func (t *Table) Sums(first, last int) []uint64 {
	first, last = max(first, 0), min(last, Buckets-1)
	if first > last {
		return nil
	}
	out := make([]uint64, last-first+1)
	for i := range out {
		out[i] = atomic.LoadUint64(&t.sums[first+i])
	}
	return out
}

// Compute returns the sums of buckets first..last for the records visit
// yields: backends that keep no table (they hold their records in memory)
// compute sums on demand.
func Compute(first, last int, visit func(add func(oid id.ID, h uint64)) error) ([]uint64, error) {
	first, last = max(first, 0), min(last, Buckets-1)
	if first > last {
		return nil, nil
	}
	out := make([]uint64, last-first+1)
	err := visit(func(oid id.ID, h uint64) {
		if b := Bucket(oid); b >= first && b <= last {
			out[b-first] += h
		}
	})
	return out, err
}
