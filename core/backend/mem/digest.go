package mem

import (
	"context"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/digest"
	"github.com/elliptics/elliptics/core/id"
)

var _ backend.Digester = (*Backend)(nil)

// Digests implements backend.Digester by summing the records in memory on
// demand: cheaper here than keeping sums on every write.
func (b *Backend) Digests(ctx context.Context, first, last int) ([]uint64, bool, error) {
	if err := b.check(ctx); err != nil {
		return nil, false, err
	}
	now := time.Now()
	sums, err := digest.Compute(first, last, func(add func(id.ID, uint64)) error {
		for i := range b.shards {
			s := &b.shards[i]
			s.mu.RLock()
			for oid, obj := range s.objects {
				for name, c := range obj {
					if c.visible(now) {
						add(oid, digest.Of(oid, name, c.meta.Timestamp.UnixNano(), c.meta.Size))
					}
				}
			}
			s.mu.RUnlock()
		}
		return nil
	})
	return sums, err == nil, err
}
