package bench_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/elliptics/elliptics/bench"
	"github.com/elliptics/elliptics/core/client"
)

// The go test versions of kvbench: 1 KiB writes and reads through the Go
// client against an in-process node with a mem backend, 32 goroutines
// (b.RunParallel), next to the raw loopback loop of the same frame sizes.
//
//	go test -run '^$' -bench . ./bench/
//
// Sub-benchmarks: shared-node (every goroutine on one client.Node, one
// pipelined connection), node-per-goroutine (a Node and connection each) and
// raw (the raw loopback baseline, a connection each).

const (
	benchClients = 32
	benchKeys    = 10000
	valueSize    = 1024
)

type fixture struct {
	addr    string
	rawAddr string
	keys    []client.Key
	value   []byte
	sizes   bench.FrameSizes
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
	seeds   atomic.Uint64
)

// setup starts one in-process node and one raw server for the whole test
// binary and preloads the keys; they live until the process exits.
func setup(b *testing.B) *fixture {
	b.Helper()
	fixOnce.Do(func() {
		ctx := context.Background()
		_, fix.addr, fixErr = bench.StartInProc(ctx)
		if fixErr != nil {
			return
		}
		var raw *bench.RawServer
		if raw, fixErr = bench.StartRawServer(ctx, "127.0.0.1:0"); fixErr != nil {
			return
		}
		fix.rawAddr = raw.Addr()
		fix.keys = bench.Keys(benchKeys)
		fix.value = bench.RandomValue(valueSize, 42)
		fix.sizes = bench.Sizes(valueSize, fix.addr)
		fixErr = bench.Preload(ctx, fix.addr, fix.keys, fix.value, benchClients)
	})
	if fixErr != nil {
		b.Fatal(fixErr)
	}
	return &fix
}

// parallel runs newOp's ops from benchClients goroutines.
func parallel(b *testing.B, newOp func() (bench.OpFunc, func())) {
	b.SetBytes(valueSize)
	b.SetParallelism((benchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		op, cleanup := newOp()
		defer cleanup()
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchOp(b *testing.B, op bench.Op) {
	f := setup(b)
	ctx := context.Background()
	b.Run("shared-node", func(b *testing.B) {
		n, group, err := bench.Connect(ctx, f.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		parallel(b, func() (bench.OpFunc, func()) {
			s := client.NewSession(n)
			s.SetGroups(group)
			return bench.NewClientOp(s, op, f.keys, f.value, seeds.Add(1)), func() {}
		})
	})
	b.Run("node-per-goroutine", func(b *testing.B) {
		parallel(b, func() (bench.OpFunc, func()) {
			n, group, err := bench.Connect(ctx, f.addr)
			if err != nil {
				b.Error(err)
				return func() error { return err }, func() {}
			}
			s := client.NewSession(n)
			s.SetGroups(group)
			return bench.NewClientOp(s, op, f.keys, f.value, seeds.Add(1)), func() { n.Close() }
		})
	})
	b.Run("raw", func(b *testing.B) {
		req, reply := f.sizes.WriteRequest, f.sizes.WriteReply
		if op == bench.OpRead {
			req, reply = f.sizes.ReadRequest, f.sizes.ReadReply
		}
		parallel(b, func() (bench.OpFunc, func()) {
			c, err := bench.DialRaw(f.rawAddr, req, reply)
			if err != nil {
				b.Error(err)
				return func() error { return err }, func() {}
			}
			return c.Do, func() { c.Close() }
		})
	})
}

// BenchmarkWrite1K writes 1 KiB values under random keys of a 10,000-key set.
func BenchmarkWrite1K(b *testing.B) { benchOp(b, bench.OpWrite) }

// BenchmarkRead1K reads 1 KiB values of random preloaded keys.
func BenchmarkRead1K(b *testing.B) { benchOp(b, bench.OpRead) }
