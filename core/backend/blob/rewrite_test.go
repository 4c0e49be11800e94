package blob

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

// A value over the rewrite threshold and not a whole number of blocks.
const bigBase = 3<<20 + 123

// rewriteAt reports whether key's record is a rewrite record (the value
// went through rewrite.go, not the in-memory path).
func rewriteAt(t *testing.T, b *Backend, key backend.Key) bool {
	t.Helper()
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	fd, ok, err := b.lookup(key.ID, key.Column)
	require.NoError(t, err)
	require.True(t, ok)
	return fd.hdr.flags&recordRewrite != 0
}

// Every kind of offset write and append, on values above the threshold,
// leaves what the in-memory path leaves (same data and metadata), before
// and after a restart (with and without a snapshot).
func TestRewriteMatchesSmallPath(t *testing.T) {
	future := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	later := future.Add(time.Hour)
	ts := time.Unix(1800000000, 7)
	for _, tc := range []struct {
		name    string
		column  string
		base    int  // size of the value written first (0: none)
		upload  bool // write the base by a chunked upload
		expire  time.Time
		expired bool // the base has expired before the write
		req     backend.WriteRequest
		rewrite bool // expected to take the rewrite path
	}{
		{name: "overwrite across a block boundary", base: bigBase,
			req: backend.WriteRequest{Offset: 1<<20 - 10, Data: bytes.Repeat([]byte("o"), 100)}, rewrite: true},
		{name: "overwrite the first byte", base: bigBase,
			req: backend.WriteRequest{Offset: 1, Data: []byte("x")}, rewrite: true},
		{name: "extend past the end", base: bigBase,
			req: backend.WriteRequest{Offset: bigBase - 50, Data: bytes.Repeat([]byte("e"), 2000)}, rewrite: true},
		{name: "gap past the end", base: bigBase,
			req: backend.WriteRequest{Offset: bigBase + 1<<20 + 7, Data: []byte("gap")}, rewrite: true},
		{name: "append one byte", base: bigBase,
			req: backend.WriteRequest{Append: true, Data: []byte("!")}, rewrite: true},
		{name: "append blocks", base: bigBase,
			req: backend.WriteRequest{Append: true, Data: bigVal(5, 2<<20+3)}, rewrite: true},
		{name: "append to exactly one block", base: 1 << 20,
			req: backend.WriteRequest{Append: true, Data: []byte("ab")}, rewrite: true},
		{name: "named column", column: "col", base: bigBase,
			req: backend.WriteRequest{Append: true, Data: []byte("c")}, rewrite: true},
		{name: "committed upload as base", base: bigBase, upload: true,
			req: backend.WriteRequest{Offset: 2<<20 + 5, Data: []byte("upload")}, rewrite: true},
		{name: "expiry kept", base: bigBase, expire: future,
			req: backend.WriteRequest{Append: true, Data: []byte("ttl")}, rewrite: true},
		{name: "expiry set by the write", base: bigBase, expire: future,
			req: backend.WriteRequest{Append: true, Data: []byte("ttl"), Expire: later}, rewrite: true},
		{name: "expired base is no base", base: bigBase, expire: time.Now().Add(300 * time.Millisecond), expired: true,
			req: backend.WriteRequest{Offset: 2 << 20, Data: []byte("fresh")}, rewrite: true},
		{name: "offset write to a missing key", req: backend.WriteRequest{Offset: 3 << 20, Data: []byte("m")}, rewrite: true},
		{name: "append to a missing key", req: backend.WriteRequest{Append: true, Data: bigVal(6, 2<<20)}},
		{name: "append to a small value", base: 1000, req: backend.WriteRequest{Append: true, Data: []byte("s")}},
		{name: "rewrite of nearly all the value", base: bigBase,
			req: backend.WriteRequest{Offset: 10, Data: bigVal(7, bigBase-20)}},
	} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", tc.name, compress), func(t *testing.T) {
				// big takes the rewrite path, small never does.
				dirs := [2]string{t.TempDir(), t.TempDir()}
				opts := [2]Options{{Sync: SyncNone, Compress: compress},
					{Sync: SyncNone, Compress: compress, RewriteThreshold: math.MaxUint64}}
				var bs [2]*Backend
				key := backend.Key{ID: k(1).ID, Column: tc.column}
				for i := range bs {
					bs[i] = openTest(t, dirs[i], opts[i])
					if tc.base == 0 {
						continue
					}
					if tc.upload {
						upload(t, bs[i], key, uint64(tc.base), 1<<20+17, 0, true)
					} else {
						_, err := bs[i].Write(ctx, &backend.WriteRequest{Key: key, Data: bigVal(1, tc.base), UserFlags: 3,
							Timestamp: ts.Add(-time.Hour), Expire: tc.expire})
						require.NoError(t, err)
					}
				}
				if tc.expired {
					time.Sleep(time.Until(tc.expire) + 10*time.Millisecond)
				}
				var metas [2]backend.Meta
				for i, b := range bs {
					req := tc.req
					req.Key, req.Timestamp, req.UserFlags = key, ts, 42
					m, err := b.Write(ctx, &req)
					require.NoError(t, err)
					metas[i] = m
				}
				require.Equal(t, metas[1], metas[0])
				require.Equal(t, tc.rewrite, rewriteAt(t, bs[0], key), "rewrite path taken")
				require.False(t, rewriteAt(t, bs[1], key))
				want := mustRead(t, bs[1], key)
				require.Equal(t, int(metas[0].Size), len(want))
				check := func(b *Backend) {
					t.Helper()
					got, meta, err := b.Read(ctx, key, 0, 0)
					require.NoError(t, err)
					require.True(t, bytes.Equal(want, got), "data differs")
					require.Equal(t, metas[1], meta)
					info, err := b.Lookup(ctx, key, backend.LookupOptions{Checksum: true})
					require.NoError(t, err)
					winfo, err := bs[1].Lookup(ctx, key, backend.LookupOptions{Checksum: true})
					require.NoError(t, err)
					require.Equal(t, winfo.Checksum, info.Checksum)
					if len(want) > 10 {
						part, _, err := b.Read(ctx, key, uint64(len(want)-10), 5)
						require.NoError(t, err)
						require.Equal(t, want[len(want)-10:len(want)-5], part)
					}
				}
				check(bs[0])
				sb, ss := bs[0].Stats(), bs[1].Stats()
				require.Equal(t, ss.Records, sb.Records)
				require.Equal(t, ss.Bytes, sb.Bytes)
				require.NoError(t, bs[0].Close())
				b := openTest(t, dirs[0], opts[0])
				check(b)
				require.Equal(t, sb.Bytes, b.Stats().Bytes)
				require.NoError(t, b.Close())
				require.NoError(t, os.Remove(filepath.Join(dirs[0], snapshotName)))
				b = openTest(t, dirs[0], opts[0])
				check(b)
				require.Equal(t, sb.Bytes, b.Stats().Bytes, "after a full scan")
				require.NoError(t, b.Close())
				require.NoError(t, bs[1].Close())
			})
		}
	}
}

