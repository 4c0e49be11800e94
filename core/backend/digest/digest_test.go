package digest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
)

func TestBucketRange(t *testing.T) {
	for _, b := range []int{0, 1, 255, 256, Buckets - 1} {
		start, end := Range(b)
		require.Equal(t, b, Bucket(start))
		require.Equal(t, b, Bucket(end))
		if b > 0 {
			prevStart, prevEnd := Range(b - 1)
			require.True(t, prevStart.Less(start))
			require.Equal(t, start, prevEnd.Next(), "bucket %d follows %d without a gap", b, b-1)
		}
	}
	_, last := Range(Buckets - 1)
	require.Equal(t, id.Max, last)
}

func TestSumsFollowDeltas(t *testing.T) {
	a := id.Transform([]byte("a"))
	b := id.Transform([]byte("b"))
	tb := NewTable()
	ha1, ha2, hb := Of(a, "", 1, 10), Of(a, "", 2, 10), Of(b, "col", 1, 3)
	tb.Add(a, ha1)
	tb.Add(b, hb)
	tb.Replace(a, ha1, ha2)
	// The same records counted afresh give the same sums.
	want, err := Compute(0, Buckets-1, func(add func(id.ID, uint64)) error {
		add(a, ha2)
		add(b, hb)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, want, tb.Sums(0, Buckets-1))
	tb.Sub(b, hb)
	require.Zero(t, tb.Sums(Bucket(b), Bucket(b))[0]-func() uint64 {
		if Bucket(a) == Bucket(b) {
			return ha2
		}
		return 0
	}())
}

func TestOfDistinguishes(t *testing.T) {
	a := id.Transform([]byte("a"))
	base := Of(a, "", 5, 7)
	require.NotEqual(t, base, Of(a, "", 6, 7), "timestamp")
	require.NotEqual(t, base, Of(a, "", 5, 8), "size")
	require.NotEqual(t, base, Of(a, "x", 5, 7), "column")
	require.NotEqual(t, base, Of(id.Transform([]byte("b")), "", 5, 7), "id")
}

func TestDuplicateDoesNotCancel(t *testing.T) {
	a := id.Transform([]byte("a"))
	tb := NewTable()
	h := Of(a, "", 1, 1)
	tb.Add(a, h)
	tb.Add(a, h)
	require.NotZero(t, tb.Sums(Bucket(a), Bucket(a))[0])
}
