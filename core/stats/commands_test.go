package stats

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBucketOf(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{-time.Second, 0},
		{500 * time.Nanosecond, 0}, // under 1 µs
		{time.Microsecond, 1},      // [1 µs, 2 µs)
		{1999 * time.Nanosecond, 1},
		{2 * time.Microsecond, 2},
		{3 * time.Microsecond, 2},
		{4 * time.Microsecond, 3},
		{time.Millisecond, 10}, // 1000 µs: [512 µs, 1024 µs)
		{time.Hour, NumBuckets - 1},
	} {
		require.Equal(t, tc.want, bucketOf(tc.d), "latency %s", tc.d)
		if b := bucketOf(tc.d); b < NumBuckets-1 && tc.d > 0 {
			require.Less(t, tc.d, BucketBound(b), "latency %s is under its bucket's bound", tc.d)
		}
	}
	require.Equal(t, time.Duration(0), BucketBound(NumBuckets-1), "the last bucket has no bound")
	require.Equal(t, time.Microsecond<<24, BucketBound(NumBuckets-2))
}

func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buckets map[int]uint64
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one bucket", map[int]uint64{3: 10}, 0.5, 8 * time.Microsecond},
		{"median in the low bucket", map[int]uint64{1: 60, 10: 40}, 0.5, 2 * time.Microsecond},
		{"p99 in the high bucket", map[int]uint64{1: 60, 10: 40}, 0.99, 1024 * time.Microsecond},
		{"overflow bucket reports its lower bound", map[int]uint64{NumBuckets - 1: 1}, 0.99, BucketBound(NumBuckets - 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f CommandFigures
			for i, n := range tc.buckets {
				f.Buckets[i] = n
			}
			require.Equal(t, tc.want, f.Quantile(tc.q))
		})
	}
}

func TestCommandsRecord(t *testing.T) {
	var c Commands
	require.Empty(t, c.Snapshot())
	type rec struct {
		cmd    uint32
		src    Source
		d      time.Duration
		bytes  uint64
		failed bool
	}
	for _, r := range []rec{
		{4, Storage, 3 * time.Microsecond, 100, false},
		{4, Storage, 5 * time.Microsecond, 50, true},
		{4, Proxy, time.Millisecond, 10, false},
		{5, Storage, 0, 0, false},
		{1000, Storage, 0, 0, false}, // beyond MaxCmd: the last slot
		{5, Source(9), 0, 0, false},  // an unknown source counts as storage
	} {
		c.Record(r.cmd, r.src, r.d, r.bytes, r.failed)
	}
	snap := c.Snapshot()
	require.Len(t, snap, 3)
	require.Equal(t, []uint32{4, 5, MaxCmd - 1}, []uint32{snap[0].Cmd, snap[1].Cmd, snap[2].Cmd})

	w := snap[0]
	require.Equal(t, uint64(2), w.Storage.Count)
	require.Equal(t, uint64(1), w.Storage.Errors)
	require.Equal(t, uint64(150), w.Storage.Bytes)
	require.Equal(t, uint64(8), w.Storage.TimeUS)
	require.Equal(t, uint64(1), w.Storage.Buckets[2])
	require.Equal(t, uint64(1), w.Storage.Buckets[3])
	require.Equal(t, uint64(1), w.Proxy.Count)
	require.Equal(t, uint64(1024), w.Proxy.P99US)
	require.Same(t, w.Proxy, w.Figures(Proxy))
	require.Equal(t, uint64(2), snap[1].Storage.Count)
	require.Nil(t, snap[1].Proxy, "a source without requests is left out")
}

func TestCommandsConcurrent(t *testing.T) {
	var c Commands
	const workers, per = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				c.Record(uint32(i%3), Source(w%2), time.Duration(i)*time.Microsecond, 1, i%10 == 0)
			}
		})
	}
	wg.Wait()
	var total, errs, inBuckets uint64
	for _, cs := range c.Snapshot() {
		for _, f := range []*CommandFigures{cs.Storage, cs.Proxy} {
			total += f.Count
			errs += f.Errors
			for _, n := range f.Buckets {
				inBuckets += n
			}
		}
	}
	require.Equal(t, uint64(workers*per), total)
	require.Equal(t, uint64(workers*per/10), errs)
	require.Equal(t, total, inBuckets, "every request lands in one bucket")
}

// BenchmarkRecord is the cost a request pays for its statistics; it must
// stay well under a microsecond (it is a handful of atomic adds).
func BenchmarkRecord(b *testing.B) {
	var c Commands
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Record(4, Storage, time.Duration(i)*time.Microsecond, 4096, false)
			i++
		}
	})
}
