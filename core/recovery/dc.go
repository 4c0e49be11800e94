package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/digest"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// dc fills the backend's ranges from the other groups: one pass per source
// group, scanning the range there (metadata only), then reading whatever
// this backend lacks or holds an older version of and writing it here,
// never over a newer copy. The backend pulls rather than have the source
// push (SEND), so a source whose route table does not know this backend
// yet (it just restarted with new ring points) cannot misplace the copy.
func (m *Manager) dc(ctx context.Context, j *Job) error {
	j.mu.Lock()
	spec, sources := j.st.Spec, j.st.Sources
	j.mu.Unlock()
	loc, err := m.host.Local(spec.Backend)
	if err != nil {
		return fmt.Errorf("backend %d: %w", spec.Backend, err)
	}
	defer loc.Release()
	self := m.host.Self()
	if len(spec.Ranges) == 0 || len(sources) == 0 {
		// Fixed at the first run, so a resumed job's cursor means the same.
		t := m.host.Table()
		if len(spec.Ranges) == 0 {
			for _, r := range t.Ranges(self) {
				if r.Group == loc.Group && r.Backend == loc.ID {
					spec.Ranges = append(spec.Ranges, IDRange{Start: r.Start, End: r.End})
				}
			}
		}
		for _, g := range t.Groups() {
			if g != loc.Group {
				sources = append(sources, g)
			}
		}
		// The cursor walks the ranges in ID order.
		slices.SortFunc(spec.Ranges, func(a, b IDRange) int { return a.Start.Compare(b.Start) })
		j.progress(func(st *Status) { st.Spec.Ranges, st.Sources = spec.Ranges, sources })
	}
	d := &dcPass{m: m, j: j, loc: loc, here: backendName(self, loc.ID), dry: spec.DryRun, before: spec.Before}
	if spec.Before.IsZero() {
		// Range hashes cover every record, not only the older ones.
		d.digests, _ = backend.As[backend.Digester](loc.Store)
	}
	// With Verify, pass 0 checks the local records; the sources follow.
	first := 0
	if spec.Verify {
		first = 1
		d.corrupt = map[backend.Key]time.Time{}
	}
	return m.passes(ctx, j, func(ctx context.Context, cur Cursor) error {
		if spec.Verify && cur.Pass == 0 {
			if err := d.verify(ctx, spec.Ranges, cur); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			j.progress(func(st *Status) { st.Cursor = Cursor{Pass: 1} })
		}
		for i, g := range sources {
			pass := first + i
			if pass < cur.Pass {
				continue
			}
			for _, r := range spec.Ranges {
				start := r.Start
				if pass == cur.Pass && cur.Any {
					if r.End.Less(cur.Last) {
						continue // done before the restart
					}
					if start.Less(cur.Last) {
						start = cur.Last
					}
				}
				for _, p := range m.host.Table().Split(start, r.End, g) {
					if err := d.part(ctx, pass, p, d.differing(ctx, p)); err != nil {
						return fmt.Errorf("from group %d (%s): %w", g, p.Owner.Name(), err)
					}
				}
			}
			j.progress(func(st *Status) { st.Cursor = Cursor{Pass: pass + 1} })
		}
		return nil
	})
}

// passes runs pass from the job's cursor until it ends cleanly, at most
// maxPasses times, backing off between tries: a pass that failed (a node
// unreachable, the table behind) goes on from its cursor; one that left
// records behind walks again from the start. Then the job fails, naming
// what was left.
func (m *Manager) passes(ctx context.Context, j *Job, pass func(ctx context.Context, cur Cursor) error) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		j.mu.Lock()
		cur, before := j.st.Cursor, j.st.Errors
		j.mu.Unlock()
		err := pass(ctx, cur)
		if err != nil && (ctx.Err() != nil || j.gate(ctx) != nil) {
			return err // stopped, paused then stopped, or closing
		}
		j.mu.Lock()
		failed := j.st.Errors - before
		j.mu.Unlock()
		if err == nil && failed == 0 {
			return nil
		}
		if attempt == maxPasses {
			if err != nil {
				return err
			}
			return fmt.Errorf("%d records failed in the last of %d passes", failed, maxPasses)
		}
		why := zap.Uint64("failed_records", failed)
		if err != nil {
			why = zap.Error(err)
			j.recordError(err)
		}
		m.log.Info("recovery pass did not finish cleanly; again", zap.Uint64("job", j.st.ID), // the id never changes
			why, zap.Duration("in", backoff))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		if err == nil {
			j.progress(func(st *Status) { st.Cursor = Cursor{} })
		}
	}
}

