package blob

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

var ctx = context.Background()

func k(i int) backend.Key {
	oid, _ := id.FromKey("", fmt.Sprintf("key-%d", i))
	return backend.Key{ID: oid}
}

func val(i, gen int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("v%d.%d;", i, gen)), 1+i%50)
}

func write(t *testing.T, b *Backend, key backend.Key, data []byte) {
	t.Helper()
	_, err := b.Write(ctx, &backend.WriteRequest{Key: key, Data: data, Timestamp: time.Unix(1700000000, 5), UserFlags: 9})
	require.NoError(t, err)
}

func mustRead(t *testing.T, b *Backend, key backend.Key) []byte {
	t.Helper()
	d, _, err := b.Read(ctx, key, 0, 0)
	require.NoError(t, err)
	return d
}

// fill writes n keys, overwrites every third and removes every fifth, and
// returns the expected state.
func fill(t *testing.T, b *Backend, n int) map[int][]byte {
	want := map[int][]byte{}
	for i := 0; i < n; i++ {
		write(t, b, k(i), val(i, 0))
		want[i] = val(i, 0)
	}
	for i := 0; i < n; i += 3 {
		write(t, b, k(i), val(i, 1))
		want[i] = val(i, 1)
	}
	for i := 0; i < n; i += 5 {
		require.NoError(t, b.Remove(ctx, k(i).ID, backend.RemoveOptions{}))
		delete(want, i)
	}
	return want
}

func check(t *testing.T, b *Backend, n int, want map[int][]byte) { checkExtra(t, b, n, want, 0, 0) }

// checkExtra is check for a backend that also holds extra records of
// extraBytes bytes that are not keys of fill.
func checkExtra(t *testing.T, b *Backend, n int, want map[int][]byte, extra, extraBytes int) {
	t.Helper()
	for i := 0; i < n; i++ {
		d, meta, err := b.Read(ctx, k(i), 0, 0)
		if w, ok := want[i]; ok {
			require.NoError(t, err, "key %d", i)
			require.Equal(t, w, d, "key %d", i)
			require.Equal(t, uint64(9), meta.UserFlags)
			require.True(t, meta.Timestamp.Equal(time.Unix(1700000000, 5)))
		} else {
			require.ErrorIs(t, err, status.ErrNotFound, "key %d", i)
		}
	}
	require.Equal(t, uint64(len(want)+extra), b.Stats().Records)
	var bytes uint64
	for _, w := range want {
		bytes += uint64(len(w))
	}
	require.Equal(t, bytes+uint64(extraBytes), b.Stats().Bytes)
}

func TestRestartWithSnapshot(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlobSize: 64 << 10, Sync: SyncNone}
	b := openTest(t, dir, opts)
	want := fill(t, b, 2000)
	_, err := b.Write(ctx, &backend.WriteRequest{Key: backend.Key{ID: k(1).ID, Column: "meta"}, Data: []byte("m")})
	require.NoError(t, err)
	require.Greater(t, b.Stats().Extra["data_files"].(int), 3, "rotation by size")
	require.NoError(t, b.Close())
	require.FileExists(t, filepath.Join(dir, snapshotName))

	b = openTest(t, dir, opts)
	defer b.Close()
	checkExtra(t, b, 2000, want, 1, 1) // plus the "meta" column of key 1
	d, _, err := b.Read(ctx, backend.Key{ID: k(1).ID, Column: "meta"}, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "m", string(d))
	// Removing the object drops the column too, after a restart as well.
	require.NoError(t, b.Remove(ctx, k(1).ID, backend.RemoveOptions{}))
	_, _, err = b.Read(ctx, backend.Key{ID: k(1).ID, Column: "meta"}, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
}

func TestRestartWithoutSnapshot(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlobSize: 64 << 10, Sync: SyncNone}
	b := openTest(t, dir, opts)
	want := fill(t, b, 1500)
	require.NoError(t, b.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
	b = openTest(t, dir, opts)
	check(t, b, 1500, want)
	require.NoError(t, b.Close())

	// A corrupt snapshot is ignored the same way.
	require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotName), []byte("garbage"), 0o644))
	b = openTest(t, dir, opts)
	defer b.Close()
	check(t, b, 1500, want)
}

// A stale snapshot (taken before later writes) plus the log tail gives the
// latest state: this is what a crash after a rotation looks like.
func TestSnapshotPlusTail(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone}
	b := openTest(t, dir, opts)
	want := fill(t, b, 500)
	require.NoError(t, b.writeSnapshot())
	for i := 500; i < 800; i++ {
		write(t, b, k(i), val(i, 0))
		want[i] = val(i, 0)
	}
	for i := 0; i < 100; i += 2 {
		write(t, b, k(i), val(i, 7))
		want[i] = val(i, 7)
	}
	require.NoError(t, b.Remove(ctx, k(3).ID, backend.RemoveOptions{}))
	delete(want, 3)
	crash(b)

	b = openTest(t, dir, opts)
	defer b.Close()
	check(t, b, 800, want)
}