// A 1-byte append to a 256 MiB value costs the backend a few MiB of
// memory, not the value.
func TestRewriteAppendMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 512 MiB")
	}
	const size = 256 << 20
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone})
	defer b.Close()
	upload(t, b, k(1), size, 4<<20, 0, true)

	before := allocated(t)
	meta, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Append: true, Data: []byte("!")})
	require.NoError(t, err)
	grew := allocated(t) - before
	require.Less(t, grew, uint64(32<<20), "allocated %d bytes for a 1-byte append", grew)
	t.Logf("1-byte append to %d MiB: %d KiB allocated", size>>20, grew>>10)
	require.Equal(t, uint64(size+1), meta.Size)
	require.True(t, rewriteAt(t, b, k(1)))

	// The upload's last chunk, then the appended byte.
	got, _, err := b.Read(ctx, k(1), size-4<<20, 0)
	require.NoError(t, err)
	require.Equal(t, append(chunkOf(make([]byte, 4<<20), size-4<<20), '!'), got)
}

// Two or more concurrent appends to one big key lose none; readers meanwhile
// see whole values only.
func TestRewriteConcurrentAppends(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone})
	defer b.Close()
	base := bigVal(2, 2<<20)
	write(t, b, k(1), base)
	const writers, each = 4, 3
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Append: true,
					Data: []byte(fmt.Sprintf("<%d.%d>", w, i))})
				assert.NoError(t, err)
			}
		}()
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, _, err := b.Read(ctx, k(1), uint64(len(base)-16), 0)
			if !assert.NoError(t, err) {
				return
			}
			assert.Equal(t, base[len(base)-16:], got[:16])
			if len(got) > 16 {
				assert.Equal(t, byte('<'), got[16])
				assert.Equal(t, byte('>'), got[len(got)-1])
			}
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	got := mustRead(t, b, k(1))
	require.Equal(t, base, got[:len(base)])
	tail := string(got[len(base):])
	for w := 0; w < writers; w++ {
		for i := 0; i < each; i++ {
			require.Equal(t, 1, bytes.Count([]byte(tail), []byte(fmt.Sprintf("<%d.%d>", w, i))), "append %d.%d", w, i)
		}
	}
}

