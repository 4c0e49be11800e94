package route

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/elliptics/elliptics/core/id"
	"github.com/stretchr/testify/require"
)

// The size the issue targets: 1,000 nodes, each with one backend in each of
// 3 groups, DefaultPoints points per backend (48,000 points).
const (
	bigNodes  = 1000
	bigGroups = 3
)

func bigTable(tb testing.TB) (*Table, []Backend) {
	rng := rand.New(rand.NewPCG(42, 42))
	bs := randomBackends(rng, bigNodes, bigGroups, DefaultPoints, false)
	tab, err := New(bs)
	require.NoError(tb, err)
	return tab, bs
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTableMemory measures the heap a table of bigNodes × bigGroups takes
// (the target: under 10 MB of routes per node).
func TestTableMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement")
	}
	rng := rand.New(rand.NewPCG(42, 42))
	bs := randomBackends(rng, bigNodes, bigGroups, DefaultPoints, false)
	before := heapInUse()
	tab, err := New(bs)
	require.NoError(t, err)
	after := heapInUse()
	runtime.KeepAlive(bs)
	size := int64(after) - int64(before)
	raw := tab.NumPoints() * id.Size
	t.Logf("%d nodes × %d groups × %d points (%d points): table %.2f MB on the heap (%.1f bytes/point; the points alone are %.2f MB), encoded %.2f MB",
		bigNodes, bigGroups, DefaultPoints, tab.NumPoints(), float64(size)/(1<<20), float64(size)/float64(tab.NumPoints()),
		float64(raw)/(1<<20), float64(len(tab.AppendBinary(nil)))/(1<<20))
	require.Less(t, size, int64(10<<20), "route table over 10 MB")

	// A WithBackends update shares the untouched backends' points.
	before = heapInUse()
	t2, err := tab.WithBackends("10.0.0.1:1025", []Backend{{Group: 1, Points: []id.ID{randomID(rng, false)}}})
	require.NoError(t, err)
	after = heapInUse()
	t.Logf("a second table after one node's update: %.2f MB more", float64(int64(after)-int64(before))/(1<<20))
	runtime.KeepAlive(tab)
	runtime.KeepAlive(t2)
}

func BenchmarkOwner(b *testing.B) {
	tab, _ := bigTable(b)
	rng := rand.New(rand.NewPCG(1, 1))
	keys := make([]id.ID, 4096)
	for i := range keys {
		keys[i] = randomID(rng, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := tab.Owner(keys[i&4095], uint32(1+i%bigGroups)); !ok {
			b.Fatal("no owner")
		}
	}
}

func BenchmarkNew(b *testing.B) {
	_, bs := bigTable(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(bs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWithBackends is the cost of one node announcing a change in a
// 1,000-node cluster.
func BenchmarkWithBackends(b *testing.B) {
	tab, _ := bigTable(b)
	rng := rand.New(rand.NewPCG(2, 2))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		addr := fmt.Sprintf("10.0.%d.%d:1025", (i%bigNodes)>>8, (i%bigNodes)&0xff)
		bs := []Backend{{Group: 1, Points: []id.ID{randomID(rng, false)}}}
		if _, err := tab.WithBackends(addr, bs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRanges(b *testing.B) {
	tab, _ := bigTable(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = tab.Ranges("10.0.1.0:1025")
	}
}

func BenchmarkShare(b *testing.B) {
	tab, _ := bigTable(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = tab.Share("10.0.1.0:1025", 0, 1)
	}
}

func BenchmarkDecodeTable(b *testing.B) {
	tab, _ := bigTable(b)
	enc := tab.AppendBinary(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTable(enc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
