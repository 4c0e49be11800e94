package blob

import (
	"crypto/sha256"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// chunkOf fills buf with the deterministic bytes of [off, off+len(buf)) of
// a test object.
func chunkOf(buf []byte, off uint64) []byte {
	r := rand.New(rand.NewPCG(off, 7))
	for i := 0; i+8 <= len(buf); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(buf) &^ 7; i < len(buf); i++ {
		buf[i] = byte(i)
	}
	return buf
}

func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "data-*"))
	require.NoError(t, err)
	return m
}

func allocated(t *testing.T) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// upload writes size bytes to key in chunks of chunk bytes, the first a
// prepare, the last a commit (unless commit is false).
func upload(t *testing.T, b *Backend, key backend.Key, size uint64, chunk int, from uint64, commit bool) {
	t.Helper()
	buf := make([]byte, chunk)
	for off := from; off < size; off += uint64(chunk) {
		n := min(uint64(chunk), size-off)
		req := &backend.WriteRequest{Key: key, Data: chunkOf(buf[:n], off), Offset: off, Plain: true}
		if off == 0 {
			req.Plain, req.Prepare, req.TotalSize = false, true, size
		}
		if off+n == size && commit {
			req.Plain, req.Commit, req.TotalSize = false, true, size
		}
		_, err := b.Write(ctx, req)
		require.NoError(t, err, "chunk at %d", off)
	}
}

// TestUploadWritesInPlace: a 256 MiB upload in 4 MiB chunks writes each
// chunk once (no rewrite of the value), allocates about one chunk in the
// backend whatever the size, reserves the record without writing zeros,
// and ranged reads read only their blocks.
func TestUploadWritesInPlace(t *testing.T) {
	const size = 256 << 20
	const chunk = 4 << 20
	dir := t.TempDir()
	b := openTest(t, dir, Options{Sync: SyncNone})
	defer b.Close()
	key := k(1)

	before := allocated(t)
	_, err := b.Write(ctx, &backend.WriteRequest{Key: key, Prepare: true, TotalSize: size})
	require.NoError(t, err)
	require.Less(t, b.appendedBytes.Load(), uint64(4096), "a prepare writes its header only")
	require.Len(t, dataFiles(t, dir), 1)
	// (The log's end, not the file's: with mapped appends the file
	// runs on past it, prepared for the next records.)
	require.Equal(t, reservedDisk(size)+headerSize, b.active.size.Load(), "the data file is the reservation")
	require.Less(t, allocated(t)-before, uint64(1<<20), "a prepare allocates nothing like its size")

	buf := make([]byte, chunk)
	before = allocated(t)
	for off := uint64(0); off < size; off += chunk {
		req := &backend.WriteRequest{Key: key, Data: chunkOf(buf, off), Offset: off, Plain: true}
		if off+chunk == size {
			req.Plain, req.Commit, req.TotalSize = false, true, size
		}
		_, err := b.Write(ctx, req)
		require.NoError(t, err)
	}
	grew := allocated(t) - before
	t.Logf("256 MiB upload: %d KiB allocated by the backend", grew>>10)
	require.Less(t, grew, uint64(16<<20), "chunks are not copied into a whole value")
	require.Equal(t, reservedDisk(size)+headerSize, b.active.size.Load(), "chunks are written in place")

	// A ranged read reads its blocks only.
	before = allocated(t)
	got, meta, err := b.Read(ctx, key, 100<<20+5, 1<<20)
	require.NoError(t, err)
	require.Equal(t, uint64(size), meta.Size)
	want := chunkOf(make([]byte, chunk), 100<<20)[5 : 5+1<<20]
	require.Equal(t, want, got)
	require.Less(t, allocated(t)-before, uint64(8<<20), "a ranged read loads its range")

	// The whole value, streamed through Lookup's checksum, matches.
	before = allocated(t)
	_, err = b.Lookup(ctx, key, backend.LookupOptions{Checksum: true})
	require.NoError(t, err)
	require.Less(t, allocated(t)-before, uint64(8<<20), "a checksum lookup streams")
}

