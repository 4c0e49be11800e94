//go:build linux

package blob

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// waitReady waits until the preparer has readied the mapped tail at least
// n bytes past the append position.
func waitReady(t *testing.T, b *Backend, n uint64) {
	t.Helper()
	tl := b.active.tail
	require.NotNil(t, tl, "active file mapped")
	require.Eventually(t, func() bool {
		return tl.ready.Load() >= b.active.size.Load()+n
	}, 10*time.Second, time.Millisecond)
}

func TestMappedAppendsOnlyWithSyncNone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		mapped bool
	}{
		{"none", Options{Sync: SyncNone}, true},
		{"none, turned off", Options{Sync: SyncNone, NoMappedAppends: true}, false},
		{"interval", Options{Sync: SyncInterval}, false},
		{"always", Options{Sync: SyncAlways}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openTest(t, t.TempDir(), tc.opts)
			defer b.Close()
			require.Equal(t, tc.mapped, b.active.tail != nil)
			if tc.mapped {
				waitReady(t, b, 64<<10)
			}
			for i := 0; i < 50; i++ {
				write(t, b, k(i), val(i, 0))
			}
			mapped := b.Stats().Extra["mapped_appends"].(int64)
			if tc.mapped {
				require.Positive(t, mapped)
			} else {
				require.Zero(t, mapped)
			}
			for i := 0; i < 50; i++ {
				require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
			}
		})
	}
}

// A kill leaves the prepared zeros past the log; the next Open cuts them
// and every record is there, and Close leaves the file exactly its log.
func TestMappedTailAfterCrash(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone}
	b := openTest(t, dir, opts)
	waitReady(t, b, 1<<20)
	for i := 0; i < 500; i++ {
		write(t, b, k(i), val(i, 0))
	}
	require.Positive(t, b.Stats().Extra["mapped_appends"].(int64))
	active, logSize := b.active.path, b.active.size.Load()
	crash(b)
	st, err := os.Stat(active)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(logSize), "prepared tail left by the crash")

	b = openTest(t, dir, opts)
	require.Equal(t, logSize, b.active.size.Load(), "zero tail cut at open")
	for i := 0; i < 500; i++ {
		require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
	}
	write(t, b, k(1000), []byte("after"))
	require.NoError(t, b.Close())
	st, err = os.Stat(active)
	require.NoError(t, err)
	b = openTest(t, dir, opts)
	defer b.Close()
	require.Equal(t, int64(b.active.size.Load()), st.Size(), "Close cut the file to its log")
	require.Equal(t, []byte("after"), mustRead(t, b, k(1000)))
}

// Rotation cuts the old active file to its log; a crash before it did
// leaves zeros at the end of a file that is no longer the last, which the
// next Open cuts too, while garbage there is still treated as corruption.
func TestMappedTailOfOlderFiles(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone, BlobSize: 64 << 10}
	b := openTest(t, dir, opts)
	want := map[int][]byte{}
	for i := 0; b.Stats().Extra["data_files"].(int) < 3; i++ {
		write(t, b, k(i), val(i, 0))
		want[i] = val(i, 0)
	}
	files := b.files.ordered()
	first := files[0]
	require.NoError(t, b.Close())
	st, err := os.Stat(first.path)
	require.NoError(t, err)
	require.Equal(t, int64(first.size.Load()), st.Size(), "rotation cut the old file to its log")

	// Zeros past the log of the first file, and no snapshot: a full scan.
	require.NoError(t, os.Truncate(first.path, st.Size()+100<<10))
	require.NoError(t, os.Remove(dir+"/"+snapshotName))
	b = openTest(t, dir, opts)
	for i, v := range want {
		require.Equal(t, v, mustRead(t, b, k(i)), "key %d", i)
	}
	require.NoError(t, b.Close())
	st2, err := os.Stat(first.path)
	require.NoError(t, err)
	require.Equal(t, st.Size(), st2.Size(), "zero tail of an older file cut")
}

