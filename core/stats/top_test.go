package stats

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
)

func key(i int) id.ID { return id.Transform([]byte(fmt.Sprintf("key-%d", i))) }

func hexKey(i int) string {
	k := key(i)
	return hex.EncodeToString(k[:])
}

func TestTopExactUnderCapacity(t *testing.T) {
	top := NewTop(TopConfig{Length: 3})
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		key, n int
		bytes  uint64
	}{
		{1, 5, 10},   // frequent, small
		{2, 1, 5000}, // rare, big
		{3, 3, 100},
		{4, 2, 1},
	} {
		for range tc.n {
			top.Record(key(tc.key), tc.bytes, now)
		}
	}
	s := top.Snapshot(now)
	require.Equal(t, 3, s.Length)
	require.Equal(t, []TopKey{
		{Key: hexKey(1), Requests: 5, Bytes: 50},
		{Key: hexKey(3), Requests: 3, Bytes: 300},
		{Key: hexKey(4), Requests: 2, Bytes: 2},
	}, s.Requests)
	require.Equal(t, []TopKey{
		{Key: hexKey(2), Requests: 1, Bytes: 5000},
		{Key: hexKey(3), Requests: 3, Bytes: 300},
		{Key: hexKey(1), Requests: 5, Bytes: 50},
	}, s.Bytes)
}

func TestTopHeavyHittersAmongMany(t *testing.T) {
	top := NewTop(TopConfig{Length: 5})
	now := time.Unix(1000, 0)
	// 50,000 keys seen once each, interleaved with five hot keys.
	for i := range 50000 {
		top.Record(key(1_000_000+i), 1, now)
		if i%50 == 0 {
			for h := range 5 {
				top.Record(key(h), 1, now)
			}
		}
	}
	s := top.Snapshot(now)
	got := map[string]bool{}
	for _, k := range s.Requests {
		got[k.Key] = true
		require.GreaterOrEqual(t, k.Requests, uint64(1000), "estimates never undercount")
	}
	for h := range 5 {
		require.True(t, got[hexKey(h)], "hot key %d missing from %v", h, s.Requests)
	}
	for i := range top.shards {
		for k := range 2 {
			require.LessOrEqual(t, len(top.shards[i].cur[k].entries), top.shards[i].cur[k].cap, "memory is bounded")
		}
	}
}

func TestTopWindow(t *testing.T) {
	top := NewTop(TopConfig{Length: 10, Period: time.Minute})
	t0 := time.Unix(960, 0) // windows start at multiples of the period
	top.Record(key(1), 1, t0)
	top.Record(key(2), 1, t0.Add(70*time.Second)) // a new window; key 1 is in the previous one
	s := top.Snapshot(t0.Add(80 * time.Second))
	require.Len(t, s.Requests, 2, "the previous window still counts")
	s = top.Snapshot(t0.Add(135 * time.Second)) // key 1's window is two periods old
	require.Len(t, s.Requests, 1)
	require.Equal(t, hexKey(2), s.Requests[0].Key)
	s = top.Snapshot(t0.Add(time.Hour))
	require.Empty(t, s.Requests, "an idle tracker forgets")
	require.NotNil(t, s.Requests, "an empty list is [] in JSON, not null")
}

func TestTopNil(t *testing.T) {
	var top *Top
	top.Record(key(1), 1, time.Now()) // a node without a tracker records nothing
}

func BenchmarkTopRecord(b *testing.B) {
	top := NewTop(TopConfig{})
	keys := make([]id.ID, 4096)
	for i := range keys {
		keys[i] = key(i)
	}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			top.Record(keys[i%len(keys)], 4096, now)
			i++
		}
	})
}

// Keys that share their leading bytes (a node's ring range, raw IDs) still
// spread over the shards and stay apart.
func TestTopSimilarKeys(t *testing.T) {
	top := NewTop(TopConfig{Length: 10})
	now := time.Unix(1000, 0)
	var keys []id.ID
	for i := range 100 {
		var k id.ID
		k[0], k[1] = 0x40, 0x41 // the same range
		k[10] = byte(i)         // raw IDs padded with zeros
		keys = append(keys, k)
		for range i % 7 {
			top.Record(k, 1, now)
		}
	}
	used := 0
	for i := range top.shards {
		if len(top.shards[i].cur[byRequests].entries) > 0 {
			used++
		}
	}
	require.Greater(t, used, topShards/2, "keys spread over the shards")
	s := top.Snapshot(now)
	require.Len(t, s.Requests, 10)
	for _, k := range s.Requests {
		require.Equal(t, uint64(6), k.Requests, "the keys seen 6 times lead, each counted apart")
	}
}