// TestUploadCrashAndResume: an upload cut by a crash stays invisible and
// can be finished after the restart (the commit then reads back every
// block to checksum it); a torn trailer leaves it uncommitted; damage to a
// block is found by the reads of that block only.
func TestUploadCrashAndResume(t *testing.T) {
	const size = 10<<20 + 123
	dir := t.TempDir()
	opts := Options{Sync: SyncNone, BlobSize: 1 << 20}
	b := openTest(t, dir, opts)
	upload(t, b, k(1), size, 1<<20, 0, false) // every chunk, no commit
	write(t, b, k(2), []byte("after"))
	crash(b)

	b = openTest(t, dir, opts)
	_, _, err := b.Read(ctx, k(1), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "uncommitted after the crash")
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k(1), Commit: true, TotalSize: size})
	require.NoError(t, err)
	want := chunkOf(make([]byte, 1<<20), 3<<20)
	got, _, err := b.Read(ctx, k(1), 3<<20, 1<<20)
	require.NoError(t, err)
	require.Equal(t, want, got)
	fd, ok, err := b.lookup(k(1).ID, "")
	require.NoError(t, err)
	require.True(t, ok)
	path := fd.file.path
	dataAt := int64(fd.loc.off + fd.hdr.dataOffset())
	trailerAt := int64(fd.loc.off + fd.hdr.trailerOffset())
	require.NoError(t, b.Close())

	// Damage inside block 5: reads of block 5 fail, others do not.
	flip(t, path, dataAt+5<<20+77)
	b = openTest(t, dir, opts)
	_, _, err = b.Read(ctx, k(1), 5<<20, 10)
	require.ErrorIs(t, err, status.ErrCorrupt)
	_, _, err = b.Read(ctx, k(1), 3<<20, 1<<20)
	require.NoError(t, err)
	_, err = b.Lookup(ctx, k(1), backend.LookupOptions{Checksum: true})
	require.ErrorIs(t, err, status.ErrCorrupt)
	require.NoError(t, b.Close())

	// A torn trailer: the upload is uncommitted again and can be committed.
	flip(t, path, trailerAt+20)
	b = openTest(t, dir, opts)
	defer b.Close()
	_, _, err = b.Read(ctx, k(1), 0, 10)
	require.ErrorIs(t, err, status.ErrNotFound)
	upload(t, b, k(1), size, 1<<20, 5<<20, true) // rewrite from block 5 on, commit
	got, meta, err := b.Read(ctx, k(1), size-100, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(size), meta.Size)
	require.Equal(t, chunkOf(make([]byte, size-10<<20), 10<<20)[size-100-10<<20:], got)
	sum := sha256.New()
	for off := uint64(0); off < size; off += 1 << 20 {
		p, _, err := b.Read(ctx, k(1), off, 1<<20)
		require.NoError(t, err)
		sum.Write(p)
	}
	exp := sha256.New()
	for off := uint64(0); off < size; off += 1 << 20 {
		exp.Write(chunkOf(make([]byte, min(1<<20, size-off)), off))
	}
	require.Equal(t, exp.Sum(nil), sum.Sum(nil))
}

// TestDefragAndUploads: defragmentation leaves a file with an upload in
// progress alone (chunks are still written into it), copies committed
// uploads, and drops an upload past its deadline.
func TestDefragAndUploads(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone, BlobSize: 64 << 10}
	b := openTest(t, dir, opts)
	defer func() { b.Close() }()
	// Far enough that the first defragmentation, on a loaded machine,
	// still finds the upload within its deadline.
	soon := time.Now().Add(1500 * time.Millisecond)
	upload(t, b, k(1), 3<<20, 1<<20, 0, true)  // committed
	upload(t, b, k(2), 3<<20, 1<<20, 0, false) // in progress
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k(3), Prepare: true, TotalSize: 1 << 20, Expire: soon})
	require.NoError(t, err)
	for i := 10; i < 30; i++ {
		write(t, b, k(i), make([]byte, 10<<10))
		write(t, b, k(i), make([]byte, 10<<10)) // dead bytes everywhere
	}
	defragAndWait(t, b)
	require.True(t, time.Now().Before(soon), "the setup outlived the upload's deadline")
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k(2), Commit: true, TotalSize: 3 << 20})
	require.NoError(t, err)
	for _, i := range []int{1, 2} {
		got, _, err := b.Read(ctx, k(i), 2<<20, 1<<20)
		require.NoError(t, err)
		require.Equal(t, chunkOf(make([]byte, 1<<20), 2<<20), got, "key %d", i)
	}
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	before := b.Stats().Records
	defragAndWait(t, b)
	require.Equal(t, before-1, b.Stats().Records, "the expired upload leaves the index")
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k(3), Commit: true, TotalSize: 1})
	require.ErrorIs(t, err, status.ErrNotFound)
	got, _, err := b.Read(ctx, k(1), 0, 0)
	require.NoError(t, err)
	require.Len(t, got, 3<<20)
}

// TestPrepareNoSpace: a reservation the disk cannot hold fails with
// NoSpace and leaves the backend writable (only where fallocate works).
func TestPrepareNoSpace(t *testing.T) {
	dir := t.TempDir()
	var sfs syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &sfs))
	free := sfs.Bavail * uint64(sfs.Bsize)
	b := openTest(t, dir, Options{Sync: SyncNone})
	defer b.Close()
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Prepare: true, TotalSize: free + 1<<40})
	if err == nil {
		t.Skip("the file system reserves without fallocate")
	}
	require.ErrorIs(t, err, status.ErrNoSpace)
	write(t, b, k(2), []byte("still writable"))
	require.Equal(t, []byte("still writable"), mustRead(t, b, k(2)))
}

// A commit smaller than its prepare gives the unused part of the
// reservation back to the file system at once.
func TestCommitReleasesUnusedReservation(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, Options{Sync: SyncAlways})
	key := k(1)
	_, err := b.Write(ctx, &backend.WriteRequest{Key: key, Prepare: true, TotalSize: 64 << 20})
	require.NoError(t, err)
	file := b.active.path
	blocks := func() int64 {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(file, &st))
		return st.Blocks * 512
	}
	if blocks() < 32<<20 {
		t.Skip("the file system does not reserve with fallocate")
	}
	data := chunkOf(make([]byte, 1<<20), 0)
	_, err = b.Write(ctx, &backend.WriteRequest{Key: key, Data: data, Commit: true, TotalSize: 1<<20 + 10})
	require.NoError(t, err)
	require.Less(t, blocks(), int64(4<<20), "unused reservation released")
	got, meta, err := b.Read(ctx, key, 0, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(1<<20+10), meta.Size)
	require.Equal(t, data, got[:1<<20])
	require.Equal(t, make([]byte, 10), got[1<<20:])
	require.NoError(t, b.Close())

	b = openTest(t, dir, Options{Sync: SyncAlways})
	defer b.Close()
	_, err = b.Lookup(ctx, key, backend.LookupOptions{Checksum: true})
	require.NoError(t, err)
}
