package blob

import (
	"context"
	"sync"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

type defragState struct {
	mu     sync.Mutex
	status backend.DefragStatus
	cancel context.CancelFunc
	done   chan struct{}
}

// StartDefrag implements backend.Defragmenter.
func (b *Backend) StartDefrag(ctx context.Context) error {
	return status.Errorf(status.Unsupported, "not yet")
}

// StopDefrag implements backend.Defragmenter.
func (b *Backend) StopDefrag() error { return status.ErrAlready }

// DefragStatus implements backend.Defragmenter.
func (b *Backend) DefragStatus() backend.DefragStatus {
	b.defrag.mu.Lock()
	defer b.defrag.mu.Unlock()
	return b.defrag.status
}

func (b *Backend) stopDefragAndWait() {}
