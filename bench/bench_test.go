package bench

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

func TestHistogramBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64() >> r.IntN(64)
		i := histIndex(v)
		require.Less(t, i, histBuckets)
		if i == histBuckets-1 {
			continue
		}
		lo, w := histLow(i), histWidth(i)
		require.LessOrEqual(t, lo, v, "v=%d i=%d", v, i)
		require.Less(t, v, lo+w, "v=%d i=%d", v, i)
		if v >= histSub {
			require.LessOrEqual(t, float64(w)/float64(v), 1.0/histSub+1e-12)
		}
	}
	for i := range histBuckets - 1 {
		require.Equal(t, histLow(i)+histWidth(i), histLow(i+1), "bucket %d", i)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var a, b Histogram
	for i := 1; i <= 100000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.Record(time.Duration(i) * time.Microsecond)
	}
	a.Merge(&b)
	require.EqualValues(t, 100000, a.Count())
	require.Equal(t, time.Microsecond, a.Min())
	require.Equal(t, 100*time.Millisecond, a.Max())
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * float64(100*time.Millisecond)
		require.InEpsilon(t, want, float64(a.Quantile(q)), 0.02, "q=%v", q)
	}
	require.InEpsilon(t, float64(50*time.Millisecond), float64(a.Mean()), 0.001)
	var empty Histogram
	require.Zero(t, empty.Quantile(0.5))
}

func TestRawRoundTrip(t *testing.T) {
	srv, err := StartRawServer(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	c, err := DialRaw(srv.Addr(), 1104, 163)
	require.NoError(t, err)
	defer c.Close()
	for range 100 {
		require.NoError(t, c.Do())
	}
}

func TestSizes(t *testing.T) {
	s := Sizes(1024, "127.0.0.1:40000")
	require.Equal(t, FrameSizes{WriteRequest: 80 + 1024, WriteReply: 80 + 64 + 2 + 15 + 2, ReadRequest: 80, ReadReply: 80 + 1024}, s)
}

// TestWorkloads runs every kind of workload briefly against an in-process
// node.
func TestWorkloads(t *testing.T) {
	ctx := context.Background()
	srv, addr, err := StartInProc(ctx)
	require.NoError(t, err)
	defer srv.Shutdown(ctx)
	raw, err := StartRawServer(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	defer raw.Close()

	keys := Keys(200)
	value := RandomValue(1024, 7)
	require.NoError(t, Preload(ctx, addr, keys, value, 8))
	sizes := Sizes(len(value), addr)

	counters := func() Counters { return ProcessCounters(0) }
	ws := []Workload{
		RawWorkload("raw/write/4", raw.Addr(), 4, sizes.WriteRequest, sizes.WriteReply),
		RawWorkload("raw/read/4", raw.Addr(), 4, sizes.ReadRequest, sizes.ReadReply),
		ClientWorkload("elliptics/write/4/shared", addr, OpWrite, 4, true, keys, value),
		ClientWorkload("elliptics/read/4/shared", addr, OpRead, 4, true, keys, value),
		ClientWorkload("elliptics/write/4/per-client", addr, OpWrite, 4, false, keys, value),
		ClientWorkload("elliptics/read/1", addr, OpRead, 1, false, keys, value),
	}
	var rows []Row
	for _, w := range ws {
		w.Warmup, w.Duration, w.Counters = 10*time.Millisecond, 100*time.Millisecond, counters
		res, err := Run(ctx, w)
		require.NoError(t, err, w.Name)
		require.Zero(t, res.Errors, "%s: %v", w.Name, res.FirstErr)
		require.NotZero(t, res.Ops, w.Name)
		require.Positive(t, res.OpsPerSec, w.Name)
		require.LessOrEqual(t, res.P50(), res.P99(), w.Name)
		rows = append(rows, Row{Side: w.Name, Op: OpWrite, Clients: w.Clients, Conns: w.Clients, Result: res})
	}
	table := Table(rows)
	require.Contains(t, table, "| ops/s |")
	t.Log("\n" + table)

	// A read of a missing key is counted as an error, not fatal.
	missing := []client.Key{client.NewKey("kvbench-missing")}
	w := ClientWorkload("elliptics/read/missing", addr, OpRead, 1, false, missing, value)
	w.Duration = 20 * time.Millisecond
	res, err := Run(ctx, w)
	require.NoError(t, err)
	require.NotZero(t, res.Errors)
	require.ErrorIs(t, res.FirstErr, status.ErrNotFound)
}

func TestProcessCPU(t *testing.T) {
	d, ok := ProcessCPU(0)
	if !ok {
		t.Skip("no /proc")
	}
	require.GreaterOrEqual(t, d, time.Duration(0))
	c := ProcessCounters(0)
	require.NotZero(t, c.ReadCalls+c.WriteCalls+c.CtxSwitches)
}

// TestRounds interleaves two workloads in rounds and checks that each
// accumulates its rounds.
func TestRounds(t *testing.T) {
	ctx := context.Background()
	raw, err := StartRawServer(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	defer raw.Close()
	var rs []*Running
	for _, c := range []int{1, 3} {
		r, err := Start(ctx, RawWorkload("raw", raw.Addr(), c, 100, 100))
		require.NoError(t, err)
		defer r.Close()
		rs = append(rs, r)
	}
	for range 3 {
		for _, r := range rs {
			require.NoError(t, r.Round(ctx, 5*time.Millisecond, 20*time.Millisecond))
		}
	}
	for _, r := range rs {
		res := r.Result()
		require.NotZero(t, res.Ops)
		require.Zero(t, res.Errors)
		require.GreaterOrEqual(t, res.Elapsed, 60*time.Millisecond)
		require.Less(t, res.Elapsed, 2*time.Second)
	}
	// Closing twice, or without any round, is harmless.
	r, err := Start(ctx, RawWorkload("raw", raw.Addr(), 2, 1, 1))
	require.NoError(t, err)
	r.Close()
	r.Close()
}
