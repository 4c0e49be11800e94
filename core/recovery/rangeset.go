package recovery

import (
	"slices"

	"github.com/elliptics/elliptics/core/id"
)

// Sets of ID ranges (both ends inclusive), kept sorted and merged: what a
// backend owns, what it has filled, and what it gained in between.

// Normalize sorts rs and merges overlapping and adjacent ranges.
func Normalize(rs []IDRange) []IDRange {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b IDRange) int { return a.Start.Compare(b.Start) })
	n := 0
	for _, r := range out {
		if r.End.Less(r.Start) {
			continue
		}
		if n > 0 && (out[n-1].End == id.Max || r.Start == id.Zero || !out[n-1].End.Less(r.Start.Prev())) {
			if out[n-1].End.Less(r.End) {
				out[n-1].End = r.End
			}
			continue
		}
		out[n] = r
		n++
	}
	return out[:n]
}

// Union returns the ranges in a or b.
func Union(a, b []IDRange) []IDRange { return Normalize(append(slices.Clone(a), b...)) }

// Intersect returns the ranges in both a and b (both normalized).
func Intersect(a, b []IDRange) []IDRange {
	var out []IDRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := a[i].Start, a[i].End
		if lo.Less(b[j].Start) {
			lo = b[j].Start
		}
		if b[j].End.Less(hi) {
			hi = b[j].End
		}
		if !hi.Less(lo) {
			out = append(out, IDRange{Start: lo, End: hi})
		}
		if a[i].End.Less(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return out
}

// Subtract returns the ranges of a not in b (both normalized).
func Subtract(a, b []IDRange) []IDRange {
	var out []IDRange
	j := 0
	for _, r := range a {
		cur := r
		for j < len(b) && b[j].End.Less(cur.Start) {
			j++
		}
		k := j
		whole := true
		for ; k < len(b) && !cur.End.Less(b[k].Start); k++ {
			if cur.Start.Less(b[k].Start) {
				out = append(out, IDRange{Start: cur.Start, End: b[k].Start.Prev()})
			}
			if !b[k].End.Less(cur.End) || b[k].End == id.Max {
				whole = false
				break
			}
			cur.Start = b[k].End.Next()
		}
		if whole {
			out = append(out, cur)
		}
	}
	return out
}
