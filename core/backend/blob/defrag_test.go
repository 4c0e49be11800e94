package blob

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// dirSize is the bytes of b's data files on disk, the active file counted
// up to its log's end (past it lies the prepared tail of mapped appends,
// which grows on its own).
func dirSize(t *testing.T, b *Backend) int64 {
	var n int64
	entries, err := os.ReadDir(b.dir)
	require.NoError(t, err)
	b.appendMu.Lock()
	defer b.appendMu.Unlock()
	for _, e := range entries {
		if _, _, ok := parseDataFileName(e.Name()); ok {
			path := filepath.Join(b.dir, e.Name())
			if path == b.active.path {
				n += int64(b.active.size.Load())
				continue
			}
			st, err := os.Stat(path)
			require.NoError(t, err)
			n += st.Size()
		}
	}
	return n
}

func defragAndWait(t *testing.T, b *Backend) backend.DefragStatus {
	t.Helper()
	require.NoError(t, b.StartDefrag(ctx))
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	require.NoError(t, b.WaitDefrag(wctx))
	st := b.DefragStatus()
	require.False(t, st.Running)
	require.Empty(t, st.Err)
	return st
}

func TestDefragReclaimsAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlobSize: 32 << 10, Sync: SyncNone}
	b := openTest(t, dir, opts)
	want := fill(t, b, 3000)
	// Overwrite most keys again so old files are mostly dead.
	for i := 1; i < 3000; i += 2 {
		if _, ok := want[i]; ok {
			write(t, b, k(i), val(i, 2))
			want[i] = val(i, 2)
		}
	}
	before := dirSize(t, b)
	st := defragAndWait(t, b)
	after := dirSize(t, b)
	t.Logf("defrag: %d -> %d bytes, %d files, reclaimed %d", before, after, st.FilesDone, st.Reclaimed)
	require.Greater(t, st.FilesDone, 0)
	require.Equal(t, st.FilesTotal, st.FilesDone)
	require.Positive(t, st.Reclaimed)
	require.Less(t, after, before, "space returned to the file system")
	require.Equal(t, uint64(before-after), st.Reclaimed)
	check(t, b, 3000, want)

	// A second run finds nothing to do.
	st = defragAndWait(t, b)
	require.Zero(t, st.Reclaimed)

	require.NoError(t, b.Close())
	b = openTest(t, dir, opts)
	check(t, b, 3000, want)
	require.NoError(t, b.Close())

	// Without the snapshot a full scan must reach the same state: dropped
	// tombstones must not resurrect anything.
	require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
	b = openTest(t, dir, opts)
	defer b.Close()
	check(t, b, 3000, want)
}

func TestDefragUnderLoad(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlobSize: 64 << 10, Sync: SyncNone}
	b := openTest(t, dir, opts)
	const n = 400
	var mu sync.Mutex
	want := map[int][]byte{}
	for i := 0; i < n; i++ {
		write(t, b, k(i), val(i, 0))
		want[i] = val(i, 0)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gen := 1; !stop.Load(); gen++ {
				i := (gen*7 + w*101) % n
				if i%4 != w { // each writer owns a quarter of the keys
					continue
				}
				v := val(i, gen)
				if gen%10 == 0 {
					if err := b.Remove(ctx, k(i).ID, backend.RemoveOptions{}); err != nil && !isNotFound(err) {
						errs <- err
						return
					}
					mu.Lock()
					delete(want, i)
					mu.Unlock()
					continue
				}
				if _, err := b.Write(ctx, &backend.WriteRequest{Key: k(i), Data: v, Timestamp: time.Unix(1700000000, 5), UserFlags: 9}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				want[i] = v
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() { // readers never see an error other than not found
		defer wg.Done()
		for j := 0; !stop.Load(); j++ {
			if _, _, err := b.Read(ctx, k(j%n), 0, 0); err != nil && !isNotFound(err) {
				errs <- err
				return
			}
		}
	}()
	for r := 0; r < 5; r++ {
		time.Sleep(50 * time.Millisecond)
		defragAndWait(t, b)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	check(t, b, n, want)
	require.NoError(t, b.Close())
	b = openTest(t, dir, opts)
	defer b.Close()
	check(t, b, n, want)
}

func isNotFound(err error) bool { return status.FromError(err) == status.NotFound }

func TestDefragStopAndAlready(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{BlobSize: 8 << 10, Sync: SyncNone})
	defer b.Close()
	require.ErrorIs(t, b.StopDefrag(), status.ErrAlready)
	for i := 0; i < 2000; i++ {
		write(t, b, k(i%50), val(i, i))
	}
	require.NoError(t, b.StartDefrag(ctx))
	err := b.StartDefrag(ctx)
	if err != nil {
		require.ErrorIs(t, err, status.ErrAlready)
	}
	_ = b.StopDefrag()
	require.NoError(t, b.WaitDefrag(ctx))
	require.False(t, b.DefragStatus().Running)
	for i := 0; i < 50; i++ {
		_, _, err := b.Read(ctx, k(i), 0, 0)
		require.NoError(t, err)
	}
}

// A crash after the new generation is written but before the snapshot
// naming it is stored: Open uses the old generation and deletes the new.
func TestDefragCrashBeforeSnapshot(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlobSize: 8 << 10, Sync: SyncNone}
	b := openTest(t, dir, opts)
	want := fill(t, b, 300)
	require.NoError(t, b.writeSnapshot())
	files := b.files.ordered()
	first := files[0]
	crash(b)
	// A half-finished next generation of the first file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, dataFileName(first.number, first.gen+1)), []byte("partial"), 0o644))
	b = openTest(t, dir, opts)
	defer b.Close()
	check(t, b, 300, want)
	_, err := os.Stat(filepath.Join(dir, dataFileName(first.number, first.gen+1)))
	require.ErrorIs(t, err, os.ErrNotExist, "unfinished generation removed")
}
