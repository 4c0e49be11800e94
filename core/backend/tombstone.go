package backend

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Tombstones: a remove leaves behind, for a while, a record saying when
// the object (or one column) was removed, so that an older copy arriving
// later — from recovery, read repair, a replica that missed the remove —
// does not bring it back: writes conditioned on the timestamp
// (Condition.NotOlder) lose against a tombstone as new or newer. A
// tombstone is an empty record in a reserved column of the object, whose
// name starts with a NUL byte, which clients cannot use; it expires after
// the node's tombstone lifetime like any record with a TTL.

// TombstonePrefix starts every reserved column name.
const TombstonePrefix = "\x00rm"

// TombstoneColumn names the tombstone of a column, or of the whole object.
func TombstoneColumn(column string, whole bool) string {
	if whole {
		return TombstonePrefix
	}
	return TombstonePrefix + ":" + column
}

// ParseTombstone tells a tombstone column from a user column: ok is false
// for a user column; whole is true for the tombstone of a whole object.
func ParseTombstone(column string) (user string, whole, ok bool) {
	if column == TombstonePrefix {
		return "", true, true
	}
	if rest, found := strings.CutPrefix(column, TombstonePrefix+":"); found {
		return rest, false, true
	}
	return "", false, false
}

// Reserved reports whether a column name is reserved for the node.
func Reserved(column string) bool { return strings.HasPrefix(column, "\x00") }

// ColumnLister is implemented by backends that can name the columns of
// one object without a scan (Iterate over a single ID may walk the whole
// index of a backend that is not ordered by ID).
type ColumnLister interface {
	// Columns names the columns of the object that may exist; callers
	// look each up.
	Columns(ctx context.Context, oid id.ID) ([]string, error)
}

// Columns returns the live columns of an object, user and reserved.
func Columns(ctx context.Context, b Backend, oid id.ID) ([]Record, error) {
	var out []Record
	if cl, ok := As[ColumnLister](b); ok {
		names, err := cl.Columns(ctx, oid)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			info, err := b.Lookup(ctx, Key{ID: oid, Column: n}, LookupOptions{})
			if errors.Is(err, status.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, Record{Key: Key{ID: oid, Column: n}, Meta: info.Meta})
		}
		return out, nil
	}
	err := b.Iterate(ctx, IterateOptions{Start: oid, End: oid}, func(r Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// RemovedAt returns when the column k was last removed, as the
// tombstones of the column and of its object say (zero: no tombstone).
func RemovedAt(ctx context.Context, b Backend, k Key) (time.Time, error) {
	var at time.Time
	for _, col := range []string{TombstoneColumn(k.Column, false), TombstoneColumn("", true)} {
		info, err := b.Lookup(ctx, Key{ID: k.ID, Column: col}, LookupOptions{})
		switch {
		case errors.Is(err, status.ErrNotFound):
		case err != nil:
			return at, err
		case info.Timestamp.After(at):
			at = info.Timestamp
		}
	}
	return at, nil
}

// ApplyTombstone removes what a remove at ts removed (the column, or every
// user column of the object) where it is not newer than ts, and records
// the tombstone until expire, unless one as new is there. Callers run it
// in the key's order, like a write.
func ApplyTombstone(ctx context.Context, b Backend, oid id.ID, column string, whole bool, ts, expire time.Time) error {
	var cols []string
	if whole {
		recs, err := Columns(ctx, b, oid)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !Reserved(r.Column) && !r.Timestamp.After(ts) {
				cols = append(cols, r.Column)
			}
		}
	} else if info, err := b.Lookup(ctx, Key{ID: oid, Column: column}, LookupOptions{}); err == nil && !info.Timestamp.After(ts) {
		cols = append(cols, column)
	} else if err != nil && !errors.Is(err, status.ErrNotFound) {
		return err
	}
	for _, c := range cols {
		if err := b.Remove(ctx, oid, RemoveOptions{Column: c, OnlyColumn: true}); err != nil && !errors.Is(err, status.ErrNotFound) {
			return err
		}
	}
	return WriteTombstone(ctx, b, oid, column, whole, ts, expire)
}

// WriteTombstone records a remove at ts until expire, unless a tombstone
// as new is there already.
func WriteTombstone(ctx context.Context, b Backend, oid id.ID, column string, whole bool, ts, expire time.Time) error {
	tk := Key{ID: oid, Column: TombstoneColumn(column, whole)}
	if info, err := b.Lookup(ctx, tk, LookupOptions{}); err == nil && !info.Timestamp.Before(ts) {
		return nil
	}
	_, err := b.Write(ctx, &WriteRequest{Key: tk, Timestamp: ts, Expire: expire})
	return err
}
