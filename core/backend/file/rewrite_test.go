package file

import (
	"bytes"
	"math"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

func pattern(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + seed + i>>11)
	}
	return p
}

// Offset writes and appends on values above the threshold leave what the
// in-memory path leaves.
func TestRewriteMatchesSmallPath(t *testing.T) {
	const base = 3<<20 + 123
	future := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	ts := time.Unix(1800000000, 7)
	for _, tc := range []struct {
		name   string
		base   int
		expire time.Time
		req    backend.WriteRequest
	}{
		{"overwrite", base, time.Time{}, backend.WriteRequest{Offset: 1<<20 - 10, Data: bytes.Repeat([]byte("o"), 100)}},
		{"extend past the end", base, time.Time{}, backend.WriteRequest{Offset: base - 50, Data: bytes.Repeat([]byte("e"), 2000)}},
		{"gap past the end", base, time.Time{}, backend.WriteRequest{Offset: base + 1<<20 + 7, Data: []byte("gap")}},
		{"append", base, time.Time{}, backend.WriteRequest{Append: true, Data: []byte("!")}},
		{"append with expiry kept", base, future, backend.WriteRequest{Append: true, Data: []byte("ttl")}},
		{"append with expiry set", base, future, backend.WriteRequest{Append: true, Data: []byte("ttl"), Expire: future.Add(time.Hour)}},
		{"offset write to a missing key", 0, time.Time{}, backend.WriteRequest{Offset: 2 << 20, Data: []byte("m")}},
		{"append to a missing key", 0, time.Time{}, backend.WriteRequest{Append: true, Data: pattern(3, 2<<20)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			big := open(t, t.TempDir(), Options{Sync: SyncNone})
			small := open(t, t.TempDir(), Options{Sync: SyncNone, RewriteThreshold: math.MaxUint64})
			k := key(oid(1, 2), "col")
			var metas [2]backend.Meta
			for i, b := range []*Backend{big, small} {
				if tc.base > 0 {
					_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: pattern(1, tc.base), Expire: tc.expire,
						UserFlags: 3, Timestamp: ts.Add(-time.Hour)})
					require.NoError(t, err)
				}
				req := tc.req
				req.Key, req.Timestamp, req.UserFlags = k, ts, 42
				m, err := b.Write(ctx, &req)
				require.NoError(t, err)
				metas[i] = m
			}
			require.Equal(t, metas[1], metas[0])
			want, wmeta, err := small.Read(ctx, k, 0, 0)
			require.NoError(t, err)
			got, gmeta, err := big.Read(ctx, k, 0, 0)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "data differs")
			require.Equal(t, wmeta, gmeta)
			requireStatsMatchDisk(t, big)
		})
	}
}

func TestRewriteAppendMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	const size = 128 << 20
	b := open(t, t.TempDir(), Options{Sync: SyncNone})
	k := key(oid(1, 3), "")
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: pattern(2, size)})
	require.NoError(t, err)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Append: true, Data: []byte("!")})
	require.NoError(t, err)
	runtime.ReadMemStats(&ms)
	grew := ms.TotalAlloc - before
	require.Less(t, grew, uint64(16<<20), "allocated %d bytes for a 1-byte append", grew)
	tail, meta, err := b.Read(ctx, k, size-3, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(size+1), meta.Size)
	require.Equal(t, append(pattern(2, size)[size-3:], '!'), tail)
}

// A failure while the new file is built leaves the old one and no
// temporary file.
func TestRewriteFailureKeepsOldValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  errorfs.Injector
	}{
		{"write fails in the copy", errorfs.After(1, errorfs.OnOps(syscall.EIO, errorfs.OpWrite))},
		{"disk full in the copy", errorfs.After(2, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite))},
		{"header write fails", errorfs.After(4, errorfs.OnOps(syscall.EIO, errorfs.OpWrite))},
		{"sync fails", errorfs.OnOps(syscall.EIO, errorfs.OpSync)},
		{"rename fails", errorfs.OnOps(syscall.EIO, errorfs.OpRename)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, toggle, _ := faultyBackend(t, Options{})
			k := key(oid(1, 4), "")
			old := pattern(4, 2<<20+5)
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: old})
			require.NoError(t, err)
			toggle.Injector = tc.inj
			toggle.Enable()
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Append: true, Data: []byte("lost")})
			toggle.Disable()
			require.Error(t, err)
			b.SetReadOnly(false)
			got, _, err := b.Read(ctx, k, 0, 0)
			require.NoError(t, err)
			require.True(t, bytes.Equal(old, got), "old value intact")
			require.Empty(t, tempFiles(t, b.dir))
			requireStatsMatchDisk(t, b)
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Append: true, Data: []byte("kept")})
			require.NoError(t, err)
		})
	}
}
