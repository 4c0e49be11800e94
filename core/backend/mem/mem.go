// Package mem is the in-memory backend: everything is lost when the process
// exits. It serves tests, caches and benchmarks of the rest of the stack.
package mem

import (
	"context"
	"crypto/sha512"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

const shards = 64

// MaxValueSize bounds one column, so a write at a huge offset is refused
// instead of allocating the gap.
const MaxValueSize = 1 << 30

type column struct {
	data []byte
	meta backend.Meta
}

type shard struct {
	mu      sync.RWMutex
	objects map[id.ID]map[string]*column
}

// Backend is an in-memory backend.Backend.
type Backend struct {
	shards  [shards]shard
	records atomic.Int64
	bytes   atomic.Int64
	closed  atomic.Bool
}

var _ backend.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New() *Backend {
	b := &Backend{}
	for i := range b.shards {
		b.shards[i].objects = make(map[id.ID]map[string]*column)
	}
	return b
}

func (b *Backend) shard(k id.ID) *shard { return &b.shards[k[0]%shards] }

func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return status.Errorf(status.ShuttingDown, "mem backend closed")
	}
	return ctx.Err()
}

// Write implements backend.Backend.
func (b *Backend) Write(ctx context.Context, req *backend.WriteRequest) (backend.Meta, error) {
	if err := b.check(ctx); err != nil {
		return backend.Meta{}, err
	}
	ts := req.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	s := b.shard(req.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkSize(s.objects[req.ID][req.Column], req); err != nil {
		return backend.Meta{}, err
	}
	obj := s.objects[req.ID]
	if obj == nil {
		obj = make(map[string]*column, 1)
		s.objects[req.ID] = obj
	}
	old := obj[req.Column]
	var data []byte
	switch {
	case old == nil && (req.Append || req.Offset == 0):
		data = append([]byte(nil), req.Data...)
	case old == nil:
		data = make([]byte, req.Offset+uint64(len(req.Data)))
		copy(data[req.Offset:], req.Data)
	case req.Append:
		data = append(append(make([]byte, 0, len(old.data)+len(req.Data)), old.data...), req.Data...)
	case req.Offset == 0:
		data = append([]byte(nil), req.Data...)
	default:
		end := req.Offset + uint64(len(req.Data))
		data = make([]byte, max(end, uint64(len(old.data))))
		copy(data, old.data)
		copy(data[req.Offset:], req.Data)
	}
	if old == nil {
		b.records.Add(1)
	} else {
		b.bytes.Add(-int64(len(old.data)))
	}
	b.bytes.Add(int64(len(data)))
	meta := backend.Meta{Size: uint64(len(data)), Timestamp: ts, UserFlags: req.UserFlags}
	obj[req.Column] = &column{data: data, meta: meta}
	return meta, nil
}

func checkSize(old *column, req *backend.WriteRequest) error {
	var end uint64
	switch {
	case req.Append && old != nil:
		end = uint64(len(old.data)) + uint64(len(req.Data))
	case req.Append:
		end = uint64(len(req.Data))
	default:
		end = req.Offset + uint64(len(req.Data))
		if end < req.Offset {
			return status.Errorf(status.Invalid, "offset %d + %d bytes overflows", req.Offset, len(req.Data))
		}
	}
	if end > MaxValueSize {
		return status.Errorf(status.TooLarge, "value of %d bytes over the in-memory limit of %d", end, MaxValueSize)
	}
	return nil
}

func (b *Backend) get(k backend.Key) (*column, error) {
	s := b.shard(k.ID)
	s.mu.RLock()
	c := s.objects[k.ID][k.Column]
	s.mu.RUnlock()
	if c == nil {
		return nil, status.Errorf(status.NotFound, "key %s column %q", k.ID.Short(), k.Column)
	}
	return c, nil
}

// Read implements backend.Backend. Columns are replaced, never mutated in
// place, so the returned slice stays valid after later writes.
func (b *Backend) Read(ctx context.Context, k backend.Key, offset, size uint64) ([]byte, backend.Meta, error) {
	if err := b.check(ctx); err != nil {
		return nil, backend.Meta{}, err
	}
	c, err := b.get(k)
	if err != nil {
		return nil, backend.Meta{}, err
	}
	total := uint64(len(c.data))
	if offset > total {
		return nil, c.meta, status.Errorf(status.Invalid, "offset %d past the end (%d bytes)", offset, total)
	}
	end := total
	if size != 0 && offset+size < end && offset+size > offset {
		end = offset + size
	}
	return c.data[offset:end:end], c.meta, nil
}

// Lookup implements backend.Backend.
func (b *Backend) Lookup(ctx context.Context, k backend.Key, opts backend.LookupOptions) (backend.Info, error) {
	if err := b.check(ctx); err != nil {
		return backend.Info{}, err
	}
	c, err := b.get(k)
	if err != nil {
		return backend.Info{}, err
	}
	info := backend.Info{Meta: c.meta, Path: "mem"}
	if opts.Checksum {
		info.Checksum = sha512.Sum512(c.data)
	}
	return info, nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, oid id.ID, opts backend.RemoveOptions) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	s := b.shard(oid)
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.objects[oid]
	if obj == nil {
		return status.Errorf(status.NotFound, "key %s", oid.Short())
	}
	drop := func(name string, c *column) {
		b.records.Add(-1)
		b.bytes.Add(-int64(len(c.data)))
		delete(obj, name)
	}
	if opts.OnlyColumn {
		c := obj[opts.Column]
		if c == nil {
			return status.Errorf(status.NotFound, "key %s column %q", oid.Short(), opts.Column)
		}
		drop(opts.Column, c)
	} else {
		for name, c := range obj {
			drop(name, c)
		}
	}
	if len(obj) == 0 {
		delete(s.objects, oid)
	}
	return nil
}

// Iterate implements backend.Backend. It snapshots the matching records
// first, so fn may call back into the backend.
func (b *Backend) Iterate(ctx context.Context, opts backend.IterateOptions, fn func(backend.Record) error) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	end := opts.End
	if end.IsZero() {
		end = id.Max
	}
	var recs []backend.Record
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		for oid, obj := range s.objects {
			if oid.Less(opts.Start) || end.Less(oid) {
				continue
			}
			for name, c := range obj {
				recs = append(recs, backend.Record{Key: backend.Key{ID: oid, Column: name}, Meta: c.meta})
			}
		}
		s.mu.RUnlock()
	}
	sort.Slice(recs, func(i, j int) bool {
		if c := recs[i].ID.Compare(recs[j].ID); c != 0 {
			return c < 0
		}
		return recs[i].Column < recs[j].Column
	})
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Stats implements backend.Backend.
func (b *Backend) Stats() backend.Stats {
	return backend.Stats{Records: uint64(b.records.Load()), Bytes: uint64(b.bytes.Load())}
}

// Close implements backend.Backend. Data is dropped.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		s.objects = make(map[id.ID]map[string]*column)
		s.mu.Unlock()
	}
	return nil
}