// A fault while copying into the mapping (here: the file was cut under
// it, as an I/O error would) fails the write with an I/O error and turns
// the backend read-only; nothing acknowledged is lost.
func TestMappedAppendFault(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNone}
	b := openTest(t, dir, opts)
	waitReady(t, b, 1<<20)
	for i := 0; i < 10; i++ {
		write(t, b, k(i), val(i, 0))
	}
	// Stop the preparer so it cannot grow the file again, then cut the
	// file behind its back: the next copy lands past the end.
	tl := b.active.tail
	close(tl.quit)
	<-tl.done
	tl.quit, tl.done = make(chan struct{}), make(chan struct{})
	go func() { <-tl.quit; close(tl.done) }()
	pos := b.active.size.Load()
	require.NoError(t, os.Truncate(b.active.path, int64(pos)))

	// Larger than the rest of the page the file now ends in, so the copy
	// reaches pages wholly past the end.
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k(100), Data: make([]byte, 32<<10)})
	require.ErrorIs(t, err, status.ErrIO)
	require.True(t, b.Stats().ReadOnly)
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k(101), Data: val(101, 0)})
	require.ErrorIs(t, err, status.ErrReadOnly)
	for i := 0; i < 10; i++ {
		require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
	}
	require.NoError(t, b.Close())

	b = openTest(t, dir, opts)
	defer b.Close()
	for i := 0; i < 10; i++ {
		require.Equal(t, val(i, 0), mustRead(t, b, k(i)))
	}
	_, _, err = b.Read(ctx, k(100), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
}

// rssFile is the process's resident file-backed memory (RssFile in
// /proc/self/status), in bytes.
func rssFile(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// The pages behind the append position leave the page tables, so the
// mapping does not make the whole active file count as resident memory.
func TestMappedTailResidentMemory(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone})
	defer b.Close()
	waitReady(t, b, 1<<20)
	before := rssFile(t)
	value := make([]byte, 16<<10)
	for i := 0; i < 4096; i++ { // 64 MiB
		// Through the mapping every time, however busy the machine is.
		waitReady(t, b, 1<<20)
		write(t, b, k(i), value)
	}
	require.Equal(t, int64(4096), b.Stats().Extra["mapped_appends"].(int64))
	grew := rssFile(t) - before
	t.Logf("64 MiB appended through the mapping: resident file memory grew %d KiB", grew>>10)
	require.Less(t, grew, int64(32<<20))
}

// Overwrites read the header of the record they replace from the mapped
// tail, not with pread, and still see the right record: the values, the
// live accounting (a second overwrite finds the first) and a rotation,
// after which the old file's headers are read from the file again.
func TestOverwritesReadHeadersFromMappedTail(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone, BlobSize: 1 << 20})
	defer b.Close()
	waitReady(t, b, 64<<10)
	reads := func() int64 { return b.Stats().Extra["mapped_header_reads"].(int64) }
	for i := 0; i < 50; i++ {
		write(t, b, k(i), val(i, 0))
	}
	before := reads()
	for round := 1; round <= 2; round++ {
		for i := 0; i < 50; i++ {
			write(t, b, k(i), val(i, round))
		}
	}
	require.GreaterOrEqual(t, reads()-before, int64(100), "every overwrite read the old header from the mapping")
	for i := 0; i < 50; i++ {
		require.Equal(t, val(i, 2), mustRead(t, b, k(i)))
	}
	require.Equal(t, uint64(50), b.Stats().Records, "overwrites replaced their keys' records")

	// Fill the 1 MiB file until it rotates: the old file is unmapped and
	// its headers come from pread.
	first := b.active
	for i := 50; b.active == first; i++ {
		write(t, b, k(i), val(i, 0))
	}
	require.Nil(t, first.mapped.Load(), "a rotated file is no longer mapped")
	before = reads()
	write(t, b, k(0), val(0, 3))
	require.Equal(t, before, reads(), "the header in the old file is read from the file")
	require.Equal(t, val(0, 3), mustRead(t, b, k(0)))
}
