package blob

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

// Tests of the write path: combined appends, vectored writes in pieces,
// group commit, and crashes around them.

// bigVal is a value of n pseudo-random bytes (incompressible), different
// for every seed.
func bigVal(seed, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sizes around the thresholds of the write path: small records encoded
// into the leader's buffer (<= 64 KiB), large ones written from the
// caller's slice, and writes of 512 KiB and more made in pieces of 256 KiB
// when they will be synced.
var writeSizes = []int{0, 1, 7, 1000, 64<<10 - 136, 64<<10 - 135, 64 << 10, 100_003,
	256<<10 + 4095, 256<<10 + 8191, 1 << 20, 1<<20 + 17, 3<<20 + 333}

func TestWriteSizesSurviveRestart(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncNone} {
		t.Run(fmt.Sprint("sync=", mode), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: mode, BlobSize: 2 << 20}
			b := openTest(t, dir, opts)
			want := map[int][]byte{}
			for i, n := range writeSizes {
				// A small record between the large ones shares their pages.
				write(t, b, k(1000+i), val(i, 1))
				want[1000+i] = val(i, 1)
				v := bigVal(i, n)
				write(t, b, k(i), v)
				want[i] = v
			}
			for i, v := range want {
				require.True(t, bytes.Equal(v, mustRead(t, b, k(i))), "key %d", i)
			}
			require.Greater(t, b.Stats().Extra["data_files"].(int), 2, "rotations between large records")
			crash(b) // no final sync or snapshot
			b = openTest(t, dir, opts)
			defer b.Close()
			for i, v := range want {
				require.True(t, bytes.Equal(v, mustRead(t, b, k(i))), "key %d after restart", i)
			}
		})
	}
}

// Concurrent writers of mixed sizes: every acknowledged write is readable,
// before and after a crash, in every sync mode.
func TestConcurrentMixedWriters(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncNone} {
		t.Run(fmt.Sprint("sync=", mode), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: mode, BlobSize: 2 << 20}
			b := openTest(t, dir, opts)
			const writers, each = 12, 40
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						n := 100 + (w*each+i)%5*50
						if (w+i)%11 == 0 {
							n = 300<<10 + w*1000 + i
						}
						write(t, b, k(w*1000+i), bigVal(w*1000+i, n))
					}
				})
			}
			wg.Wait()
			check := func(b *Backend) {
				for w := range writers {
					for i := range each {
						d := mustRead(t, b, k(w*1000+i))
						require.True(t, bytes.Equal(bigVal(w*1000+i, len(d)), d), "writer %d record %d", w, i)
					}
				}
			}
			check(b)
			crash(b)
			b = openTest(t, dir, opts)
			defer b.Close()
			check(b)
			require.Equal(t, uint64(writers*each), b.Stats().Records)
		})
	}
}

// Group commit: concurrent SyncAlways writers share syncs.
func TestGroupCommitShares(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{})
	defer b.Close()
	const writers, each = 16, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				write(t, b, k(w*1000+i), val(i, w))
			}
		})
	}
	wg.Wait()
	syncs := b.Stats().Extra["group_syncs"].(int64)
	t.Logf("%d writes, %d syncs", writers*each, syncs)
	require.Positive(t, syncs)
	require.Less(t, syncs, int64(writers*each), "writers share syncs")
	require.Zero(t, b.commit.active.Load(), "every writer left")
}

// A lone writer never waits to gather others.
func TestLoneWriterDoesNotGather(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{})
	defer b.Close()
	for i := range 50 {
		write(t, b, k(i), val(i, 0))
	}
	require.Equal(t, int64(50), b.Stats().Extra["group_syncs"].(int64), "one sync per write")
}

// A crash right after a rotation: the new active file is empty (or has a
// torn record) and every acknowledged write before it is kept.
func TestCrashRightAfterRotation(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprint("torn=", torn), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: SyncNone, BlobSize: 16 << 10}
			b := openTest(t, dir, opts)
			want := map[int][]byte{}
			files := 1
			for i := 0; files < 3; i++ {
				write(t, b, k(i), val(i, 0))
				want[i] = val(i, 0)
				files = b.Stats().Extra["data_files"].(int)
			}
			// Rotation happens before the append that does not fit: the
			// last write opened a new file and is its first record. Write
			// until the next rotation and stop right there.
			last := b.active
			for i := 10000; b.active == last; i++ {
				write(t, b, k(i), val(i, 0))
				want[i] = val(i, 0)
			}
			active := b.active.path
			size := b.active.size.Load()
			crash(b)
			if torn {
				f, err := os.OpenFile(active, os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.WriteAt(bytes.Repeat([]byte{0x31}, 100), int64(size))
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			b = openTest(t, dir, opts)
			for i, v := range want {
				require.Equal(t, v, mustRead(t, b, k(i)), "key %d", i)
			}
			require.Equal(t, size, b.active.size.Load(), "torn bytes cut")
			require.NoError(t, b.Close())
			st, err := os.Stat(active)
			require.NoError(t, err)
			require.Equal(t, int64(size), st.Size(), "the file is its log after Close")
		})
	}
}

