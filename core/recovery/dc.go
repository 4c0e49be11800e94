package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// dc fills the backend's ranges from the other groups: one pass per source
// group, scanning the range there (metadata only) and having the holder
// send whatever this backend lacks or holds an older version of.
func (m *Manager) dc(ctx context.Context, j *Job) error {
	j.mu.Lock()
	spec, cur, sources := j.st.Spec, j.st.Cursor, j.st.Sources
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
	d := &dcPass{m: m, j: j, loc: loc, here: backendName(self, loc.ID), dry: spec.DryRun}
	for pass, g := range sources {
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
				if err := d.part(ctx, pass, p); err != nil {
					return fmt.Errorf("from group %d (%s): %w", g, p.Owner.Name(), err)
				}
			}
		}
		j.progress(func(st *Status) { st.Cursor = Cursor{Pass: pass + 1} })
	}
	return nil
}

// dcPass is the state of a dc job's scan of one part.
type dcPass struct {
	m     *Manager
	j     *Job
	loc   Local
	here  string
	dry   bool
	batch []backend.Key
	sizes []uint64
}

// part scans one source backend's piece of a range.
func (d *dcPass) part(ctx context.Context, pass int, p route.Part) error {
	flush := func() error {
		if len(d.batch) == 0 {
			return nil
		}
		err := d.send(ctx, p.Owner)
		d.batch, d.sizes = d.batch[:0], d.sizes[:0]
		return err
	}
	err := d.m.host.Scan(ctx, p.Owner, p.Start, p.End, func(rec backend.Record) error {
		if err := d.j.gate(ctx); err != nil {
			return err
		}
		info, err := d.loc.Store.Lookup(ctx, rec.Key, backend.LookupOptions{})
		switch {
		case errors.Is(err, status.ErrNotFound), err == nil && info.Timestamp.Before(rec.Timestamp):
			if d.dry {
				d.j.planned(p.Owner.Name(), d.here, rec.Size)
			} else {
				d.batch = append(d.batch, rec.Key)
				d.sizes = append(d.sizes, rec.Size)
			}
		case err != nil:
			d.j.recordError(fmt.Errorf("lookup %s/%q here: %w", rec.ID.Short(), rec.Column, err))
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
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		d.j.progress(func(st *Status) { st.Cursor = Cursor{Pass: pass, Last: p.End, Any: true} })
	}
	return err
}

// send has the source send the batch here, within the rate limits.
func (d *dcPass) send(ctx context.Context, src route.Backend) error {
	var bytes uint64
	for _, n := range d.sizes {
		if err := d.m.wait(ctx, d.j, n); err != nil {
			return err
		}
		bytes += n
	}
	res, err := d.m.host.Send(ctx, src, slices.Clone(d.batch), d.loc.Group)
	if err != nil {
		return fmt.Errorf("send %d records: %w", len(d.batch), err)
	}
	d.j.progress(func(st *Status) {
		for i, e := range res {
			switch {
			case e == nil:
				st.Moved++
				if i < len(d.sizes) {
					st.Bytes += d.sizes[i]
				}
			case errors.Is(e, status.ErrMismatch):
				st.Kept++
			case errors.Is(e, status.ErrNotFound):
				// Removed or expired at the source since the scan.
			default:
				st.Errors++
				st.LastError = fmt.Sprintf("send %s/%q from %s: %v", d.batch[i].ID.Short(), d.batch[i].Column, src.Name(), e)
			}
		}
	})
	return nil
}
