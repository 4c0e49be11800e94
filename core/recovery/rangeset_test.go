package recovery

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
)

// The set operations agree with membership of single IDs, tested on a
// tiny ID space: IDs whose last byte alone varies (plus the ends).
func TestRangeSets(t *testing.T) {
	mk := func(v byte) id.ID { var x id.ID; x[id.Size-1] = v; return x }
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() []IDRange {
		var rs []IDRange
		for range rng.IntN(4) {
			a, b := byte(rng.IntN(40)), byte(rng.IntN(40))
			if b < a {
				a, b = b, a
			}
			rs = append(rs, IDRange{Start: mk(a), End: mk(b)})
		}
		return rs
	}
	in := func(rs []IDRange, v byte) bool {
		for _, r := range rs {
			x := mk(v)
			if !x.Less(r.Start) && !r.End.Less(x) {
				return true
			}
		}
		return false
	}
	for range 2000 {
		a, b := Normalize(random()), Normalize(random())
		for _, set := range [][]IDRange{a, b, Union(a, b), Intersect(a, b), Subtract(a, b)} {
			for i := 1; i < len(set); i++ {
				require.True(t, set[i-1].End.Next().Less(set[i].Start), "not normalized: %v", set)
			}
		}
		for v := byte(0); v < 45; v++ {
			require.Equal(t, in(a, v) || in(b, v), in(Union(a, b), v), "union %d", v)
			require.Equal(t, in(a, v) && in(b, v), in(Intersect(a, b), v), "intersect %d", v)
			require.Equal(t, in(a, v) && !in(b, v), in(Subtract(a, b), v), "subtract %d", v)
		}
	}
	whole := []IDRange{{Start: id.Zero, End: id.Max}}
	require.Empty(t, Subtract(whole, whole))
	require.Equal(t, whole, Union(whole, []IDRange{{Start: mk(3), End: mk(9)}}))
	require.Equal(t, []IDRange{{Start: mk(10), End: id.Max}}, Subtract(whole, []IDRange{{Start: id.Zero, End: mk(9)}}))
}