// A failure in the middle of a rewrite (a block write, the commit's syncs)
// leaves the old value readable, now and after a crash and restart, and the
// abandoned record is reclaimed by defragmentation.
func TestRewriteFailureKeepsOldValue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inj      errorfs.Injector
		sync     SyncMode
		readOnly bool // a failed sync turns the backend read-only
		snapshot bool // restart from a snapshot (else a full scan)
		wantErr  string
	}{
		// The first write is the reservation's header.
		{"block write fails", errorfs.After(2, errorfs.OnOps(syscall.EIO, errorfs.OpWrite)), SyncNone, false, true, "rewrite: write block"},
		{"block write fails, full scan", errorfs.After(2, errorfs.OnOps(syscall.EIO, errorfs.OpWrite)), SyncNone, false, false, "rewrite: write block"},
		{"disk full in the copy", errorfs.After(1, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite)), SyncNone, false, true, "rewrite: write block"},
		{"short write in the copy", errorfs.After(3, errorfs.OnOpsShort(100, errorfs.OpWrite)), SyncNone, false, true, "rewrite: write block"},
		{"trailer write fails", errorfs.After(6, errorfs.OnOps(syscall.EIO, errorfs.OpWrite)), SyncNone, false, false, "commit: write trailer"},
		// Syncs: the rotation to a file for the new record, then the
		// commit's two (the reservation's header is not synced alone).
		{"table sync fails", errorfs.After(1, errorfs.OnOps(syscall.EIO, errorfs.OpDatasync)), SyncAlways, true, true, "commit: fsync"},
		{"trailer sync fails", errorfs.After(2, errorfs.OnOps(syscall.EIO, errorfs.OpDatasync)), SyncAlways, true, false, "commit: fsync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			toggle := errorfs.NewToggle(onData(tc.inj))
			fsys := errorfs.Wrap(vfs.Default, toggle)
			// Small files: the failed record ends up in a file of its own,
			// which defragmentation can then drop whole.
			opts := Options{FS: fsys, Sync: tc.sync, BlobSize: 64 << 10}
			b := openTest(t, dir, opts)
			old := bigVal(3, bigBase)
			write(t, b, k(1), old)
			write(t, b, k(2), []byte("other"))
			if tc.snapshot {
				require.NoError(t, b.Close())
				b = openTest(t, dir, opts)
			}

			toggle.Enable()
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Append: true, Data: []byte("lost")})
			toggle.Disable()
			require.ErrorContains(t, err, tc.wantErr)
			require.Equal(t, tc.readOnly, b.Stats().ReadOnly)
			require.Equal(t, old, mustRead(t, b, k(1)), "old value intact")
			require.False(t, rewriteAt(t, b, k(1)))

			crash(b)
			if !tc.snapshot {
				_ = os.Remove(filepath.Join(dir, snapshotName))
			}
			opts.FS = nil
			b = openTest(t, dir, opts)
			defer b.Close()
			require.Equal(t, old, mustRead(t, b, k(1)), "old value intact after restart")
			require.Equal(t, []byte("other"), mustRead(t, b, k(2)))
			require.Equal(t, uint64(2), b.Stats().Records)

			// Nothing live points at the abandoned record: once its file is
			// no longer the active one, defragmentation drops it.
			write(t, b, k(3), bytes.Repeat([]byte("z"), 70<<10))
			before := dirSize(t, b)
			st := defragAndWait(t, b)
			require.GreaterOrEqual(t, st.Reclaimed, uint64(bigBase), "abandoned rewrite reclaimed")
			require.Less(t, dirSize(t, b), before-bigBase)
			require.Equal(t, old, mustRead(t, b, k(1)))

			// And the same append now succeeds.
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k(1), Append: true, Data: []byte("kept")})
			require.NoError(t, err)
			require.Equal(t, append(old[:len(old):len(old)], "kept"...), mustRead(t, b, k(1)))
		})
	}
}

