package script

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// The heap guard. go.starlark.net cannot bound allocation, and a step hook
// is a poor fit: one step may allocate up to 1 GiB, a doubling loop needs
// only ~5 steps per doubling, and reading the heap costs ~0.4 µs, so a
// hook fine-grained enough to catch doubling would slow every script. A
// single sampler goroutine instead reads the heap about every
// millisecond while calls run (and sleeps when none do), and cancels the
// calls whose budget the growth exceeds. Scripts pay nothing per step.
//
// Two figures are compared with their values at the call's start:
//   - the live heap as of the last collection: growth there is proven
//     live, and in a growing script the runtime collects often, so it
//     fires without further ado;
//   - the heap objects, live or garbage: growth there may be garbage,
//     so it is confirmed by a forced collection first. Forcing one waits
//     for a stop of the world, which waits for an in-flight copy of the
//     script (one step may copy a GiB), so this is the slow path.

const (
	sampleEvery = time.Millisecond
	// gcEvery spaces the confirming collections: a process whose garbage
	// alone crosses a budget must not be collected every millisecond.
	gcEvery = 20 * time.Millisecond
)

// heapFigures reads the heap objects (live and not yet collected) and the
// live heap as of the last collection.
func heapFigures() (objects, live int64) {
	s := [2]metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s[:])
	if s[0].Value.Kind() == metrics.KindUint64 {
		objects = int64(s[0].Value.Uint64())
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		live = int64(s[1].Value.Uint64())
	}
	return objects, live
}

// watch is one call under the guard.
type watch struct {
	base, baseLive int64 // heapFigures when the call began
	limit          int64
	over           func(grown int64) // cancels the call
	fired          bool
}

func newWatch(limit int64, over func(grown int64)) *watch {
	w := &watch{limit: limit, over: over}
	w.base, w.baseLive = heapFigures()
	return w
}

type memGuard struct {
	mu      sync.Mutex
	watches map[*watch]struct{}
	wake    chan struct{}
	started bool

	lastGC  time.Time // the last confirming collection, and the heap after it
	afterGC int64
}

var guard = &memGuard{watches: map[*watch]struct{}{}, wake: make(chan struct{}, 1)}

// add puts a call under the guard; the returned func takes it off and may
// be called more than once.
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

// check cancels the calls over budget.
func (g *memGuard) check() {
	heap, live := heapFigures()
	proven, maybe := g.overBudget(heap, live)
	for _, f := range proven {
		f()
	}
	if len(maybe) == 0 {
		return
	}
	// Confirm at most every gcEvery, unless the heap grew by half a
	// budget since the last confirmation: a doubling loop must not get
	// 20 ms of free growth after a confirmation that found it just under.
	minLimit := maybe[0].limit
	for _, w := range maybe[1:] {
		minLimit = min(minLimit, w.limit)
	}
	if time.Since(g.lastGC) < gcEvery && heap-g.afterGC < minLimit/2 {
		return
	}
	runtime.GC()
	g.lastGC = time.Now()
	heap, live = heapFigures()
	g.afterGC = heap
	proven, _ = g.overBudget(heap, live)
	for _, f := range proven {
		f()
	}
}

// overBudget returns the cancellations of the calls whose live growth is
// over budget (marking them fired), and the calls only the heap objects
// figure puts over.
func (g *memGuard) overBudget(heap, live int64) (proven []func(), maybe []*watch) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for w := range g.watches {
		switch {
		case w.fired:
		case live-w.baseLive > w.limit:
			w.fired = true
			over, grown := w.over, live-w.baseLive
			proven = append(proven, func() { over(grown) })
		case heap-w.base > w.limit:
			maybe = append(maybe, w)
		}
	}
	return proven, maybe
}

// releaseHeap collects and returns freed memory to the OS after a call was
// stopped for memory. What the call built is garbage now, but the
// collection that caught it sized the next GC goal to it: left alone it
// would inflate the heap figure the next calls start from, and each call
// stopped late would let the next one grow further. Concurrent callers
// share one release.
func releaseHeap() {
	seen := releases.Load()
	releaseMu.Lock()
	defer releaseMu.Unlock()
	if releases.Load() != seen {
		return // another call released while this one waited
	}
	debug.FreeOSMemory()
	releases.Add(1)
}

var (
	releaseMu sync.Mutex
	releases  atomic.Uint64
)
