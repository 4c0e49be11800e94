package blob

import "sync"

// committer implements group commit: a writer that needs its record on
// stable storage either runs the fsync itself or waits for one already
// running; one fsync covers every record appended before it started.
type committer struct {
	b       *Backend
	mu      sync.Mutex
	cond    *sync.Cond
	synced  uint64 // every record with writeSeq <= synced is durable
	syncing bool
	err     error // sticky: after a failed fsync nothing is known durable
}

func (c *committer) init(b *Backend) {
	c.b = b
	c.cond = sync.NewCond(&c.mu)
}

// wait returns once the record with write sequence seq is durable.
func (c *committer) wait(seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.synced < seq {
		if c.err != nil {
			return c.err
		}
		if c.syncing {
			c.cond.Wait()
			continue
		}
		c.syncing = true
		c.mu.Unlock()
		// Records in files rotated away were fsynced by the rotation, so
		// syncing the active file covers everything up to target.
		c.b.appendMu.Lock()
		target, f := c.b.writeSeq, c.b.active
		c.b.appendMu.Unlock()
		err := f.f.Sync()
		c.mu.Lock()
		c.syncing = false
		if err != nil {
			c.err = err
		} else if target > c.synced {
			c.synced = target
		}
		c.cond.Broadcast()
	}
	return nil
}

// reset clears a sticky error once the backend starts a fresh file.
func (c *committer) reset() {
	c.mu.Lock()
	c.err = nil
	c.b.appendMu.Lock()
	c.synced = c.b.writeSeq
	c.b.appendMu.Unlock()
	c.mu.Unlock()
}