// A large record cut short by a crash (written in pieces, so any of them
// may be missing) is truncated away at the next start; the records before
// it stay.
func TestTornLargeRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(t *testing.T, path string, start, size int64)
	}{
		{"cut in the middle", func(t *testing.T, path string, start, size int64) {
			require.NoError(t, os.Truncate(path, start+size/2))
		}},
		{"header lost", func(t *testing.T, path string, start, size int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(make([]byte, headerSize), start)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"tail lost", func(t *testing.T, path string, start, size int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(make([]byte, 100), start+size-100)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openTest(t, dir, Options{})
			for i := range 10 {
				write(t, b, k(i), val(i, 0))
			}
			start := b.active.size.Load()
			big := bigVal(7, 2<<20+5)
			write(t, b, k(100), big)
			path := b.active.path
			size := b.active.size.Load() - start
			crash(b)
			tc.cut(t, path, int64(start), int64(size))

			b = openTest(t, dir, Options{})
			defer b.Close()
			for i := range 10 {
				require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
			}
			_, _, err := b.Read(ctx, k(100), 0, 0)
			require.ErrorIs(t, err, status.ErrNotFound)
			st, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, int64(start), st.Size())
			// Writing goes on after the cut.
			write(t, b, k(101), big)
			require.True(t, bytes.Equal(big, mustRead(t, b, k(101))))
		})
	}
}

// Failures in the middle of combined appends: every writer gets an answer,
// the backend turns read-only, and after a restart every acknowledged
// write is there (and nothing that was refused).
func TestConcurrentWritersDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  errorfs.Injector
		sync SyncMode
		size int
	}{
		{"enospc", errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite), SyncNone, 500},
		{"short-write", errorfs.OnOpsShort(1000, errorfs.OpWrite), SyncNone, 700},
		{"short-write-large", errorfs.OnOpsShort(300<<10, errorfs.OpWrite), SyncAlways, 600 << 10},
		{"eio-on-datasync", errorfs.OnOps(syscall.EIO, errorfs.OpDatasync), SyncAlways, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			toggle := errorfs.NewToggle(onData(errorfs.Once(tc.inj)))
			fsys := errorfs.Wrap(vfs.Default, toggle)
			opts := Options{FS: fsys, Sync: tc.sync}
			b := openTest(t, dir, opts)
			const writers, each = 8, 30
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				acked = map[int]bool{}
				fails int
			)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						key := w*1000 + i
						if w == 0 && i == each/2 {
							toggle.Enable()
						}
						_, err := b.Write(ctx, &backend.WriteRequest{Key: k(key), Data: bigVal(key, tc.size)})
						mu.Lock()
						if err == nil {
							acked[key] = true
						} else {
							fails++
							if !errors.Is(err, status.ErrReadOnly) && !errors.Is(err, status.ErrNoSpace) &&
								!errors.Is(err, status.ErrIO) {
								t.Errorf("unexpected error %v", err)
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Positive(t, fails)
			require.True(t, b.Stats().ReadOnly)
			for key := range acked {
				require.True(t, bytes.Equal(bigVal(key, tc.size), mustRead(t, b, k(key))), "key %d", key)
			}
			require.NoError(t, b.Close())

			b = openTest(t, dir, Options{Sync: tc.sync})
			defer b.Close()
			for w := range writers {
				for i := range each {
					key := w*1000 + i
					d, _, err := b.Read(ctx, k(key), 0, 0)
					if acked[key] {
						require.NoError(t, err, "acknowledged key %d", key)
						require.True(t, bytes.Equal(bigVal(key, tc.size), d))
					} else if tc.name != "eio-on-datasync" {
						// A refused write may be on disk only when the data
						// was written and the sync failed.
						require.ErrorIs(t, err, status.ErrNotFound, "refused key %d", key)
					}
				}
			}
		})
	}
}

// keyHash of the default column is the hash of the ID alone, which Write
// uses for the stripe and the index both.
func TestKeyHashDefaultColumn(t *testing.T) {
	for i := range 100 {
		oid, err := id.FromKey("", fmt.Sprint(i))
		require.NoError(t, err)
		require.Equal(t, xxhash.Sum64(oid[:]), keyHash(oid, ""))
		d := xxhash.New()
		d.Write(oid[:])
		d.WriteString("col")
		require.Equal(t, d.Sum64(), keyHash(oid, "col"))
	}
}

// writeInPieces writes the same bytes as one vectored write, for buffers
// of any sizes.
func TestWriteInPieces(t *testing.T) {
	dir := t.TempDir()
	var bufs [][]byte
	var want []byte
	for i, n := range []int{136, 3, writebackPiece - 139, 1, writebackPiece + 5, 0, 7, 3 * writebackPiece} {
		b := bigVal(i, n)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	f, err := vfs.Create(vfs.Default, dir+"/f")
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("head"))
	require.NoError(t, err)
	require.NoError(t, writeInPieces(f, f.(vfs.WritebackStarter), bufs, 4))
	got, err := os.ReadFile(dir + "/f")
	require.NoError(t, err)
	require.True(t, bytes.Equal(append([]byte("head"), want...), got))
}
