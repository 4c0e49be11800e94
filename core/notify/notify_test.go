package notify

import (
	"sync"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

func key(b byte, g uint32) Key {
	var k Key
	k.ID[0] = b
	k.Group = g
	return k
}

func write(size uint64) Event {
	return Event{Kind: proto.NotifyWrite, Size: size, Timestamp: time.Unix(1, 0)}
}

// summary is what a test compares: kind, size and missed of each event.
type summary struct {
	kind   proto.NotifyKind
	size   uint64
	missed uint64
}

func summarize(evs []Event) []summary {
	out := make([]summary, 0, len(evs))
	for _, e := range evs {
		out = append(out, summary{e.Kind, e.Size, e.Missed})
	}
	return out
}

func TestQueue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue int
		// steps: n > 0 publishes writes of sizes 1, 2, ...; 0 takes.
		steps []int
		want  [][]summary // one per take
	}{
		{name: "fits", queue: 4, steps: []int{3, 0},
			want: [][]summary{{{proto.NotifyWrite, 1, 0}, {proto.NotifyWrite, 2, 0}, {proto.NotifyWrite, 3, 0}}}},
		{name: "full: marker after the queued ones", queue: 2, steps: []int{5, 0},
			want: [][]summary{{{proto.NotifyWrite, 1, 0}, {proto.NotifyWrite, 2, 0}, {proto.NotifyMissed, 0, 3}}}},
		{name: "full, then room: the next event carries the count", queue: 2, steps: []int{4, 0, 1, 0},
			want: [][]summary{
				{{proto.NotifyWrite, 1, 0}, {proto.NotifyWrite, 2, 0}, {proto.NotifyMissed, 0, 2}},
				{{proto.NotifyWrite, 5, 0}},
			}},
		{name: "empty take", queue: 2, steps: []int{0}, want: [][]summary{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Options{Queue: tc.queue})
			s, ok := r.Subscribe(key(1, 1), 0)
			if !ok {
				t.Fatal("subscribe refused")
			}
			defer s.Close()
			var n uint64
			takes := 0
			for _, st := range tc.steps {
				if st > 0 {
					for range st {
						n++
						r.Publish(key(1, 1), write(n))
					}
					continue
				}
				got := summarize(s.Take(nil))
				want := tc.want[takes]
				takes++
				if len(got) != len(want) {
					t.Fatalf("take %d: got %v, want %v", takes, got, want)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("take %d: got %v, want %v", takes, got, want)
					}
				}
			}
		})
	}
}

// TestMissedThenEvent: drops between two takes ride on the next event
// queued, not a marker.
func TestMissedCarriedByNextEvent(t *testing.T) {
	r := New(Options{Queue: 1})
	s, _ := r.Subscribe(key(1, 1), 0)
	defer s.Close()
	r.Publish(key(1, 1), write(1))
	r.Publish(key(1, 1), write(2)) // dropped
	got := s.Take(nil)
	if len(got) != 2 || got[1].Kind != proto.NotifyMissed || got[1].Missed != 1 {
		t.Fatalf("got %v", summarize(got))
	}
	r.Publish(key(1, 1), write(3))
	r.Publish(key(1, 1), write(4)) // dropped
	r2 := s.Take(nil)
	if len(r2) != 2 || r2[0].Size != 3 || r2[0].Missed != 0 || r2[1].Missed != 1 {
		t.Fatalf("got %v", summarize(r2))
	}
	if st := r.Stats(); st.Dropped != 2 {
		t.Fatalf("dropped %d, want 2", st.Dropped)
	}
}

// TestNodeWideLimit: watches within their own queues still stop at the
// registry's bound, and Take gives the room back.
func TestNodeWideLimit(t *testing.T) {
	r := New(Options{Queue: 10, MaxQueued: 3})
	a, _ := r.Subscribe(key(1, 1), 0)
	defer a.Close()
	b, _ := r.Subscribe(key(2, 1), 0)
	defer b.Close()
	for i := range 2 {
		r.Publish(key(1, 1), write(uint64(i)))
		r.Publish(key(2, 1), write(uint64(i)))
	}
	if st := r.Stats(); st.Queued != 3 || st.Dropped != 1 {
		t.Fatalf("stats %+v, want 3 queued, 1 dropped", st)
	}
	if got := a.Take(nil); len(got) != 2 {
		t.Fatalf("a got %v", summarize(got))
	}
	r.Publish(key(2, 1), write(9))
	got := b.Take(nil)
	if len(got) != 2 || got[1].Size != 9 || got[1].Missed != 1 {
		t.Fatalf("b got %v, want one event then the next carrying the drop", summarize(got))
	}
	b.Close()
	if st := r.Stats(); st.Queued != 0 {
		t.Fatalf("queued %d after takes", st.Queued)
	}
}

