package server

import (
	"context"
	"encoding/binary"
	"math"
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

// estimateRecords is the share of records records whose IDs fall in
// ranges, were IDs spread evenly over the ID space (they are hashes).
func estimateRecords(records uint64, ranges []recovery.IDRange) uint64 {
	var share float64
	for _, r := range ranges {
		lo := binary.BigEndian.Uint64(r.Start[:8])
		hi := binary.BigEndian.Uint64(r.End[:8])
		share += (float64(hi-lo) + 1) / (1 << 64)
	}
	return uint64(math.Round(min(share, 1) * float64(records)))
}
