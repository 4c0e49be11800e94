package main

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

func TestCodesMatch(t *testing.T) {
	// The ABI promises the wire's numbers: every status code maps to the
	// ELL_E* code of the same value.
	for _, c := range status.Codes() {
		require.Equal(t, int32(c), int32(codeOf(c)), c.String())
	}
	require.Equal(t, int32(status.IOError), int32(codeOf(status.Code(-9999))))
}

func TestRegistry(t *testing.T) {
	r := newRegistry()
	a, b := r.add(1), r.add("two")
	require.NotZero(t, a)
	require.NotEqual(t, a, b)
	_, ok := getAs[string](r, a)
	require.False(t, ok, "typed lookup")
	v, ok := getAs[int](r, a)
	require.True(t, ok)
	require.Equal(t, 1, v)
	_, ok = removeAs[string](r, a)
	require.False(t, ok, "a wrong-type free leaves the handle alone")
	_, ok = removeAs[int](r, a)
	require.True(t, ok)
	_, ok = removeAs[int](r, a)
	require.False(t, ok, "double free")
	_, ok = getAs[int](r, a)
	require.False(t, ok, "use after free")
	_, ok = getAs[int](r, 0)
	require.False(t, ok)
	require.Greater(t, r.add(3), b, "handles are never reused")
}

