package blob

import (
	"bytes"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

// data-* files only: snapshots and directories keep working.
func onData(inj errorfs.Injector) errorfs.Injector { return errorfs.OnPath("data-*", inj) }

func TestDiskFullThenFreed(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  errorfs.Injector
		sync SyncMode
	}{
		{"enospc-on-write", errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite), SyncAlways},
		{"short-write", errorfs.OnOpsShort(50, errorfs.OpWrite), SyncNone},
		{"eio-on-fsync", errorfs.OnOps(syscall.EIO, errorfs.OpSync, errorfs.OpDatasync), SyncAlways},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			toggle := errorfs.NewToggle(onData(tc.inj))
			fsys := errorfs.Wrap(vfs.Default, toggle)
			opts := Options{FS: fsys, Sync: tc.sync}
			b := openTest(t, dir, opts)
			for i := 0; i < 20; i++ {
				write(t, b, k(i), val(i, 0))
			}

			toggle.Enable()
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Data: []byte("lost")})
			require.Error(t, err)
			if tc.name == "enospc-on-write" {
				require.ErrorIs(t, err, status.ErrNoSpace)
			}
			require.True(t, b.Stats().ReadOnly, "a failed write makes the backend read-only")
			require.NotEmpty(t, b.Stats().Extra["read_only_reason"])
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k(2), Data: []byte("x")})
			require.ErrorIs(t, err, status.ErrReadOnly)
			require.ErrorIs(t, b.Remove(ctx, k(3).ID, backend.RemoveOptions{}), status.ErrReadOnly)
			for i := 0; i < 20; i++ {
				require.Equal(t, val(i, 0), mustRead(t, b, k(i)), "acknowledged data intact")
			}

			toggle.Disable()
			b.SetReadOnly(false)
			require.False(t, b.Stats().ReadOnly)
			write(t, b, k(1), []byte("after"))
			require.Equal(t, []byte("after"), mustRead(t, b, k(1)))
			require.NoError(t, b.Close())

			b = openTest(t, dir, Options{Sync: tc.sync})
			defer b.Close()
			require.Equal(t, []byte("after"), mustRead(t, b, k(1)))
			for i := 2; i < 20; i++ {
				require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
			}
			require.Positive(t, fsys.Injected(errorfs.OpWrite)+fsys.Injected(errorfs.OpSync)+fsys.Injected(errorfs.OpDatasync))
		})
	}
}

// Concurrent writers sharing group commits: every acknowledged write is
// there after a restart.
func TestGroupCommitConcurrent(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, Options{BlobSize: 256 << 10})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				write(t, b, k(w*1000+i), val(i, w))
			}
		}()
	}
	wg.Wait()
	crash(b)
	b = openTest(t, dir, Options{})
	defer b.Close()
	for w := 0; w < 16; w++ {
		for i := 0; i < 50; i++ {
			require.True(t, bytes.Equal(val(i, w), mustRead(t, b, k(w*1000+i))))
		}
	}
}
