package blob

import (
	"context"
	"slices"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/digest"
)

var _ backend.Digester = (*Backend)(nil)

// recordHash is a record's share of the range hashes (package digest);
// uploads in progress count as absent.
func recordHash(h *header) uint64 {
	if h.uncommitted() || h.removed() {
		return 0
	}
	return digest.Of(h.id, h.column, h.timestamp, h.dataSize)
}

// Digests implements backend.Digester.
func (b *Backend) Digests(ctx context.Context, first, last int) ([]uint64, bool, error) {
	if err := b.check(ctx); err != nil {
		return nil, false, err
	}
	if !b.digests.Ready() {
		return nil, false, nil
	}
	return b.digests.Sums(first, last), true, nil
}

// rebuildDigests counts every record into the range hashes once after
// Open: index snapshots do not carry them. Under idxMu it zeroes the sums
// and copies the index's locations in one step; every change after that
// applies its delta (under idxMu too), so adding the headers read here —
// the records of that instant — makes the sums current, whatever ran
// meanwhile. Defragmentation may move a record: its old copy, read here,
// is the same record; a file closed under us ends the rebuild (the sums
// stay not ready, and anti-entropy compares records instead).
func (b *Backend) rebuildDigests() {
	defer b.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	b.idxMu.Lock()
	b.digests.Reset()
	files, byFile := b.locationsLocked()
	b.idxMu.Unlock()
	n := 0
	for _, f := range files {
		offs := byFile[f]
		slices.Sort(offs)
		for _, off := range offs {
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return
			}
			hdr, err := b.readHeader(f, off)
			if err != nil {
				b.log.Warn("range hashes not built: cannot read a record header; anti-entropy compares records instead",
					zap.String("file", f.path), zap.Uint64("offset", off), zap.Error(err))
				return
			}
			b.digests.Add(hdr.id, recordHash(&hdr))
		}
	}
	b.digests.SetReady()
	b.log.Debug("range hashes built", zap.Int("records", n))
}