func TestRegistryConcurrentFree(t *testing.T) {
	r := newRegistry()
	var wins atomic.Int32
	for i := 0; i < 200; i++ {
		h := r.add(&struct{}{})
		var wg sync.WaitGroup
		for j := 0; j < 4; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, ok := removeAs[*struct{}](r, h); ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	require.Equal(t, int32(200), wins.Load(), "exactly one free per handle wins")
}

// counter stands in for the C allocator: entries are Go pointers here.
type counter struct{ freed atomic.Int32 }

func (c *counter) free(unsafe.Pointer) { c.freed.Add(1) }

func entryPtr() unsafe.Pointer { return unsafe.Pointer(new(int)) }

func TestOpNextAndWait(t *testing.T) {
	var c counter
	o := newOp(c.free, nil)
	require.Equal(t, waitTimeout, o.wait(0))
	_, res := o.next(0, 10)
	require.Equal(t, waitTimeout, res)

	go func() {
		for i := 0; i < 3; i++ {
			time.Sleep(time.Millisecond)
			o.add(entryPtr())
		}
		o.finish(-2, "not found")
	}()
	for i := 0; i < 3; i++ {
		p, res := o.next(i, -1)
		require.Equal(t, waitOK, res)
		require.NotNil(t, p)
	}
	_, res = o.next(3, -1)
	require.Equal(t, waitEnd, res)
	require.Equal(t, waitOK, o.wait(-1))
	done, code, msg := o.status()
	require.True(t, done)
	require.Equal(t, int32(-2), code)
	require.Equal(t, "not found", msg)
	require.Equal(t, 3, o.count())
	require.Nil(t, o.entry(3))
	el := o.elapsed()
	time.Sleep(2 * time.Millisecond)
	require.Equal(t, el, o.elapsed(), "elapsed stops at completion")
	require.False(t, o.finish(0, ""), "finishes once")

	o.release()
	require.Equal(t, int32(3), c.freed.Load())
	o.release()
	require.Equal(t, int32(3), c.freed.Load(), "released once")
}

func TestOpReleaseBeforeCompletion(t *testing.T) {
	var c counter
	o := newOp(c.free, nil)
	o.add(entryPtr())
	woke := make(chan waitResult)
	go func() { woke <- o.wait(-1) }()
	time.Sleep(5 * time.Millisecond)
	o.release()
	require.Equal(t, waitReleased, <-woke, "a waiter wakes when the handle is freed")
	require.Zero(t, c.freed.Load(), "the operation goes on: nothing freed yet")
	require.False(t, o.add(entryPtr()))
	require.Equal(t, int32(1), c.freed.Load(), "a late entry is freed at once")
	require.False(t, o.finish(0, ""), "the completion is dropped")
	require.Equal(t, int32(2), c.freed.Load(), "everything freed at completion")
}

func TestOpConcurrent(t *testing.T) {
	var c counter
	o := newOp(c.free, nil)
	const n = 500
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); o.add(entryPtr()) }()
	}
	readers := make(chan int, 4)
	for r := 0; r < 4; r++ {
		go func() {
			i := 0
			for {
				if _, res := o.next(i, -1); res != waitOK {
					readers <- i
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	o.finish(0, "")
	for r := 0; r < 4; r++ {
		require.Equal(t, n, <-readers)
	}
	o.release()
	require.Equal(t, int32(n), c.freed.Load())
}

func readable(t *testing.T, fd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	require.NoError(t, err)
	return n == 1
}

func TestQueue(t *testing.T) {
	q, err := newQueue()
	require.NoError(t, err)
	_, res := q.pop(0)
	require.Equal(t, waitTimeout, res)
	_, res = q.pop(5)
	require.Equal(t, waitTimeout, res)
	require.False(t, readable(t, q.fd))

	require.True(t, q.push(posted{tag: 1, handle: 10}))
	require.True(t, q.push(posted{tag: 2, handle: 20}))
	require.True(t, readable(t, q.fd))
	p, res := q.pop(0)
	require.Equal(t, waitOK, res)
	require.Equal(t, posted{1, 10}, p, "oldest first")
	require.True(t, readable(t, q.fd), "readable while not empty")
	p, _ = q.pop(0)
	require.Equal(t, posted{2, 20}, p)
	require.False(t, readable(t, q.fd), "drained when empty")

	got := make(chan posted)
	go func() { p, _ := q.pop(-1); got <- p }()
	time.Sleep(5 * time.Millisecond)
	q.push(posted{tag: 3, handle: 30})
	require.Equal(t, posted{3, 30}, <-got)

	woke := make(chan waitResult)
	go func() { _, r := q.pop(-1); woke <- r }()
	time.Sleep(5 * time.Millisecond)
	q.close()
	require.Equal(t, waitReleased, <-woke)
	require.False(t, q.push(posted{tag: 4}), "dropped after free")
	q.close()
}

func TestQueueConcurrent(t *testing.T) {
	q, err := newQueue()
	require.NoError(t, err)
	defer q.close()
	const producers, each = 8, 200
	for p := 0; p < producers; p++ {
		go func() {
			for i := 0; i < each; i++ {
				q.push(posted{tag: uint64(p), handle: uint64(i)})
			}
		}()
	}
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	for n := 0; n < producers*each; n++ {
		p, res := q.pop(5000)
		require.Equal(t, waitOK, res)
		require.Greater(t, int(p.handle), last[p.tag], "per-producer order")
		last[p.tag] = int(p.handle)
	}
	require.False(t, readable(t, q.fd))
}

// TestOpParkers runs wait against both parkers: the futex of the library
// (a cgo call, usable from a test file that cannot import "C") and the plain
// Go one, including a completion racing many waiters and a release waking
// them.
func TestOpParkers(t *testing.T) {
	for name, p := range map[string]parker{"chan": nil, "futex": futexParker{}} {
		t.Run(name, func(t *testing.T) {
			var c counter
			o := newOp(c.free, p)
			require.Equal(t, waitTimeout, o.wait(0))
			start := time.Now()
			require.Equal(t, waitTimeout, o.wait(20))
			require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

			const waiters = 8
			woke := make(chan waitResult, waiters)
			for range waiters {
				go func() { woke <- o.wait(-1) }()
			}
			time.Sleep(2 * time.Millisecond)
			o.add(entryPtr())
			require.True(t, o.finish(-2, "not found"))
			for range waiters {
				require.Equal(t, waitOK, <-woke)
			}
			require.Equal(t, waitOK, o.wait(5000))
			var got []unsafe.Pointer
			code, msg, n, elapsed := o.collect(func(ps []unsafe.Pointer) { got = append(got, ps...) })
			require.Equal(t, int32(-2), code)
			require.Equal(t, "not found", msg)
			require.Equal(t, 1, n)
			require.Len(t, got, 1)
			require.Greater(t, elapsed, time.Duration(0))
			o.release()
			require.Equal(t, waitReleased, o.wait(-1), "released wins over done")

			r := newOp(c.free, p)
			for range waiters {
				go func() { woke <- r.wait(60_000) }()
			}
			time.Sleep(2 * time.Millisecond)
			r.release()
			for range waiters {
				require.Equal(t, waitReleased, <-woke, "a free wakes every waiter")
			}
			require.False(t, r.finish(0, ""))
		})
	}
}

// TestOpFlow checks the flow control of streaming operations: the producer
// runs at most window entries ahead of the reader's next calls, a wait for
// completion lifts the bound, and a release stops the producer.
func TestOpFlow(t *testing.T) {
	var c counter
	o := newOp(c.free, nil)
	o.setWindow(2)
	var produced atomic.Int32
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; i < 100; i++ {
			if !o.admit(i) {
				return
			}
			o.add(entryPtr())
			produced.Add(1)
		}
		o.finish(0, "")
	}()
	require.Eventually(t, func() bool { return produced.Load() == 2 }, time.Second, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	require.Equal(t, int32(2), produced.Load(), "the window bounds the producer")
	_, res := o.next(0, -1)
	require.Equal(t, waitOK, res)
	require.Eventually(t, func() bool { return produced.Load() == 3 }, time.Second, time.Millisecond)
	_, res = o.next(4, 1000)
	require.Equal(t, waitOK, res, "asking for entry 4 lets the producer reach it")
	require.Equal(t, int32(7), func() int32 {
		require.Eventually(t, func() bool { return produced.Load() == 7 }, time.Second, time.Millisecond)
		return produced.Load()
	}())
	o.unthrottle()
	require.Equal(t, waitOK, o.wait(5000), "a wait lifts the bound")
	<-stopped
	require.Equal(t, 100, o.count())
	o.release()
	require.Equal(t, int32(100), c.freed.Load())

	// A release stops a producer waiting for room.
	o = newOp(c.free, nil)
	o.setWindow(1)
	require.True(t, o.admit(0))
	o.add(entryPtr())
	admitted := make(chan bool)
	go func() { admitted <- o.admit(1) }()
	time.Sleep(5 * time.Millisecond)
	o.release()
	require.False(t, <-admitted)
}

func TestOpSlab(t *testing.T) {
	var freed []unsafe.Pointer
	var mu sync.Mutex
	free := func(p unsafe.Pointer) { mu.Lock(); freed = append(freed, p); mu.Unlock() }
	o := newOp(free, nil)
	single := entryPtr()
	require.True(t, o.add(single))
	slab := entryPtr()
	ps := []unsafe.Pointer{entryPtr(), entryPtr(), entryPtr()}
	go func() {
		time.Sleep(time.Millisecond)
		o.addSlab(ps, slab, nil)
		o.finish(0, "")
	}()
	for i := 0; i < 4; i++ { // next sees the slab's entries as they come
		p, res := o.next(i, -1)
		require.Equal(t, waitOK, res)
		require.NotNil(t, p)
	}
	_, res := o.next(4, -1)
	require.Equal(t, waitEnd, res)
	require.Equal(t, 4, o.count())
	require.Equal(t, ps[2], o.entry(3))
	o.release()
	require.ElementsMatch(t, []unsafe.Pointer{single, slab}, freed, "the single entry and the slab, not the slab's entries")
	require.False(t, o.addSlab(nil, entryPtr()))
	require.Len(t, freed, 3, "a late slab is freed at once")
}

func TestBatchEmitter(t *testing.T) {
	// A batch's data is copied into one C block as entries arrive (growing
	// past the expected count), and flush hands the op that block and the
	// slab of structs, freed together with the entries.
	var freed []unsafe.Pointer
	o := newOp(func(p unsafe.Pointer) { freed = append(freed, p); freeEntry(p) }, nil)
	em := &emitter{o: o}
	em.batchOf(2)
	// Group 0: no route table lookup, so no session is needed.
	for _, e := range []client.Entry{
		{Address: "127.0.0.1:1025", Data: []byte("abc")},
		{Address: "127.0.0.1:1025", Status: status.NotFound},
		{Address: "127.0.0.1:1026", Data: []byte("defgh"), Path: "p"},
	} {
		em.emit(&e, 0)
	}
	require.False(t, em.nomem.Load())
	require.Len(t, em.pend, 3)
	for _, p := range em.pend {
		require.Nil(t, p.e.Data, "pending entries hold no Go data")
	}
	require.Equal(t, "abcdefgh", string(unsafe.Slice((*byte)(em.data), em.dataLen)))
	data := em.data
	em.flush()
	require.Nil(t, em.data)
	em.recycle()
	require.Nil(t, em.pend)
	require.Equal(t, 3, o.count())
	stride := uintptr(o.entry(1)) - uintptr(o.entry(0))
	require.Equal(t, uintptr(o.entry(2))-uintptr(o.entry(1)), stride, "entries back to back")
	slab := o.entry(0)
	require.True(t, o.finish(0, ""))
	o.release()
	require.ElementsMatch(t, []unsafe.Pointer{slab, data}, freed, "the slab and the data block")
}
