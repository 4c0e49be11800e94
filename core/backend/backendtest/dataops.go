package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// The data operations of the write path (offsets, lifetimes, chunked
// uploads, compare-and-swap) as sequences of writes on one column, each with
// the status it must get, and the state the column must be in afterwards.

// step is one write of a sequence.
type step struct {
	req  backend.WriteRequest // Key is filled in
	want status.Code          // OK or the error's status
}

// dataCase is one sequence and its outcome: want is the visible value, or
// nil for "not found" (missing, expired or uncommitted).
type dataCase struct {
	name  string
	steps []step
	want  []byte
	// expire, when set, checks Meta.Expire of the visible value (to the
	// millisecond, the protocol's precision).
	expire time.Time
}

var (
	past   = time.Now().Add(-time.Hour)
	future = time.Now().Add(time.Hour).Truncate(time.Millisecond)
)

func w(data string, mod func(r *backend.WriteRequest)) backend.WriteRequest {
	r := backend.WriteRequest{Data: []byte(data)}
	if mod != nil {
		mod(&r)
	}
	return r
}

func ok(r backend.WriteRequest) step                   { return step{req: r} }
func fails(r backend.WriteRequest, c status.Code) step { return step{req: r, want: c} }

var dataCases = []dataCase{
	// Offsets and appends (ORIGINAL.md 3.3).
	{name: "offset overwrite extends", steps: []step{
		ok(w("55555", nil)), ok(w("43210", func(r *backend.WriteRequest) { r.Offset = 1 }))},
		want: []byte("543210")},
	{name: "offset inside keeps the tail", steps: []step{
		ok(w("abcdef", nil)), ok(w("XY", func(r *backend.WriteRequest) { r.Offset = 2 }))},
		want: []byte("abXYef")},
	{name: "offset past the end zero-fills", steps: []step{
		ok(w("ab", nil)), ok(w("c", func(r *backend.WriteRequest) { r.Offset = 4 }))},
		want: []byte("ab\x00\x00c")},
	{name: "append to a missing key writes", steps: []step{
		ok(w("tail", func(r *backend.WriteRequest) { r.Append = true }))},
		want: []byte("tail")},
	{name: "offset overflow", steps: []step{
		fails(w("xy", func(r *backend.WriteRequest) { r.Offset = ^uint64(0) }), status.Invalid)}},

	// Lifetimes.
	{name: "ttl in the future is visible", steps: []step{
		ok(w("v", func(r *backend.WriteRequest) { r.Expire = future }))},
		want: []byte("v"), expire: future},
	{name: "ttl over is invisible", steps: []step{
		ok(w("v", func(r *backend.WriteRequest) { r.Expire = past }))}},
	{name: "offset write keeps the ttl", steps: []step{
		ok(w("abc", func(r *backend.WriteRequest) { r.Expire = future })),
		ok(w("X", func(r *backend.WriteRequest) { r.Offset = 1 }))},
		want: []byte("aXc"), expire: future},
	{name: "append keeps the ttl", steps: []step{
		ok(w("abc", func(r *backend.WriteRequest) { r.Expire = future })),
		ok(w("d", func(r *backend.WriteRequest) { r.Append = true }))},
		want: []byte("abcd"), expire: future},
	{name: "replace without ttl makes it permanent", steps: []step{
		ok(w("abc", func(r *backend.WriteRequest) { r.Expire = future })), ok(w("new", nil))},
		want: []byte("new")},
	{name: "append to an expired value starts afresh", steps: []step{
		ok(w("old", func(r *backend.WriteRequest) { r.Expire = past })),
		ok(w("new", func(r *backend.WriteRequest) { r.Append = true }))},
		want: []byte("new")},
	{name: "offset write on an expired value zero-fills", steps: []step{
		ok(w("old", func(r *backend.WriteRequest) { r.Expire = past })),
		ok(w("n", func(r *backend.WriteRequest) { r.Offset = 2 }))},
		want: []byte("\x00\x00n")},

	// Chunked uploads.
	{name: "prepare is invisible", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 6 }))}},
	{name: "prepare hides the old value", steps: []step{
		ok(w("old", nil)),
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 6 }))}},
	{name: "plain chunks are invisible", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 6 })),
		ok(w("cd", func(r *backend.WriteRequest) { r.Plain, r.Offset = true, 2 }))}},
	{name: "prepare plain commit", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 6 })),
		ok(w("cd", func(r *backend.WriteRequest) { r.Plain, r.Offset = true, 2 })),
		ok(w("ef", func(r *backend.WriteRequest) { r.Commit, r.Offset, r.TotalSize = true, 4, 6 }))},
		want: []byte("abcdef")},
	{name: "commit cuts to its size", steps: []step{
		ok(w("abc", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 100 })),
		ok(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 3 }))},
		want: []byte("abc")},
	{name: "chunks in any order", steps: []step{
		ok(w("", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 4 })),
		ok(w("cd", func(r *backend.WriteRequest) { r.Plain, r.Offset = true, 2 })),
		ok(w("ab", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 4 }))},
		want: []byte("abcd")},
	{name: "prepare and commit in one write", steps: []step{
		ok(w("whole", func(r *backend.WriteRequest) { r.Prepare, r.Commit, r.TotalSize = true, true, 5 }))},
		want: []byte("whole")},
	{name: "commit sets the ttl, not the upload's", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize, r.Expire = true, 2, future })),
		ok(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 2 }))},
		want: []byte("ab")},
	{name: "upload past its deadline is gone", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize, r.Expire = true, 2, past })),
		fails(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 2 }), status.NotFound)}},
	{name: "chunk past the reservation", steps: []step{
		ok(w("", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 4 })),
		fails(w("abc", func(r *backend.WriteRequest) { r.Plain, r.Offset = true, 2 }), status.Invalid),
		ok(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 0 }))},
		want: []byte{}},
	{name: "prepare chunk past its reservation", steps: []step{
		fails(w("abc", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 2 }), status.Invalid)}},
	{name: "commit larger than prepared", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 2 })),
		fails(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 3 }), status.Invalid),
		ok(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 2 }))},
		want: []byte("ab")},
	{name: "plain without prepare", steps: []step{
		ok(w("old", nil)),
		fails(w("x", func(r *backend.WriteRequest) { r.Plain = true }), status.NotFound)},
		want: []byte("old")},
	{name: "commit without prepare", steps: []step{
		fails(w("x", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 1 }), status.NotFound)}},
	{name: "append in an upload", steps: []step{
		fails(w("x", func(r *backend.WriteRequest) { r.Prepare, r.Append, r.TotalSize = true, true, 1 }), status.Invalid)}},
	{name: "a write abandons the upload", steps: []step{
		ok(w("ab", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 4 })),
		ok(w("new", nil)),
		fails(w("", func(r *backend.WriteRequest) { r.Commit, r.TotalSize = true, 2 }), status.NotFound)},
		want: []byte("new")},
	{name: "offset write over an upload starts afresh", steps: []step{
		ok(w("abcd", func(r *backend.WriteRequest) { r.Prepare, r.TotalSize = true, 4 })),
		ok(w("x", func(r *backend.WriteRequest) { r.Offset = 1 }))},
		want: []byte("\x00x")},
}

