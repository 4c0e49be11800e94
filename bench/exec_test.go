package bench_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/elliptics/elliptics/bench"
	"github.com/elliptics/elliptics/core/client"
)

// BenchmarkExecVsRead is the scripting issue's figure: calls per second of
// an empty script function on a node against plain 1 KiB reads of the same
// node, 32 goroutines on one client, in one run (the original reported
// about 19,000 empty exec events per second per node):
//
//	go test -run '^$' -bench ExecVsRead ./bench/
//
// "read-value" is a function that reads its key's value on the node and
// returns it: what a script next to the data costs over a plain read.
func BenchmarkExecVsRead(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	n, group, err := bench.Connect(ctx, f.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	s := client.NewSession(n)
	s.SetGroups(group)
	if _, err := s.PutScript(ctx, "bench", []byte("def empty():\n    return None\n\ndef value(key, data):\n    return read(key)\n")); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, op func(s *client.Session, k client.Key) error) {
		parallel(b, func() (bench.OpFunc, func()) {
			ss := client.NewSession(n)
			ss.SetGroups(group)
			rng := rand.New(rand.NewPCG(seeds.Add(1), 7))
			return func() error { return op(ss, f.keys[rng.IntN(len(f.keys))]) }, func() {}
		})
	}
	b.Run("read", func(b *testing.B) {
		run(b, func(s *client.Session, k client.Key) error { _, err := s.Read(ctx, k, 0, 0); return err })
	})
	b.Run("exec-empty", func(b *testing.B) {
		run(b, func(s *client.Session, k client.Key) error {
			_, err := s.Exec(ctx, k, "bench@empty", nil, client.ExecOptions{})
			return err
		})
	})
	b.Run("exec-read-value", func(b *testing.B) {
		run(b, func(s *client.Session, k client.Key) error {
			r, err := s.Exec(ctx, k, "bench@value", nil, client.ExecOptions{})
			if err == nil && len(r.Data) != valueSize {
				b.Errorf("script read %d bytes, want %d", len(r.Data), valueSize)
			}
			return err
		})
	})
}
