package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/digest"
	"github.com/elliptics/elliptics/core/id"
)

// testDigests checks a backend's range hashes against sums computed from
// what Iterate shows, after writes, overwrites, appends, column removes,
// object removes and an upload in progress (which counts as absent).
func testDigests(t *testing.T, b backend.Backend) {
	d, ok := b.(backend.Digester)
	if !ok {
		t.Skip("backend keeps no range hashes")
	}
	for i := range 50 {
		write(t, b, key(oid(byte(i*5), byte(i)), ""), pattern(10+i, byte(i)))
	}
	write(t, b, key(oid(1, 1), "col"), []byte("c"))
	write(t, b, key(oid(0, 0), ""), []byte("overwritten"))
	appendTo(t, b, key(oid(5, 1), ""), []byte("more"))
	require.NoError(t, b.Remove(ctx, oid(10, 2), backend.RemoveOptions{}))
	require.NoError(t, b.Remove(ctx, oid(1, 1), backend.RemoveOptions{Column: "col", OnlyColumn: true}))
	_, err := b.Write(ctx, &backend.WriteRequest{Key: key(oid(200, 9), ""), Data: []byte("up"), Prepare: true, TotalSize: 10})
	require.NoError(t, err)
	RequireDigests(t, b, d)
}

// RequireDigests waits for d's sums to be ready and compares them with
// sums of the records Iterate visits.
func RequireDigests(t *testing.T, b backend.Backend, d backend.Digester) {
	t.Helper()
	var got []uint64
	require.Eventually(t, func() bool {
		var ok bool
		var err error
		got, ok, err = d.Digests(ctx, 0, digest.Buckets-1)
		require.NoError(t, err)
		return ok
	}, 10*time.Second, 5*time.Millisecond, "range hashes never ready")
	want, err := digest.Compute(0, digest.Buckets-1, func(add func(id.ID, uint64)) error {
		return b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
			add(r.ID, digest.Of(r.ID, r.Column, r.Timestamp.UnixNano(), r.Size))
			return nil
		})
	})
	require.NoError(t, err)
	for i := range want {
		require.Equal(t, want[i], got[i], "bucket %d", i)
	}
}