// crash abandons a backend without Close: no final snapshot or fsync, as
// if the process had been killed.
func crash(b *Backend) {
	b.closed.Store(true)
	close(b.stop)
	b.bg.Wait()
	if t := b.active.tail; t != nil {
		// A killed process leaves the prepared zero tail in the file.
		close(t.quit)
		<-t.done
		_ = t.mem.Unmap()
	}
	_ = b.closeFiles()
}

func TestTornTailTruncated(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone}
	b := openTest(t, dir, opts)
	for i := 0; i < 100; i++ {
		write(t, b, k(i), val(i, 0))
	}
	active := b.active.path
	good := b.active.size.Load()
	write(t, b, k(100), bytes.Repeat([]byte("x"), 5000))
	crash(b)
	// Cut the last record in half, as a kill in the middle of a write would.
	require.NoError(t, os.Truncate(active, int64(good)+2000))

	b = openTest(t, dir, opts)
	for i := 0; i < 100; i++ {
		require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
	}
	_, _, err := b.Read(ctx, k(100), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
	require.Equal(t, good, b.active.size.Load(), "torn bytes truncated")
	// New writes after the truncation are readable after another restart.
	write(t, b, k(101), []byte("after"))
	require.NoError(t, b.Close())
	b = openTest(t, dir, opts)
	defer b.Close()
	require.Equal(t, []byte("after"), mustRead(t, b, k(101)))
	require.Equal(t, val(5, 0), mustRead(t, b, k(5)))
}

func TestTornTailGarbage(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, Options{Sync: SyncNone})
	for i := 0; i < 10; i++ {
		write(t, b, k(i), val(i, 0))
	}
	active := b.active.path
	crash(b)
	f, err := os.OpenFile(active, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f.Write(bytes.Repeat([]byte{0xab}, 300))
	f.Close()
	b = openTest(t, dir, Options{Sync: SyncNone})
	defer b.Close()
	for i := 0; i < 10; i++ {
		require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
	}
}

func TestBitFlipDetected(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			dir := t.TempDir()
			b := openTest(t, dir, Options{Sync: SyncNone, Compress: compress})
			defer b.Close()
			data := bytes.Repeat([]byte("0123456789abcdef"), 100)
			write(t, b, k(1), data)
			write(t, b, k(2), data)
			fd, ok, err := b.lookup(k(1).ID, "")
			require.NoError(t, err)
			require.True(t, ok)

			// Flip a data byte of key 1 on disk.
			flip(t, fd.file.path, int64(fd.loc.off+fd.hdr.dataOffset()+7))
			_, _, err = b.Read(ctx, k(1), 0, 0)
			require.ErrorIs(t, err, status.ErrCorrupt)
			_, _, err = b.Read(ctx, k(1), 10, 5)
			require.ErrorIs(t, err, status.ErrCorrupt, "partial reads verify too")
			_, err = b.Lookup(ctx, k(1), backend.LookupOptions{Checksum: true})
			require.ErrorIs(t, err, status.ErrCorrupt)
			require.Equal(t, data, mustRead(t, b, k(2)), "other records unaffected")

			// Flip a header byte of key 2: reads and lookups fail, never
			// return the wrong record.
			fd2, _, _ := b.lookup(k(2).ID, "")
			flip(t, fd2.file.path, int64(fd2.loc.off+90))
			_, _, err = b.Read(ctx, k(2), 0, 0)
			require.ErrorIs(t, err, status.ErrCorrupt)
			_, err = b.Lookup(ctx, k(2), backend.LookupOptions{})
			require.ErrorIs(t, err, status.ErrCorrupt)
		})
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	require.NoError(t, err)
	b[0] ^= 0x40
	_, err = f.WriteAt(b[:], off)
	require.NoError(t, err)
}

func TestRotationByRecordCount(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone, RecordsInBlob: 10})
	defer b.Close()
	for i := 0; i < 35; i++ {
		write(t, b, k(i), []byte("x"))
	}
	require.Equal(t, 4, b.Stats().Extra["data_files"])
}

func TestCompressedOffsetRead(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone, Compress: true})
	defer b.Close()
	data := bytes.Repeat([]byte("compressible "), 1000)
	write(t, b, k(1), data)
	fd, _, _ := b.lookup(k(1).ID, "")
	require.NotZero(t, fd.hdr.flags&recordCompressed)
	require.Less(t, fd.hdr.diskSize, uint64(len(data)))
	d, meta, err := b.Read(ctx, k(1), 100, 50)
	require.NoError(t, err)
	require.Equal(t, data[100:150], d)
	require.Equal(t, uint64(len(data)), meta.Size)
}

func TestBadOptions(t *testing.T) {
	_, err := Open(t.TempDir(), Options{BlobSize: 10})
	require.Error(t, err)
	_, err = Open(t.TempDir(), Options{Sync: 9})
	require.Error(t, err)
}
