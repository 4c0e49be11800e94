package recovery

import (
	"context"
	"errors"
	"fmt"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// merge walks the backend's records in ID order and moves each one its
// group's ring gives to another backend.
func (m *Manager) merge(ctx context.Context, j *Job) error {
	j.mu.Lock()
	spec := j.st.Spec
	j.mu.Unlock()
	loc, err := m.host.Local(spec.Backend)
	if err != nil {
		return fmt.Errorf("backend %d: %w", spec.Backend, err)
	}
	defer loc.Release()
	self := m.host.Self()
	here := backendName(self, loc.ID)
	return m.passes(ctx, j, func(ctx context.Context, cur Cursor) error {
		opts := backend.IterateOptions{}
		if cur.Any {
			// The cursor's record may have been cut short: do it again
			// (every step is idempotent).
			opts.Start = cur.Last
		}
		return m.mergeFrom(ctx, j, loc, here, spec.DryRun, opts)
	})
}

// mergeFrom is one pass of a merge, from opts.Start.
func (m *Manager) mergeFrom(ctx context.Context, j *Job, loc Local, here string, dry bool, opts backend.IterateOptions) error {
	self := m.host.Self()
	return loc.Store.Iterate(ctx, opts, func(rec backend.Record) error {
		if err := j.gate(ctx); err != nil {
			return err
		}
		owner, ok := m.host.Table().Owner(rec.ID, loc.Group)
		if ok && (owner.Addr != self || owner.ID != loc.ID) {
			if dry {
				j.planned(here, owner.Name(), rec.Size)
			} else if err := m.moveOne(ctx, j, loc, rec); err != nil {
				switch {
				case ctx.Err() != nil:
					return ctx.Err()
				case errors.Is(err, status.ErrCorrupt):
					// Left here, never sent: the owner fills the key from
					// another group's intact copy (dc).
					j.progress(func(st *Status) {
						st.Corrupt++
						st.LastError = fmt.Sprintf("move %s/%q to %s: %v", rec.ID.Short(), rec.Column, owner.Name(), err)
					})
				default:
					j.recordError(fmt.Errorf("move %s/%q to %s: %w", rec.ID.Short(), rec.Column, owner.Name(), err))
				}
			}
		}
		j.progress(func(st *Status) {
			st.Scanned++
			st.Cursor = Cursor{Last: rec.ID, Any: true}
		})
		return nil
	})
}

// moveOne copies a record to its owner, checks the owner has it (as new
// or newer) and removes it here unless it changed meanwhile.
func (m *Manager) moveOne(ctx context.Context, j *Job, loc Local, rec backend.Record) error {
	if err := m.wait(ctx, j, rec.Size); err != nil {
		return err
	}
	meta, err := m.host.Copy(ctx, loc.Store, rec.Key, loc.Group)
	if errors.Is(err, status.ErrNotFound) && meta.Timestamp.IsZero() {
		// Copy found nothing to send (zero meta): removed or expired here
		// since the scan saw it.
		return nil
	}
	kept := errors.Is(err, status.ErrMismatch)
	if err != nil && !kept {
		return fmt.Errorf("copy: %w", err)
	}
	if _, _, tomb := backend.ParseTombstone(rec.Column); !tomb {
		// (A tombstone's copy is applied, not stored as sent: nothing to
		// look up.)
		got, err := m.host.Lookup(ctx, rec.Key, loc.Group)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if got.Timestamp.Before(meta.Timestamp) {
			return status.Errorf(status.Mismatch, "verify: the owner holds an older copy (%s) than the one sent (%s)",
				got.Timestamp, meta.Timestamp)
		}
	}
	// A write that reached this backend after the read (by a node whose
	// table was behind) is not lost: only the copy sent is removed.
	err = m.host.WithKey(ctx, rec.ID, func() error {
		now, err := loc.Store.Lookup(ctx, rec.Key, backend.LookupOptions{})
		if err != nil || !now.Timestamp.Equal(meta.Timestamp) || now.Size != meta.Size {
			return nil
		}
		err = loc.Store.Remove(ctx, rec.ID, backend.RemoveOptions{Column: rec.Column, OnlyColumn: true})
		if errors.Is(err, status.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("remove after copy: %w", err)
	}
	j.progress(func(st *Status) {
		if kept {
			st.Kept++
		} else {
			st.Moved++
			st.Bytes += meta.Size
		}
	})
	return nil
}

// wait takes one record of size bytes from the node's and the job's rate
// limits.
func (m *Manager) wait(ctx context.Context, j *Job, size uint64) error {
	if err := m.limiter.wait(ctx, size); err != nil {
		return err
	}
	return j.limiter.wait(ctx, size)
}
