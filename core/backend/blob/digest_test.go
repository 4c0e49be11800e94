package blob

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/id"
)

// The range hashes are rebuilt after a restart (index snapshots do not
// carry them) while writes and removes go on, and come out exact.
func TestDigestsRebuiltUnderWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{Sync: SyncNone, BlobSize: 1 << 20}
	key := func(i int) backend.Key { return backend.Key{ID: id.Transform([]byte(fmt.Sprint(i)))} }
	b := openTest(t, dir, opts)
	const n = 20000
	for i := range n {
		_, err := b.Write(ctx, &backend.WriteRequest{Key: key(i), Data: []byte(fmt.Sprint("v", i))})
		require.NoError(t, err)
	}
	require.NoError(t, b.Close())

	b = openTest(t, dir, opts)
	defer b.Close()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 7 {
				if i%3 == 0 {
					_ = b.Remove(ctx, key(i).ID, backend.RemoveOptions{})
					continue
				}
				_, err := b.Write(ctx, &backend.WriteRequest{Key: key(i), Data: []byte("again")})
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	backendtest.RequireDigests(t, b, b)
}
