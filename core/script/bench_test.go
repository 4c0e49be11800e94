package script

import (
	"context"
	"testing"

	"go.starlark.net/starlark"
)

func benchRun(b *testing.B, src string) {
	e := New(Options{})
	p, err := e.Program("bench", 1, []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	call := Call{Function: "f", Key: "k", HasKey: true, Data: []byte("d"), Host: newMemHost()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Run(context.Background(), p, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunEmpty is the fixed cost of a call: thread, environment,
// top level, heap guard registration, result.
func BenchmarkRunEmpty(b *testing.B) { benchRun(b, "def f():\n    return None\n") }

// BenchmarkRunLoop is 10,000 iterations (~60,000 steps): the per-step cost.
func BenchmarkRunLoop(b *testing.B) {
	benchRun(b, "def f():\n    t = 0\n    for i in range(10000):\n        t += i\n    return t\n")
}

// benchRaw runs the same source on a bare starlark.Thread, the baseline
// the engine's overhead is measured against.
func benchRaw(b *testing.B, src string) {
	p, err := Compile("bench", 1, []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		th := &starlark.Thread{}
		g, err := p.prog.Init(th, starlark.StringDict{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := starlark.Call(th, g["f"], nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawEmpty(b *testing.B) { benchRaw(b, "def f():\n    return None\n") }
func BenchmarkRawLoop(b *testing.B) {
	benchRaw(b, "def f():\n    t = 0\n    for i in range(10000):\n        t += i\n    return t\n")
}
