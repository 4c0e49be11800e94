package blob

import (
	"sync"
	"sync/atomic"
	"time"
)

// committer implements group commit: a writer that needs its record on
// stable storage either runs the sync itself (the leader) or waits for the
// one already running; one sync covers every record appended before it
// started.
//
// Before it syncs, the leader gathers: it waits until every other writer
// inside the backend has appended and is waiting for a sync too, or until
// a short deadline, so the writers woken by the previous sync join this
// one instead of starting yet another. Without this, writers split into
// two alternating halves and a sync covers about half of them.
//
// The waiters of a sync wait on a channel the leader closes, and the
// counts are atomic, so writers woken together do not all take the
// committer's mutex again.
type committer struct {
	b *Backend

	mu      sync.Mutex
	syncing bool
	done    chan struct{} // closed when the running sync ends
	err     error         // sticky: after a failed sync nothing is known durable
	synced  atomic.Uint64 // every record with writeSeq <= synced is durable

	// Gathering. active counts the writers of a SyncAlways backend inside
	// Write or Remove past their locks; parked those waiting for the
	// running sync. A gathering leader waits for active-1 (itself) <=
	// parked, told by gatherCh, or for gatherTimer.
	active      atomic.Int64
	parked      atomic.Int64
	gathering   atomic.Bool
	gatherCh    chan struct{}
	gatherTimer *time.Timer
	lastSync    atomic.Int64 // duration of the last sync, ns
	syncedBytes uint64       // appendedBytes when the last sync started, leader only

	syncs atomic.Int64 // syncs run, for Stats
}

// maxGather bounds the time a leader gathers. It gathers at most half the
// duration of the last sync: sharing a sync among twice the writers is
// worth waiting for.
const maxGather = 500 * time.Microsecond

// gatherBytes: with this much appended since the last sync started, the
// leader does not gather.
const gatherBytes = 256 << 10

func (c *committer) init(b *Backend) {
	c.b = b
	c.gatherCh = make(chan struct{}, 1)
	c.gatherTimer = time.NewTimer(time.Hour)
	c.gatherTimer.Stop()
}

// enter and leave bracket a write operation that will wait for a sync.
func (c *committer) enter() { c.active.Add(1) }

func (c *committer) leave() {
	c.active.Add(-1)
	c.checkGathered()
}

// checkGathered tells a gathering leader when every other active writer
// is parked.
func (c *committer) checkGathered() {
	if c.gathering.Load() && c.active.Load()-1 <= c.parked.Load() {
		select {
		case c.gatherCh <- struct{}{}:
		default:
		}
	}
}

// wait returns once the record with write sequence seq is durable.
func (c *committer) wait(seq uint64) error {
	for {
		if c.synced.Load() >= seq {
			return nil
		}
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if c.synced.Load() >= seq {
			c.mu.Unlock()
			return nil
		}
		if c.syncing {
			done := c.done
			c.parked.Add(1)
			c.mu.Unlock()
			c.checkGathered()
			<-done
			continue
		}
		c.syncing = true
		c.done = make(chan struct{})
		c.mu.Unlock()

		c.gather()
		// Records in files rotated away were synced by the rotation, so
		// syncing the active file covers everything up to target.
		c.b.appendMu.Lock()
		target, f := c.b.writeSeq, c.b.active
		c.b.appendMu.Unlock()
		c.syncedBytes = c.b.appendedBytes.Load()
		start := time.Now()
		err := f.f.Datasync()
		c.lastSync.Store(int64(time.Since(start)))
		c.syncs.Add(1)

		c.mu.Lock()
		c.syncing = false
		if err != nil {
			c.err = err
		} else if target > c.synced.Load() {
			c.synced.Store(target)
		}
		// Everyone parked is woken; those whose records came too late for
		// this sync park again for the next.
		c.parked.Store(0)
		close(c.done)
		c.mu.Unlock()
	}
}

// gather waits until the other active writers are parked or the deadline
// passes. A lone writer does not wait at all.
func (c *committer) gather() {
	if c.active.Load()-1 <= c.parked.Load() {
		return
	}
	// With much data waiting the sync is long anyway and gathering would
	// only keep the device idle while writers copy.
	if c.b.appendedBytes.Load()-c.syncedBytes >= gatherBytes {
		return
	}
	budget := min(time.Duration(c.lastSync.Load())/2, maxGather)
	if budget <= 0 {
		return
	}
	c.gathering.Store(true)
	select { // a stale signal from an earlier gathering
	case <-c.gatherCh:
	default:
	}
	c.gatherTimer.Reset(budget)
	for c.active.Load()-1 > c.parked.Load() {
		select {
		case <-c.gatherCh:
			continue
		case <-c.gatherTimer.C:
		}
		break
	}
	c.gathering.Store(false)
	c.gatherTimer.Stop()
}

// reset clears a sticky error once the backend starts a fresh file.
func (c *committer) reset() {
	c.mu.Lock()
	c.err = nil
	c.b.appendMu.Lock()
	c.synced.Store(c.b.writeSeq)
	c.b.appendMu.Unlock()
	c.mu.Unlock()
}
