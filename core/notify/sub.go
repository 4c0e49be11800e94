package notify

import (
	"sync"

	"github.com/elliptics/elliptics/core/proto"
)

// Sub is one watch: its queue and its life. The handler that subscribed
// waits on Ready and Done, takes events with Take and calls Close when its
// connection closes.
type Sub struct {
	r     *Registry
	id    uint64
	key   Key
	limit int

	mu     sync.Mutex
	q      []Event // at most limit
	spare  []Event // the array Take emptied last, for q's next turn
	missed uint64  // dropped since the last event queued
	closed bool

	ready chan struct{} // a token when q or missed became non-empty
	done  chan struct{} // closed by Close
	once  sync.Once
}

// ID returns the watch's id, unique on its registry.
func (s *Sub) ID() uint64 { return s.id }

// Key returns what the watch watches.
func (s *Sub) Key() Key { return s.key }

// Ready has a token when events may be waiting.
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Done is closed when the watch ended (Close, Registry.Drop or Close).
func (s *Sub) Done() <-chan struct{} { return s.done }

// Close unregisters the watch; events queued are dropped. It may be called
// more than once, from any goroutine.
func (s *Sub) Close() {
	s.once.Do(func() {
		s.r.remove(s)
		close(s.done)
		s.mu.Lock()
		s.r.queued.Add(-int64(len(s.q)))
		s.q, s.spare, s.closed = nil, nil, true
		s.mu.Unlock()
	})
}

func (s *Sub) push(ev Event) {
	s.mu.Lock()
	if len(s.q) >= s.limit || s.r.queued.Load() >= s.r.maxQueued {
		s.missed++
		s.mu.Unlock()
		s.r.dropped.Add(1)
		return
	}
	ev.Missed, s.missed = s.missed, 0
	s.q = append(s.q, ev)
	s.r.queued.Add(1)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default: // a token is already there
	}
}

// Take appends the queued events to dst, in order, and empties the queue;
// when events were dropped after the last one queued, a NotifyMissed
// marker carrying their count comes last. Every event gets the watch's id.
// The caller owns what it gets: while it sends them the queue refills, so
// a watch holds at most two queues' worth.
func (s *Sub) Take(dst []Event) []Event {
	// The token goes first: a push after this leaves a new one, so no
	// event waits unseen (at worst a wake-up finds nothing).
	select {
	case <-s.ready:
	default:
	}
	s.mu.Lock()
	q, missed := s.q, s.missed
	// Two arrays take turns: the queue fills one while this copies the
	// other out, so a busy watch does not allocate a queue per batch.
	s.q, s.spare, s.missed = s.spare[:0], nil, 0
	s.r.queued.Add(-int64(len(q)))
	s.mu.Unlock()
	for _, ev := range q {
		ev.WatchID = s.id
		dst = append(dst, ev)
	}
	if cap(q) > 0 {
		clear(q) // let column strings go
		s.mu.Lock()
		if s.spare == nil && !s.closed {
			s.spare = q[:0]
		}
		s.mu.Unlock()
	}
	if missed > 0 {
		dst = append(dst, Event{WatchID: s.id, Kind: proto.NotifyMissed, Group: s.key.Group, Missed: missed})
	}
	return dst
}
