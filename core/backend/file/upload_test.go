package file

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
)

// TestUploadInPlace: a prepare makes a sparse file of the reservation,
// chunks are written in place (no copy of the value per chunk), and a
// commit cuts the file to the final size.
func TestUploadInPlace(t *testing.T) {
	const size, chunk = 64 << 20, 1 << 20
	dir := t.TempDir()
	b := open(t, dir, Options{Sync: SyncNone})
	defer b.Close()
	k := backend.Key{ID: id.Transform([]byte("big"))}
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Prepare: true, TotalSize: size + 100})
	require.NoError(t, err)
	path := filepath.Join(objectDir(b.dir, k.ID), columnFileName(""))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(fixedHeaderSize+size+100), st.Size())
	require.Less(t, st.Sys().(*syscall.Stat_t).Blocks*512, int64(1<<20), "the reservation is a hole")

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	buf := make([]byte, chunk)
	for off := uint64(0); off < size; off += chunk {
		for i := range buf {
			buf[i] = byte(off>>20) + byte(i)
		}
		req := &backend.WriteRequest{Key: k, Data: buf, Offset: off, Plain: true}
		if off+chunk == size {
			req.Plain, req.Commit, req.TotalSize = false, true, size
		}
		_, err := b.Write(ctx, req)
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	require.Less(t, ms.TotalAlloc-before, uint64(16<<20), "chunks are not copied into a whole value")
	st, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(fixedHeaderSize+size), st.Size(), "the commit cuts to the final size")
	got, meta, err := b.Read(ctx, k, 5<<20+3, 10)
	require.NoError(t, err)
	require.Equal(t, uint64(size), meta.Size)
	want := make([]byte, 10)
	for i := range want {
		want[i] = 5 + byte(3+i)
	}
	require.True(t, bytes.Equal(want, got), "%v != %v", want, got)
	_, err = b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
	require.NoError(t, err)
}
