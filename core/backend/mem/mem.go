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
	data    []byte
	meta    backend.Meta
	pending bool // an uncommitted upload: invisible until committed
	// reserved is the size a pending upload prepared; data grows towards
	// it as chunks arrive (a gap reads as zeros), so a prepare allocates
	// nothing and a chunk copies only itself.
	reserved uint64
}

// visible reports whether reads, lookups and iterations see c at now.
func (c *column) visible(now time.Time) bool {
	return !c.pending && !backend.Expired(c.meta.Expire, now)
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
	obj := s.objects[req.ID]
	old := obj[req.Column]
	var prev backend.Previous
	if old != nil && !backend.Expired(old.meta.Expire, time.Now()) {
		prev = backend.Previous{Exists: true, Pending: old.pending, Data: old.data, Expire: old.meta.Expire}
	}
	if req.Phased() {
		return b.writePhased(s, req, ts, old, prev)
	}
	out, err := backend.Compose(prev, req, MaxValueSize)
	if err != nil {
		return backend.Meta{}, err
	}
	data := out.Data
	if len(data) > 0 && len(req.Data) > 0 && &data[0] == &req.Data[0] {
		data = append([]byte(nil), data...) // the caller owns req.Data
	}
	if obj == nil {
		obj = make(map[string]*column, 1)
		s.objects[req.ID] = obj
	}
	if old == nil {
		b.records.Add(1)
	} else {
		b.bytes.Add(-int64(len(old.data)))
	}
	b.bytes.Add(int64(len(data)))
	meta := backend.Meta{Size: uint64(len(data)), Timestamp: ts, UserFlags: req.UserFlags, Expire: out.Expire}
	obj[req.Column] = &column{data: data, meta: meta, pending: out.Pending}
	return meta, nil
}

func (b *Backend) get(k backend.Key) (*column, error) {
	s := b.shard(k.ID)
	s.mu.RLock()
	c := s.objects[k.ID][k.Column]
	s.mu.RUnlock()
	if c == nil || !c.visible(time.Now()) {
		if c != nil && !c.pending {
			b.dropExpired(s, k, c)
		}
		return nil, status.Errorf(status.NotFound, "key %s column %q", k.ID.Short(), k.Column)
	}
	return c, nil
}

// dropExpired frees an expired column met by a read, so a cache of values
// with a lifetime does not keep them all: mem has no defragmentation.
func (b *Backend) dropExpired(s *shard, k backend.Key, c *column) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.objects[k.ID]
	if obj[k.Column] != c { // rewritten or removed meanwhile
		return
	}
	b.records.Add(-1)
	b.bytes.Add(-int64(len(c.data)))
	delete(obj, k.Column)
	if len(obj) == 0 {
		delete(s.objects, k.ID)
	}
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

// Columns implements backend.ColumnLister.
func (b *Backend) Columns(ctx context.Context, oid id.ID) ([]string, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	s := b.shard(oid)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for name := range s.objects[oid] {
		out = append(out, name)
	}
	return out, nil
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
	now := time.Now()
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		for oid, obj := range s.objects {
			if oid.Less(opts.Start) || end.Less(oid) {
				continue
			}
			for name, c := range obj {
				if !c.visible(now) {
					continue
				}
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

// writePhased is Write for a step of a chunked upload: the chunk is copied
// into the column's buffer in place. The caller holds the shard's lock.
func (b *Backend) writePhased(s *shard, req *backend.WriteRequest, ts time.Time, old *column, prev backend.Previous) (backend.Meta, error) {
	var reserved uint64
	if old != nil {
		reserved = old.reserved
	}
	u, err := backend.PlanUpload(prev, reserved, req, MaxValueSize)
	if err != nil {
		return backend.Meta{}, err
	}
	c := old
	if req.Prepare {
		c = &column{pending: true, reserved: u.Reserve}
		obj := s.objects[req.ID]
		if obj == nil {
			obj = make(map[string]*column, 1)
			s.objects[req.ID] = obj
		}
		if old == nil {
			b.records.Add(1)
		} else {
			b.bytes.Add(-int64(len(old.data)))
		}
		obj[req.Column] = c
	}
	if u.End > uint64(len(c.data)) {
		grow := u.End - uint64(len(c.data))
		if u.End > uint64(cap(c.data)) {
			// Amortized: at least double, at most the reservation.
			nc := min(max(u.End, 2*uint64(cap(c.data))), c.reserved)
			nd := make([]byte, len(c.data), nc)
			copy(nd, c.data)
			c.data = nd
		}
		c.data = c.data[:u.End] // bytes past len were never written: zeros
		b.bytes.Add(int64(grow))
	}
	copy(c.data[req.Offset:], req.Data)
	c.meta = backend.Meta{Size: c.reserved, Timestamp: ts, UserFlags: req.UserFlags, Expire: u.Expire}
	if u.Commit {
		b.bytes.Add(int64(u.Size) - int64(len(c.data)))
		if u.Size > uint64(len(c.data)) {
			if u.Size > uint64(cap(c.data)) {
				nd := make([]byte, u.Size)
				copy(nd, c.data)
				c.data = nd
			}
		}
		c.data = c.data[:u.Size:u.Size]
		c.meta.Size = u.Size
		c.pending, c.reserved = false, 0
	}
	return c.meta, nil
}