// maxPasses bounds how often a job walks its records again after failures.
const maxPasses = 5

// dcPass is the state of a dc job's scan of one part.
type dcPass struct {
	m      *Manager
	j      *Job
	loc    Local
	here   string
	dry    bool
	before time.Time
	batch  []backend.Record
	// digests are this backend's range hashes (nil: it keeps none, or the
	// job copies only older records).
	digests backend.Digester
	// corrupt holds the local records the verify pass found corrupt, with
	// their timestamps, until an intact copy replaces them.
	corruptMu sync.Mutex
	corrupt   map[backend.Key]time.Time
}

// maxCorrupt bounds the corrupt records one job remembers; more wait for
// the next scrub.
const maxCorrupt = 100000

// verify reads every local record of ranges and checks its data against
// its checksum (backend.LookupOptions.Checksum streams it), within the
// job's rate limits.
func (d *dcPass) verify(ctx context.Context, ranges []IDRange, cur Cursor) error {
	for _, r := range ranges {
		start := r.Start
		if cur.Pass == 0 && cur.Any {
			if r.End.Less(cur.Last) {
				continue
			}
			if start.Less(cur.Last) {
				start = cur.Last
			}
		}
		err := d.loc.Store.Iterate(ctx, backend.IterateOptions{Start: start, End: r.End}, func(rec backend.Record) error {
			if err := d.j.gate(ctx); err != nil {
				return err
			}
			if err := d.m.wait(ctx, d.j, rec.Size); err != nil {
				return err
			}
			_, err := d.loc.Store.Lookup(ctx, rec.Key, backend.LookupOptions{Checksum: true})
			switch {
			case errors.Is(err, status.ErrCorrupt):
				d.m.log.Warn("recovery: a record failed its checksum; it will be replaced by an intact copy from another group",
					zap.Uint64("job", d.j.st.ID), zap.String("key", rec.ID.Short()), zap.String("column", rec.Column), zap.Error(err))
				d.corruptMu.Lock()
				if len(d.corrupt) < maxCorrupt {
					d.corrupt[rec.Key] = rec.Timestamp
				}
				d.corruptMu.Unlock()
				d.j.progress(func(st *Status) {
					st.Corrupt++
					st.LastError = fmt.Sprintf("verify %s/%q here: %v", rec.ID.Short(), rec.Column, err)
				})
			case err != nil && !errors.Is(err, status.ErrNotFound):
				d.j.recordError(fmt.Errorf("verify %s/%q here: %w", rec.ID.Short(), rec.Column, err))
			}
			d.j.progress(func(st *Status) {
				st.Scanned++
				st.Cursor = Cursor{Pass: 0, Last: rec.ID, Any: true}
			})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// isCorrupt reports whether the verify pass found key corrupt here.
func (d *dcPass) isCorrupt(key backend.Key) bool {
	d.corruptMu.Lock()
	defer d.corruptMu.Unlock()
	_, ok := d.corrupt[key]
	return ok
}

// dropCorrupt removes the local copy of key if it is the corrupt one the
// verify pass found (not one written since), so an intact copy of any
// age can take its place. The caller holds the key's order.
func (d *dcPass) dropCorrupt(ctx context.Context, key backend.Key) error {
	d.corruptMu.Lock()
	ts, ok := d.corrupt[key]
	delete(d.corrupt, key)
	d.corruptMu.Unlock()
	if !ok {
		return nil
	}
	info, err := d.loc.Store.Lookup(ctx, key, backend.LookupOptions{})
	if err != nil || !info.Timestamp.Equal(ts) {
		return nil // gone or rewritten meanwhile
	}
	err = d.loc.Store.Remove(ctx, key.ID, backend.RemoveOptions{Column: key.Column, OnlyColumn: true})
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("drop corrupt %s/%q: %w", key.ID.Short(), key.Column, err)
	}
	return nil
}

// maxScanRanges bounds the ranges of one scan (an iterator request).
const maxScanRanges = 1024

// differing narrows part p of a range to what range hashes cannot show to
// be equal here and at p's owner: the buckets whose sums differ, and the
// pieces of buckets p covers only in part (hashes cover whole buckets).
// Without hashes on either side, or with many buckets differing (a
// wiped backend), it is the whole part.
func (d *dcPass) differing(ctx context.Context, p route.Part) []IDRange {
	whole := []IDRange{{Start: p.Start, End: p.End}}
	if d.digests == nil {
		return whole
	}
	first, last := digest.Bucket(p.Start), digest.Bucket(p.End)
	lo, hi := first, last // the buckets p covers whole
	if s, _ := digest.Range(first); s != p.Start {
		lo++
	}
	if _, e := digest.Range(last); e != p.End {
		hi--
	}
	if lo > hi {
		return whole
	}
	here, ok, err := d.digests.Digests(ctx, lo, hi)
	if err != nil || !ok {
		return whole
	}
	there, ok, err := d.m.host.Digests(ctx, p.Owner, lo, hi)
	if err != nil || !ok || len(there) != len(here) {
		return whole
	}
	var out []IDRange
	if lo > first {
		_, e := digest.Range(first)
		out = append(out, IDRange{Start: p.Start, End: e})
	}
	differ := 0
	for i := range here {
		if here[i] != there[i] {
			s, e := digest.Range(lo + i)
			out = append(out, IDRange{Start: s, End: e})
			differ++
		}
	}
	if hi < last {
		s, _ := digest.Range(last)
		out = append(out, IDRange{Start: s, End: p.End})
	}
	if differ > (hi-lo+1)/4 || len(out) > maxScanRanges {
		return whole
	}
	d.j.progress(func(st *Status) { st.Equal += uint64(hi - lo + 1 - differ) })
	// A corrupt record hashes as the intact one: look at it anyway.
	d.corruptMu.Lock()
	for k := range d.corrupt {
		if !k.ID.Less(p.Start) && !p.End.Less(k.ID) {
			out = append(out, IDRange{Start: k.ID, End: k.ID})
		}
	}
	d.corruptMu.Unlock()
	return Normalize(out)
}

// part scans ranges (sorted, inside part p) of one source backend.
func (d *dcPass) part(ctx context.Context, pass int, p route.Part, ranges []IDRange) error {
	flush := func() error {
		if len(d.batch) == 0 {
			return nil
		}
		err := d.fetch(ctx, p.Owner.Group)
		d.batch = d.batch[:0]
		return err
	}
	var err error
	if len(ranges) > 0 {
		err = d.m.host.Scan(ctx, p.Owner, ranges, d.before, d.visit(ctx, pass, p, flush))
	}
	if err == nil {
		err = flush()
	}
	if err == nil {
		d.j.progress(func(st *Status) { st.Cursor = Cursor{Pass: pass, Last: p.End, Any: true} })
	}
	return err
}

// visit handles one record a dc scan found at the source.
func (d *dcPass) visit(ctx context.Context, pass int, p route.Part, flush func() error) func(backend.Record) error {
	return func(rec backend.Record) error {
		if err := d.j.gate(ctx); err != nil {
			return err
		}
		if d.needs(ctx, rec) {
			switch _, _, tomb := backend.ParseTombstone(rec.Column); {
			case d.dry:
				d.j.planned(p.Owner.Name(), d.here, rec.Size)
			case tomb:
				// A remove newer than what is here: apply it.
				err := d.m.host.ApplyTombstone(ctx, d.loc.Store, rec)
				d.done(rec.Key, p.Owner.Group, 0, err)
			default:
				d.batch = append(d.batch, rec)
			}
		}
		if len(d.batch) >= d.m.opts.Batch {
			if err := flush(); err != nil {
				return err
			}
		}
		d.j.progress(func(st *Status) {
			st.Scanned++
			if len(d.batch) == 0 {
				st.Cursor = Cursor{Pass: pass, Last: rec.ID, Any: true}
			}
		})
		return nil
	}
}

// needs reports whether this backend lacks rec or holds an older version.
func (d *dcPass) needs(ctx context.Context, rec backend.Record) bool {
	if d.corrupt != nil && d.isCorrupt(rec.Key) {
		return true
	}
	info, err := d.loc.Store.Lookup(ctx, rec.Key, backend.LookupOptions{})
	switch {
	case errors.Is(err, status.ErrNotFound):
		return true
	case err != nil:
		d.j.recordError(fmt.Errorf("lookup %s/%q here: %w", rec.ID.Short(), rec.Column, err))
		return false
	}
	return info.Timestamp.Before(rec.Timestamp)
}

// fetch reads the batch from group g and writes it here, within the rate
// limits, never over a newer copy.
func (d *dcPass) fetch(ctx context.Context, g uint32) error {
	var keys []backend.Key
	var sizes []uint64
	for _, rec := range d.batch {
		if err := d.m.wait(ctx, d.j, rec.Size); err != nil {
			return err
		}
		if rec.Size > BigObject {
			// Never whole in memory (nor in one frame): in chunks.
			err := d.m.host.WithKey(ctx, rec.ID, func() error { return d.dropCorrupt(ctx, rec.Key) })
			if err == nil {
				err = d.m.host.Pull(ctx, rec.Key, g, rec.Meta, d.loc.Store)
			}
			d.done(rec.Key, g, rec.Size, err)
			continue
		}
		keys = append(keys, rec.Key)
		sizes = append(sizes, rec.Size)
	}
	if len(keys) == 0 {
		return nil
	}
	return d.m.host.Fetch(ctx, keys, g, func(i int, data []byte, meta backend.Meta, err error) {
		if err == nil {
			err = d.store(ctx, keys[i], data, meta)
		}
		d.done(keys[i], g, uint64(len(data)), err)
	})
}

// BigObject is the size above which recovery copies a record in chunks
// (a chunked upload), never whole in memory.
const BigObject = 8 << 20

// done counts one record's copy.
func (d *dcPass) done(key backend.Key, g uint32, size uint64, err error) {
	d.j.progress(func(st *Status) {
		switch {
		case err == nil:
			st.Moved++
			st.Bytes += size
		case errors.Is(err, status.ErrMismatch):
			st.Kept++
		case errors.Is(err, status.ErrCorrupt):
			// Never copied; another group may hold it intact.
			st.Corrupt++
			st.LastError = fmt.Sprintf("copy %s/%q from group %d: %v", key.ID.Short(), key.Column, g, err)
		case errors.Is(err, status.ErrNotFound):
			// Removed or expired at the source since the scan.
		default:
			st.Errors++
			st.LastError = fmt.Sprintf("copy %s/%q from group %d: %v", key.ID.Short(), key.Column, g, err)
		}
	})
}

// store writes a fetched record here unless a copy as new or newer is
// already here (status.ErrMismatch).
func (d *dcPass) store(ctx context.Context, key backend.Key, data []byte, meta backend.Meta) error {
	return d.m.host.WithKey(ctx, key.ID, func() error {
		if err := d.dropCorrupt(ctx, key); err != nil {
			return err
		}
		cond := backend.Condition{NotOlder: true, Timestamp: meta.Timestamp}
		if err := cond.Check(ctx, d.loc.Store, key); err != nil {
			return err
		}
		_, err := d.loc.Store.Write(ctx, &backend.WriteRequest{Key: key, Data: data, Timestamp: meta.Timestamp,
			UserFlags: meta.UserFlags, Expire: meta.Expire})
		return err
	})
}
