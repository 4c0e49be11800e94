package recovery

import (
	"context"
	"sync"
)

// slots hands out the Concurrency run slots of a manager in the order jobs
// asked for them: an operator who starts a dc and then a merge expects the
// dc to go first, and a plain semaphore lets whichever goroutine is
// scheduled first win.
type slots struct {
	mu      sync.Mutex
	free    int
	waiting []chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// ask queues for a slot; the returned channel is closed once it is granted.
func (s *slots) ask() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan struct{})
	if s.free > 0 && len(s.waiting) == 0 {
		s.free--
		close(c)
		return c
	}
	s.waiting = append(s.waiting, c)
	return c
}

// wait blocks until the slot asked for with c is granted or ctx ends; on
// false the request is withdrawn (or its slot given back).
func (s *slots) wait(ctx context.Context, c chan struct{}) bool {
	select {
	case <-c:
		return true
	case <-ctx.Done():
	}
	s.mu.Lock()
	for i, w := range s.waiting {
		if w == c {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			s.mu.Unlock()
			return false
		}
	}
	s.mu.Unlock()
	// Granted while ctx ended: pass the slot on.
	s.release()
	return false
}

// release frees a slot, handing it to the longest waiter.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) > 0 {
		close(s.waiting[0])
		s.waiting = s.waiting[1:]
		return
	}
	s.free++
}