func TestRouting(t *testing.T) {
	r := New(Options{})
	a1, _ := r.Subscribe(key(1, 1), 0)
	a2, _ := r.Subscribe(key(1, 1), 0)
	b, _ := r.Subscribe(key(1, 2), 0) // same ID, other group
	c, _ := r.Subscribe(key(2, 1), 0)
	r.Publish(key(1, 1), write(7))
	for _, tc := range []struct {
		name string
		s    *Sub
		n    int
	}{{"a1", a1, 1}, {"a2", a2, 1}, {"other group", b, 0}, {"other key", c, 0}} {
		got := tc.s.Take(nil)
		if len(got) != tc.n {
			t.Errorf("%s: %d events, want %d", tc.name, len(got), tc.n)
		}
		for _, e := range got {
			if e.WatchID != tc.s.ID() {
				t.Errorf("%s: watch id %d, want %d", tc.name, e.WatchID, tc.s.ID())
			}
		}
	}
	select {
	case <-a1.Ready():
		t.Fatal("ready token left after take")
	default:
	}
	if r.Len() != 4 {
		t.Fatalf("len %d, want 4", r.Len())
	}
	a1.Close()
	a1.Close() // idempotent
	if !r.Drop(b.ID()) || r.Drop(b.ID()) {
		t.Fatal("drop: want true once, then false")
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("dropped watch not done")
	}
	if r.Len() != 2 {
		t.Fatalf("len %d after two removals, want 2", r.Len())
	}
	r.Publish(key(1, 1), write(8))
	if got := a2.Take(nil); len(got) != 1 {
		t.Fatalf("remaining watcher got %d events", len(got))
	}
	r.Close()
	if r.Len() != 0 || r.Watching() {
		t.Fatalf("len %d after Close", r.Len())
	}
	if _, ok := r.Subscribe(key(1, 1), 0); ok {
		t.Fatal("subscribe after Close accepted")
	}
}

func TestQueueCap(t *testing.T) {
	r := New(Options{})
	s, _ := r.Subscribe(key(1, 1), proto.MaxNotifyQueue*4)
	defer s.Close()
	if s.limit != proto.MaxNotifyQueue {
		t.Fatalf("limit %d, want %d", s.limit, proto.MaxNotifyQueue)
	}
	s2, _ := r.Subscribe(key(1, 1), 0)
	defer s2.Close()
	if s2.limit != DefaultQueue {
		t.Fatalf("default limit %d, want %d", s2.limit, DefaultQueue)
	}
}

// TestConcurrent publishes, takes and unsubscribes at once (for -race).
func TestConcurrent(t *testing.T) {
	r := New(Options{Queue: 8})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r.Publish(key(byte(i%2), 1), write(uint64(n)))
			}
		}()
	}
	for range 50 {
		s, _ := r.Subscribe(key(0, 1), 0)
		for range 5 {
			s.Take(nil)
		}
		_ = r.Stats()
		s.Close()
	}
	close(stop)
	wg.Wait()
	if r.Len() != 0 {
		t.Fatalf("len %d", r.Len())
	}
}

var sink id.ID

// BenchmarkPublish measures the write path's cost: with nobody watching
// anything it must be a single atomic load.
func BenchmarkPublish(b *testing.B) {
	ev := write(1)
	for _, bc := range []struct {
		name  string
		watch []Key
	}{
		{"nobody watching", nil},
		{"other key watched", []Key{key(2, 1)}},
		{"key watched", []Key{key(1, 1)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := New(Options{Queue: 1 << 16})
			for _, k := range bc.watch {
				s, _ := r.Subscribe(k, 0)
				defer s.Close()
				// Drain in the background so the queue is not always full.
				go func() {
					for {
						select {
						case <-s.Ready():
							s.Take(nil)
						case <-s.Done():
							return
						}
					}
				}()
			}
			k := key(1, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.Publish(k, ev)
			}
			sink = k.ID
		})
	}
}
