package blob

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// ReadBuffered gives Read's bytes and metadata for every kind of record
// and range, in the caller's buffer for plain and reserved records, and a
// record that fails its checksum is an error, never bytes.
func TestReadBuffered(t *testing.T) {
	b := openTest(t, t.TempDir(), Options{Sync: SyncNone})
	defer b.Close()
	cb := openTest(t, t.TempDir(), Options{Sync: SyncNone, Compress: true})
	defer cb.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rnd.Uint32())
		}
		return p
	}
	plain, big := random(300<<10), random(3<<20+12345)
	write(t, b, k(1), plain)
	write(t, b, k(2), []byte{})
	// Reserved: a chunked upload with per-block checksums.
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k(3), Data: big[:2<<20], Prepare: true, TotalSize: uint64(len(big))})
	require.NoError(t, err)
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k(3), Data: big[2<<20:], Offset: 2 << 20, Commit: true, TotalSize: uint64(len(big))})
	require.NoError(t, err)
	fd, ok, err := b.lookup(k(3).ID, "")
	require.True(t, ok && err == nil && fd.hdr.reserved(), "k(3) is not a reserved record")
	// Compressed: read through Read, whatever alloc gives.
	squeezable := bytes.Repeat([]byte("compressible "), 10000)
	write(t, cb, k(4), squeezable)

	type rng struct{ off, size uint64 }
	for _, tc := range []struct {
		name   string
		b      *Backend
		key    backend.Key
		ranges []rng
		pooled bool // the data is in alloc's buffer
	}{
		{"plain", b, k(1), []rng{{0, 0}, {0, 100}, {1000, 5000}, {300<<10 - 1, 0}, {0, 1 << 30}}, true},
		{"reserved", b, k(3), []rng{{0, 0}, {0, 1 << 20}, {1<<20 - 10, 20}, {3 << 20, 0}, {5, 4 << 20}}, true},
		{"compressed", cb, k(4), []rng{{0, 0}, {100, 50}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range tc.ranges {
				want, wmeta, err := tc.b.Read(ctx, tc.key, r.off, r.size)
				require.NoError(t, err)
				var buf []byte
				got, meta, err := tc.b.ReadBuffered(ctx, tc.key, r.off, r.size, func(n int) []byte {
					require.Nil(t, buf, "alloc called twice")
					buf = make([]byte, n, n+7)
					return buf
				})
				require.NoError(t, err, "range %v", r)
				require.Equal(t, want, got, "range %v", r)
				require.Equal(t, wmeta, meta)
				if tc.pooled && len(got) > 0 {
					require.NotNil(t, buf, "range %v: alloc not used", r)
					require.True(t, within(buf, got), "range %v: data not in alloc's buffer", r)
				}
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		alloc := func(n int) []byte { return make([]byte, n) }
		_, _, err := b.ReadBuffered(ctx, k(9), 0, 0, alloc)
		require.ErrorIs(t, err, status.ErrNotFound)
		_, _, err = b.ReadBuffered(ctx, k(1), 300<<10+1, 0, alloc)
		require.ErrorIs(t, err, status.ErrInvalid)
		got, _, err := b.ReadBuffered(ctx, k(2), 0, 0, alloc)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("corrupt", func(t *testing.T) {
		for i, key := range []backend.Key{k(1), k(3)} {
			fd, ok, err := b.lookup(key.ID, "")
			require.NoError(t, err)
			require.True(t, ok)
			// A byte of the data's second half (the second block of
			// the reserved record).
			flip(t, fd.file.path, int64(fd.loc.off+fd.hdr.dataOffset()+fd.hdr.dataSize/2))
			got, _, err := b.ReadBuffered(ctx, key, 0, 0, func(n int) []byte { return make([]byte, n) })
			require.ErrorIs(t, err, status.ErrCorrupt, fmt.Sprint("record ", i))
			require.Nil(t, got)
		}
	})
}

// within reports whether p lies inside buf's memory.
func within(buf, p []byte) bool {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return at >= lo && at+uintptr(len(p)) <= lo+uintptr(cap(buf))
}