// testDataOps runs every dataCase on its own key of one backend.
func testDataOps(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	for i, c := range dataCases {
		t.Run(c.name, func(t *testing.T) {
			k := key(oid(0x40, byte(i)), "c")
			for j, s := range c.steps {
				r := s.req
				r.Key = k
				_, err := b.Write(ctx, &r)
				require.Equal(t, s.want, status.FromError(err), "step %d: %v", j, err)
			}
			data, meta, err := b.Read(ctx, k, 0, 0)
			_, lerr := b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
			seen := collect(t, b, backend.IterateOptions{Start: k.ID, End: k.ID})
			if c.want == nil {
				requireNotFound(t, err, "read")
				requireNotFound(t, lerr, "lookup")
				require.Empty(t, seen, "iterate")
				return
			}
			require.NoError(t, err)
			require.NoError(t, lerr)
			requireData(t, c.want, data)
			require.Equal(t, uint64(len(c.want)), meta.Size)
			require.Len(t, seen, 1, "iterate")
			if !c.expire.IsZero() {
				require.WithinDuration(t, c.expire, meta.Expire, time.Millisecond, "expiry")
				require.WithinDuration(t, c.expire, seen[0].Expire, time.Millisecond, "expiry seen by iterate")
			} else {
				require.True(t, meta.Expire.IsZero(), "no expiry, got %v", meta.Expire)
			}
		})
	}
}

