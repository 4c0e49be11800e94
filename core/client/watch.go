package client

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// A watch (NOTIFY) lives on the node that owns the key in a group: the
// Watcher keeps one stream per group of the session to that group's owner,
// and moves it when the owner goes away or the route table names another
// owner, so a watcher hears of every write and removal whichever node the
// writer used. Between losing a watch and establishing it again events
// are not seen: a WatchLost event opens such a gap and a WatchStarted
// event closes it.

// WatchKind says what a WatchEvent reports.
type WatchKind int

const (
	WatchWrite  WatchKind = iota + 1 // a write, append or commit of the key
	WatchRemove                      // a removal of the key or a column
	// WatchMissed: the node dropped Missed events because this watcher
	// read too slowly (its queue on the node was full).
	WatchMissed
	// WatchStarted: the watch is established on Address for Group; after
	// a WatchLost, changes made in between were not seen.
	WatchStarted
	// WatchLost: the watch on Address ended (Err says why: the node went
	// away, the key moved to another owner); the Watcher establishes it
	// again with backoff.
	WatchLost
)

func (k WatchKind) String() string {
	switch k {
	case WatchWrite:
		return "write"
	case WatchRemove:
		return "remove"
	case WatchMissed:
		return "missed"
	case WatchStarted:
		return "started"
	case WatchLost:
		return "lost"
	}
	return "unknown"
}

// WatchEvent is one event of a Watcher.
type WatchEvent struct {
	Kind    WatchKind
	ID      id.ID
	Group   uint32
	Address string // the node that reported it
	Column  string
	// Size is the column's size after a write.
	Size uint64
	// Timestamp is the record's timestamp after a write, the time of a
	// removal.
	Timestamp   time.Time
	UserFlags   uint64
	RecordFlags proto.RecordFlags
	// Missed counts events the node dropped just before this one (this
	// watcher read too slowly); WatchMissed events carry only that.
	Missed uint64
	Err    error // WatchLost: why
}

// WatchOptions tune a Watcher; zero values take the defaults.
type WatchOptions struct {
	// Queue is the events each node queues for this watcher before it
	// drops and counts them (0: the node's default, 1024).
	Queue int
	// Buffer is the capacity of the events channel (default 64). While it
	// is full nothing more is read from the nodes, whose queues then fill.
	Buffer int
	// IdleTimeout is the longest wait for anything from a node (default:
	// the session timeout, at least 2 s; nodes send a keep-alive every
	// second): then the node is taken for dead and the watch moves.
	IdleTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to
	// establish a lost watch (defaults 100 ms and 5 s).
	RetryMin, RetryMax time.Duration
}

func (o *WatchOptions) setDefaults(s *Session) {
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = max(s.timeout, 2*time.Second)
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(5*time.Second, o.RetryMin)
	}
}

// Watcher watches one key in every group of the session it came from.
// Read events with Next or from Events; Close ends the watch on the nodes.
type Watcher struct {
	s      *Session
	key    Key
	oid    id.ID
	opts   WatchOptions
	events chan WatchEvent
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed once every group's loop ended
}

// Watch starts watching k (every column; a key with a column reports only
// that column and removals of the whole object) in every group of the
// session (a write to three groups is three events, one per group), and returns once each group's watch was tried: events from
// then on are reported. It fails when no group's watch could be
// established; groups that failed keep trying in the background (their
// WatchLost event says why). ctx bounds the whole watch.
func (s *Session) Watch(ctx context.Context, k Key, o WatchOptions) (*Watcher, error) {
	oid, err := s.resolve(k)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", k, err)
	}
	if len(s.groups) == 0 {
		return nil, status.Errorf(status.NoRoute, "watch %s: the session has no groups", k)
	}
	if o.Queue < 0 || o.Queue > proto.MaxNotifyQueue {
		return nil, status.Errorf(status.Invalid, "watch %s: queue %d outside 0..%d", k, o.Queue, proto.MaxNotifyQueue)
	}
	o.setDefaults(s)
	wctx, cancel := context.WithCancel(ctx)
	w := &Watcher{s: s, key: k, oid: oid, opts: o, events: make(chan WatchEvent, o.Buffer),
		ctx: wctx, cancel: cancel, done: make(chan struct{})}
	first := make(chan error, len(s.groups))
	for _, g := range s.groups {
		w.wg.Add(1)
		go w.run(g, first)
	}
	go func() {
		w.wg.Wait()
		close(w.events)
		close(w.done)
	}()
	var errs []error
	for range s.groups {
		if err := <-first; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == len(s.groups) {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", k, joinErrors(errs))
	}
	return w, nil
}

// Events returns the channel of events; it is closed after Close or when
// the watch's context ends.
func (w *Watcher) Events() <-chan WatchEvent { return w.events }

// Next returns the next event, waiting for it until ctx ends. After Close
// (or the end of the watch's context) it returns status.ErrCanceled.
func (w *Watcher) Next(ctx context.Context) (WatchEvent, error) {
	select {
	case ev, ok := <-w.events:
		if !ok {
			return WatchEvent{}, status.Errorf(status.Canceled, "watch %s: closed", w.key)
		}
		return ev, nil
	case <-ctx.Done():
		return WatchEvent{}, ctx.Err()
	}
}

// All ranges over the events until ctx ends or the watch is closed:
//
//	for ev, err := range w.All(ctx) {
//		if err != nil { ... } // the end: ctx's error, or status.ErrCanceled after Close
//	}
//
// The loop ends after the error, or when its body breaks; the watch stays
// open until Close.
func (w *Watcher) All(ctx context.Context) iter.Seq2[WatchEvent, error] {
	return func(yield func(WatchEvent, error) bool) {
		for {
			ev, err := w.Next(ctx)
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// Close ends the watch: each node is told to drop it and the streams
// close. Events not read yet are dropped. It waits for the group loops.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

// emit hands ev to the reader; false when the watch ended meanwhile.
func (w *Watcher) emit(ev WatchEvent) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.ctx.Done():
		return false
	}
}
