package script

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// The heap guard. go.starlark.net cannot bound allocation, and a step hook
// is a poor fit: one step may allocate up to 1 GiB, a doubling loop needs
// only ~5 steps per doubling, and reading the heap costs ~0.4 µs, so a
// hook fine-grained enough to catch doubling would slow every script. A
// single sampler goroutine instead reads the heap about every
// millisecond while calls run (and sleeps when none do), and cancels the
// calls whose budget the growth exceeds. Scripts pay nothing per step.

const (
	sampleEvery = time.Millisecond
	// gcEvery spaces the confirming collections: a process whose garbage
	// alone crosses a budget must not be collected every millisecond.
	gcEvery = 20 * time.Millisecond
)

const heapMetric = "/memory/classes/heap/objects:bytes"

// heapBytes reads the bytes of heap objects, live and not yet collected.
func heapBytes() int64 {
	s := [1]metrics.Sample{{Name: heapMetric}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// watch is one call under the guard.
type watch struct {
	base  int64 // heap when the call began
	limit int64
	over  func(grown int64) // cancels the call; called at most once
	fired bool
}

type memGuard struct {
	mu      sync.Mutex
	watches map[*watch]struct{}
	wake    chan struct{}
	lastGC  time.Time // the last confirming collection, and the heap after it
	afterGC int64
	started bool
}

var guard = &memGuard{watches: map[*watch]struct{}{}, wake: make(chan struct{}, 1)}

// add puts a call under the guard; the returned func takes it off.
func (g *memGuard) add(w *watch) func() {
	g.mu.Lock()
	g.watches[w] = struct{}{}
	if !g.started {
		g.started = true
		go g.loop()
	}
	first := len(g.watches) == 1
	g.mu.Unlock()
	if first {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
	return func() {
		g.mu.Lock()
		delete(g.watches, w)
		g.mu.Unlock()
	}
}

func (g *memGuard) loop() {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		g.mu.Lock()
		idle := len(g.watches) == 0
		g.mu.Unlock()
		if idle {
			t.Stop()
			<-g.wake
			t.Reset(sampleEvery)
		}
		<-t.C
		g.check()
	}
}

// check cancels the calls over budget. Growth is first confirmed by a
// collection, since the heap figure counts garbage too (the call's own and
// every other request's).
func (g *memGuard) check() {
	heap := heapBytes()
	over := g.overBudget(heap)
	if len(over) == 0 {
		return
	}
	// Confirm at most every gcEvery, unless the heap grew by half a
	// budget since the last confirmation: a doubling loop must not get
	// 20 ms of free growth after a confirmation that found it just under.
	minLimit := over[0].limit
	for _, w := range over[1:] {
		minLimit = min(minLimit, w.limit)
	}
	if time.Since(g.lastGC) < gcEvery && heap-g.afterGC < minLimit/2 {
		return
	}
	runtime.GC()
	g.lastGC = time.Now()
	heap = heapBytes()
	g.afterGC = heap
	for _, w := range g.overBudget(heap) {
		g.mu.Lock()
		_, live := g.watches[w]
		fire := live && !w.fired
		w.fired = true
		g.mu.Unlock()
		if fire {
			w.over(heap - w.base)
		}
	}
}

func (g *memGuard) overBudget(heap int64) []*watch {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*watch
	for w := range g.watches {
		if !w.fired && heap-w.base > w.limit {
			out = append(out, w)
		}
	}
	return out
}
