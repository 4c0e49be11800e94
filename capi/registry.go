package main

import (
	"sync"
)

// registry maps the handles given to C to the Go objects behind them.
//
// It plays the part of runtime/cgo.Handle with two differences that the ABI
// needs: a stale, freed, zero or made-up handle is a lookup miss (the caller
// returns ELL_EINVAL) instead of a panic, and lookups are typed, so a
// session handle passed where a node is expected is a miss too. Handle
// values count up from 1 and are never reused (2^64 handles do not run out),
// so a handle freed twice or used after free can never reach a newer object.
type registry struct {
	mu   sync.RWMutex
	next uint64
	objs map[uint64]any
}

func newRegistry() *registry { return &registry{objs: map[uint64]any{}} }

// add registers v and returns its handle, never 0.
func (r *registry) add(v any) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	r.objs[r.next] = v
	return r.next
}

// get returns the object of handle h, or nil.
func (r *registry) get(h uint64) any {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.objs[h]
}

// removeAs unregisters h and returns its object if it is a T; anything else
// stays registered. Of two threads freeing one handle, exactly one gets it.
func removeAs[T any](r *registry, h uint64) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.objs[h].(T)
	if ok {
		delete(r.objs, h)
	}
	return v, ok
}

// getAs returns the object of h if it is a T.
func getAs[T any](r *registry, h uint64) (T, bool) {
	v, ok := r.get(h).(T)
	return v, ok
}

// handles is the registry of every object the library hands out.
var handles = newRegistry()
