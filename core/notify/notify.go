// Package notify is a node's registry of watches: who wants to hear of
// writes and removals of which key (NOTIFY, proto.CmdNotify).
//
// A watch is a key ID in one group and a bounded queue of events. The data
// path publishes an event after each change it commits; publishing never
// waits for a watcher: an event that finds the queue full is dropped and
// counted, and the count travels with the next event queued (or, when none
// follows, as a NotifyMissed marker after the queued ones), so a watcher
// that reads slowly learns it missed events instead of making the node's
// memory grow. When nobody watches anything, Publish costs one atomic load:
// the write path calls it unconditionally.
//
// The registry does not know connections: the NOTIFY handler that
// subscribed takes events (Take) and sends them, and unsubscribes (Close)
// when its connection closes or the watch is dropped.
package notify

import (
	"sync"
	"sync/atomic"

	"github.com/elliptics/elliptics/core/proto"
)

// DefaultQueue is the queue of a watch that asks for none.
const DefaultQueue = 1024

// DefaultMaxQueued bounds the events queued on a node, all watches
// together: without it, many watchers that each stay within their own
// queue could still add up (1024 watches of 65536 events on one
// connection).
const DefaultMaxQueued = 1 << 20

// Options configure a Registry; zero fields take the defaults.
type Options struct {
	// Queue is the queue of a watch that asks for none (DefaultQueue).
	Queue int
	// MaxQueued bounds the events queued in all watches (DefaultMaxQueued);
	// past it every watch drops and counts as if its own queue were full.
	// The batches being sent are not counted, so a node holds at most
	// about twice this.
	MaxQueued int
}

// Key names what a watch watches.
type Key = proto.NotifyKey

// Event is one event as queued; WatchID is set by Take.
type Event = proto.NotifyEvent

// Registry holds a node's watches. The zero value is not usable: use New.
type Registry struct {
	// n counts subscriptions: the only thing Publish reads when it is 0.
	n            atomic.Int64
	defaultQueue int
	maxQueued    int64
	queued       atomic.Int64 // events in all queues

	mu     sync.RWMutex
	byKey  map[Key][]*Sub
	byID   map[uint64]*Sub
	last   uint64
	closed bool

	dropped atomic.Uint64 // events dropped on full queues, all time
}

// New returns an empty registry.
func New(o Options) *Registry {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	return &Registry{defaultQueue: o.Queue, maxQueued: int64(o.MaxQueued), byKey: map[Key][]*Sub{}, byID: map[uint64]*Sub{}}
}

// Stats are a registry's figures.
type Stats struct {
	Watches int    // subscriptions now
	Queued  int    // events queued now, all watches
	Dropped uint64 // events dropped on full queues since the start
}

// Subscribe registers a watch of k with a queue of queue events (0: the
// registry's default; capped at proto.MaxNotifyQueue). It fails with
// ok false once the registry is closed (the node is stopping).
func (r *Registry) Subscribe(k Key, queue int) (*Sub, bool) {
	if queue <= 0 {
		queue = r.defaultQueue
	}
	queue = min(queue, proto.MaxNotifyQueue)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false
	}
	r.last++
	s := &Sub{r: r, id: r.last, key: k, limit: queue, ready: make(chan struct{}, 1), done: make(chan struct{})}
	r.byKey[k] = append(r.byKey[k], s)
	r.byID[s.id] = s
	r.n.Add(1)
	return s, true
}

// Watching reports whether any key is watched.
func (r *Registry) Watching() bool { return r.n.Load() != 0 }

// Publish queues ev for every watch of k. It never blocks on a watcher.
func (r *Registry) Publish(k Key, ev Event) {
	if r.n.Load() == 0 {
		return
	}
	r.mu.RLock()
	subs := r.byKey[k]
	for _, s := range subs {
		s.push(ev)
	}
	r.mu.RUnlock()
}

// Drop ends the watch id (its Done channel closes) and reports whether it
// existed.
func (r *Registry) Drop(id uint64) bool {
	r.mu.RLock()
	s := r.byID[id]
	r.mu.RUnlock()
	if s == nil {
		return false
	}
	s.Close()
	return true
}

// Len returns the number of watches.
func (r *Registry) Len() int { return int(r.n.Load()) }

// Stats returns the registry's figures.
func (r *Registry) Stats() Stats {
	r.mu.RLock()
	st := Stats{Watches: len(r.byID), Queued: int(r.queued.Load()), Dropped: r.dropped.Load()}
	r.mu.RUnlock()
	return st
}

// Close ends every watch and refuses new ones: the node is stopping.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	subs := make([]*Sub, 0, len(r.byID))
	for _, s := range r.byID {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
}

// remove unregisters s; it runs once per Sub.
func (r *Registry) remove(s *Sub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[s.id] != s {
		return
	}
	delete(r.byID, s.id)
	subs := r.byKey[s.key]
	for i, x := range subs {
		if x == s {
			// A new slice: Publish may be ranging over the old one (under
			// the read lock it holds, but copy-on-write keeps that simple).
			n := make([]*Sub, 0, len(subs)-1)
			n = append(n, subs[:i]...)
			subs = append(n, subs[i+1:]...)
			break
		}
	}
	if len(subs) == 0 {
		delete(r.byKey, s.key)
	} else {
		r.byKey[s.key] = subs
	}
	r.n.Add(-1)
}
