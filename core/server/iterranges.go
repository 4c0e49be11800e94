package server

import (
	"context"
	"sort"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
)

// iterateRanges visits the records of st in any of ranges (sorted,
// disjoint, both ends inclusive) in ID order, in one pass over the hull of
// the ranges: a backend that reads every record header per iteration (blob)
// pays once, not once per range.
func iterateRanges(ctx context.Context, st backend.Backend, ranges []recovery.IDRange, fn func(backend.Record) error) error {
	switch len(ranges) {
	case 0:
		return nil
	case 1:
		return st.Iterate(ctx, backend.IterateOptions{Start: ranges[0].Start, End: ranges[0].End}, fn)
	}
	hull := backend.IterateOptions{Start: ranges[0].Start, End: ranges[len(ranges)-1].End}
	return st.Iterate(ctx, hull, func(rec backend.Record) error {
		// The first range ending at or after the record holds it, if any.
		i := sort.Search(len(ranges), func(i int) bool { return !ranges[i].End.Less(rec.ID) })
		if i == len(ranges) || rec.ID.Less(ranges[i].Start) {
			return nil
		}
		return fn(rec)
	})
}

// normalizeRanges sorts and merges iterator ranges for iterateRanges.
func normalizeRanges(rs []proto.IteratorRange) []recovery.IDRange {
	out := make([]recovery.IDRange, len(rs))
	for i, r := range rs {
		out[i] = recovery.IDRange{Start: r.Start, End: r.End}
	}
	return recovery.Normalize(out)
}