// Rewritten values in closed files survive defragmentation and restarts.
func TestRewriteAndDefrag(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone, BlobSize: 64 << 10}
	b := openTest(t, dir, opts)
	want := map[int][]byte{}
	for i := 0; i < 3; i++ {
		want[i] = bigVal(i, 1<<20+i*1000)
		write(t, b, k(i), want[i])
	}
	for round := 0; round < 3; round++ {
		for i := 0; i < 3; i++ {
			d := []byte(fmt.Sprintf("[%d]", round))
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k(i), Append: true, Data: d})
			require.NoError(t, err)
			want[i] = append(want[i], d...)
		}
	}
	write(t, b, k(9), []byte("rotate"))
	defragAndWait(t, b)
	for i := 0; i < 3; i++ {
		require.Equal(t, want[i], mustRead(t, b, k(i)))
	}
	require.NoError(t, b.Close())
	b = openTest(t, dir, opts)
	defer b.Close()
	for i := 0; i < 3; i++ {
		require.Equal(t, want[i], mustRead(t, b, k(i)))
	}
	require.Equal(t, uint64(4), b.Stats().Records)
}

// A defragmentation that scans a file while a rewrite is filling a record
// in it takes the record for dead (it is not in the index yet); if the
// rewrite publishes it before the swap, the file must be left for later,
// not rewritten without it.
func TestRewriteDuringDefragScan(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone, BlobSize: 64 << 10}
	b := openTest(t, dir, opts)
	defer b.Close()
	old := bigVal(4, 2<<20)
	write(t, b, k(1), old)
	write(t, b, k(2), []byte("rotate"))
	// As a defragmentation run does, hold off the background snapshots: one
	// would wait for the paused rewrite's swap lock, and the writes below
	// behind it (a test-only deadlock: real rewrites do not pause).
	b.snapMu.Lock()
	defer b.snapMu.Unlock()

	filled, resume := make(chan struct{}), make(chan struct{})
	testHookRewriteFilled = func() { close(filled); <-resume }
	t.Cleanup(func() { testHookRewriteFilled, testHookDefragSwap = nil, nil })
	done := make(chan error, 1)
	go func() {
		_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Append: true, Data: []byte("new")})
		done <- err
	}()
	<-filled
	testHookRewriteFilled = nil
	// The rewrite's record is alone in the active file; close that file.
	b.appendMu.Lock()
	f := b.active
	b.appendMu.Unlock()
	write(t, b, k(3), bytes.Repeat([]byte("r"), 70<<10))
	b.appendMu.Lock()
	require.NotSame(t, f, b.active)
	b.appendMu.Unlock()

	testHookDefragSwap = func() {
		close(resume)
		require.NoError(t, <-done)
	}
	_, obsolete, err := b.compactFile(ctx, f)
	require.NoError(t, err)
	require.Empty(t, obsolete, "file left for a later run")
	want := append(old[:len(old):len(old)], "new"...)
	require.Equal(t, want, mustRead(t, b, k(1)))

	// A later run rewrites it, keeping the record.
	testHookDefragSwap = nil
	_, _, err = b.compactFile(ctx, f)
	require.NoError(t, err)
	require.Equal(t, want, mustRead(t, b, k(1)))
}

// A process killed in the middle of a rewrite (its record filled, not
// committed) restarts with the old value, from a snapshot or a full scan.
func TestRewriteCrashMidway(t *testing.T) {
	for _, fullScan := range []bool{false, true} {
		t.Run(fmt.Sprintf("full-scan=%v", fullScan), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: SyncAlways}
			b := openTest(t, dir, opts)
			old := bigVal(5, bigBase)
			write(t, b, k(1), old)
			require.NoError(t, b.Close())
			b = openTest(t, dir, opts)

			filled, resume := make(chan struct{}), make(chan struct{})
			testHookRewriteFilled = func() { close(filled); <-resume }
			t.Cleanup(func() { testHookRewriteFilled = nil })
			done := make(chan error, 1)
			go func() {
				_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Offset: 10, Data: []byte("never")})
				done <- err
			}()
			<-filled
			testHookRewriteFilled = nil
			crash(b)
			if fullScan {
				require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
			}
			b2 := openTest(t, dir, opts)
			defer b2.Close()
			require.Equal(t, old, mustRead(t, b2, k(1)))
			require.Equal(t, uint64(1), b2.Stats().Records)
			require.Equal(t, uint64(bigBase), b2.Stats().Bytes)

			// The killed backend's rewrite finds its files closed.
			close(resume)
			require.Error(t, <-done)
			require.Equal(t, old, mustRead(t, b2, k(1)))
		})
	}
}