// testExpiryHidesValue: a value that expires between two reads
// disappears at once, and a write with a past expiry hides a live value.
func testExpiryHidesValue(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	k := key(oid(0x41, 1), "")
	write(t, b, k, []byte("live"))
	soon := time.Now().Add(150 * time.Millisecond)
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("short"), Expire: soon})
	require.NoError(t, err)
	data, _ := readAll(t, b, k)
	requireData(t, []byte("short"), data)
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	_, _, err = b.Read(ctx, k, 0, 0)
	requireNotFound(t, err, "read after expiry")
	// A remove of an expired value succeeds or says not found; either way
	// the key is free afterwards.
	if err := b.Remove(ctx, k.ID, backend.RemoveOptions{}); err != nil {
		requireNotFound(t, err, "remove")
	}
	write(t, b, k, []byte("again"))
	data, _ = readAll(t, b, k)
	requireData(t, []byte("again"), data)
}

// testCondition holds Condition.Check (compare-and-swap) to its rules on
// each backend: the checksum a backend's Lookup computes is the SHA-512 of
// the value, timestamps compare exactly, and absent values pass.
func testCondition(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	k := key(oid(0x42, 1), "")
	ts := time.Unix(1_700_000_000, 5).UTC()
	zero := id.ID{}
	sumOf := func(s string) *id.ID { v := id.Transform([]byte(s)); return &v }
	check := func(c backend.Condition) status.Code { return status.FromError(c.Check(ctx, b, k)) }

	require.Equal(t, status.OK, check(backend.Condition{Checksum: sumOf("x")}), "absent key passes any checksum")
	require.Equal(t, status.OK, check(backend.Condition{Checksum: &zero}), "absent key passes the zero checksum")
	require.Equal(t, status.OK, check(backend.Condition{NotOlder: true, Timestamp: ts}), "absent key passes the timestamp")

	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("v1"), Timestamp: ts})
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		cond backend.Condition
		want status.Code
	}{
		{"no condition", backend.Condition{}, status.OK},
		{"checksum matches", backend.Condition{Checksum: sumOf("v1")}, status.OK},
		{"checksum differs", backend.Condition{Checksum: sumOf("v0")}, status.Mismatch},
		{"zero checksum on a present key", backend.Condition{Checksum: &zero}, status.Mismatch},
		{"same timestamp", backend.Condition{NotOlder: true, Timestamp: ts}, status.OK},
		{"newer timestamp", backend.Condition{NotOlder: true, Timestamp: ts.Add(time.Nanosecond)}, status.OK},
		{"older timestamp", backend.Condition{NotOlder: true, Timestamp: ts.Add(-time.Nanosecond)}, status.Mismatch},
		{"both, checksum differs", backend.Condition{Checksum: sumOf("v0"), NotOlder: true, Timestamp: ts}, status.Mismatch},
	} {
		require.Equal(t, c.want, check(c.cond), c.name)
	}

	// An expired or uncommitted value counts as absent.
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("v2"), Expire: past})
	require.NoError(t, err)
	require.Equal(t, status.OK, check(backend.Condition{Checksum: sumOf("v1")}), "expired value is absent")
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("v3"), Prepare: true, TotalSize: 2})
	require.NoError(t, err)
	require.Equal(t, status.OK, check(backend.Condition{Checksum: &zero}), "uncommitted value is absent")
}
