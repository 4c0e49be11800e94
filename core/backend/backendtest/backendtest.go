// Package backendtest is the conformance suite every backend.Backend must
// pass. A backend's tests call Run with a function that opens a fresh, empty
// backend:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend {
//			return mybackend.Open(t.TempDir())
//		})
//	}
//
// Run checks only what package backend documents: write/read semantics
// (offsets, appends, columns, expiry, chunked uploads, compare-and-swap
// conditions), metadata, Lookup checksums, Remove, Iterate
// order and bounds, Stats, concurrent use, ownership of data slices and the
// behaviour after Close. Every behaviour is a subtest on its own backend, so
// a failure names the rule that was broken.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Run runs the conformance suite. open must return a fresh, empty backend
// for each call; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) backend.Backend) {
	fresh := func(t *testing.T) backend.Backend {
		t.Helper()
		b := open(t)
		require.NotNil(t, b, "open returned nil")
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return b
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ownClose {
				b := open(t)
				require.NotNil(t, b, "open returned nil")
				tc.fn(t, b)
				return
			}
			tc.fn(t, fresh(t))
		})
	}
}

type test struct {
	name     string
	fn       func(t *testing.T, b backend.Backend)
	ownClose bool // the test closes the backend itself
}

var tests = []test{
	{name: "RoundTrip", fn: testRoundTrip},
	{name: "DataOps", fn: testDataOps},
	{name: "ExpiryHidesValue", fn: testExpiryHidesValue},
	{name: "Condition", fn: testCondition},
	{name: "ReadMissing", fn: testReadMissing},
	{name: "WriteOffset", fn: testWriteOffset},
	{name: "Append", fn: testAppend},
	{name: "ReadRange", fn: testReadRange},
	{name: "ReadRangeOverflow", fn: testReadRangeOverflow},
	{name: "MetaPreserved", fn: testMetaPreserved},
	{name: "MetaZeroTimestamp", fn: testMetaZeroTimestamp},
	{name: "Lookup", fn: testLookup},
	{name: "LookupChecksum", fn: testLookupChecksum},
	{name: "LookupMissing", fn: testLookupMissing},
	{name: "ColumnsIndependent", fn: testColumnsIndependent},
	{name: "RemoveColumn", fn: testRemoveColumn},
	{name: "RemoveObject", fn: testRemoveObject},
	{name: "RemoveMissing", fn: testRemoveMissing},
	{name: "RemoveThenRewrite", fn: testRemoveThenRewrite},
	{name: "IterateOrder", fn: testIterateOrder},
	{name: "IterateBounds", fn: testIterateBounds},
	{name: "IterateEverything", fn: testIterateEverything},
	{name: "IterateSkipsRemoved", fn: testIterateSkipsRemoved},
	{name: "IterateStopsOnError", fn: testIterateStopsOnError},
	{name: "IterateCanceled", fn: testIterateCanceled},
	{name: "IterateCallsBack", fn: testIterateCallsBack},
	{name: "Stats", fn: testStats},
	{name: "Digests", fn: testDigests},
	{name: "ConcurrentDistinctKeys", fn: testConcurrentDistinctKeys},
	{name: "ConcurrentOverwriteAtomic", fn: testConcurrentOverwriteAtomic},
	{name: "WriteCopiesData", fn: testWriteCopiesData},
	{name: "ReadResultStable", fn: testReadResultStable},
	{name: "Closed", fn: testClosed, ownClose: true},
}

// ---- helpers ----

var ctx = context.Background()

// fixedTS has nanoseconds so backends are checked to keep full precision.
var fixedTS = time.Unix(1_700_000_000, 123_456_789).UTC()

// oid returns an ID whose first byte is hi and last byte lo, so tests can
// build IDs that sort in a known order and land on different shards.
func oid(hi, lo byte) id.ID {
	var o id.ID
	o[0] = hi
	o[id.Size-1] = lo
	return o
}

func key(o id.ID, column string) backend.Key { return backend.Key{ID: o, Column: column} }

func write(t *testing.T, b backend.Backend, k backend.Key, data []byte) backend.Meta {
	t.Helper()
	m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data})
	require.NoError(t, err, "write %s %q", k.ID.Short(), k.Column)
	require.Equal(t, uint64(len(data)), m.Size, "Write returned meta size")
	return m
}

func writeAt(t *testing.T, b backend.Backend, k backend.Key, data []byte, off uint64) backend.Meta {
	t.Helper()
	m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data, Offset: off})
	require.NoError(t, err, "write %s %q at %d", k.ID.Short(), k.Column, off)
	return m
}

func appendTo(t *testing.T, b backend.Backend, k backend.Key, data []byte) backend.Meta {
	t.Helper()
	m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data, Append: true})
	require.NoError(t, err, "append %s %q", k.ID.Short(), k.Column)
	return m
}

func readAll(t *testing.T, b backend.Backend, k backend.Key) ([]byte, backend.Meta) {
	t.Helper()
	data, m, err := b.Read(ctx, k, 0, 0)
	require.NoError(t, err, "read %s %q", k.ID.Short(), k.Column)
	require.Equal(t, uint64(len(data)), m.Size, "Read meta size vs data read")
	return data, m
}

// requireData compares byte strings treating nil and empty as equal.
func requireData(t *testing.T, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	require.Equal(t, want, got, msgAndArgs...)
}

func requireNotFound(t *testing.T, err error, what string) {
	t.Helper()
	require.Error(t, err, what)
	require.True(t, errors.Is(err, status.ErrNotFound), "%s: want ErrNotFound, got %v", what, err)
}

func collect(t *testing.T, b backend.Backend, opts backend.IterateOptions) []backend.Record {
	t.Helper()
	var recs []backend.Record
	err := b.Iterate(ctx, opts, func(r backend.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err, "iterate")
	return recs
}

func keysOf(recs []backend.Record) []backend.Key {
	out := make([]backend.Key, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out
}

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31) ^ seed
	}
	return p
}

// ---- write / read ----

func testRoundTrip(t *testing.T, b backend.Backend) {
	cases := []struct {
		name string
		data []byte
	}{
		{"text", []byte("hello, elliptics")},
		{"binary with NULs", []byte{0, 1, 0, 0, 0xff, 0, 'a', 0}},
		{"all zeros", make([]byte, 100)},
		{"empty", []byte{}},
		{"nil", nil},
		{"one byte", []byte{0}},
		{"1 MiB", pattern(1<<20, 7)},
	}
	for i, c := range cases {
		k := key(oid(byte(i*17), byte(i)), "")
		m := write(t, b, k, c.data)
		got, rm := readAll(t, b, k)
		requireData(t, c.data, got, "case %s", c.name)
		require.Equal(t, uint64(len(c.data)), rm.Size, "case %s", c.name)
		require.Equal(t, m.Size, rm.Size, "case %s", c.name)
		require.True(t, m.Timestamp.Equal(rm.Timestamp), "case %s: Write and Read timestamps differ", c.name)
	}
	// Every value is still intact after the others were written.
	for i, c := range cases {
		got, _ := readAll(t, b, key(oid(byte(i*17), byte(i)), ""))
		requireData(t, c.data, got, "case %s after all writes", c.name)
	}
}

func testReadMissing(t *testing.T, b backend.Backend) {
	_, _, err := b.Read(ctx, key(oid(1, 1), ""), 0, 0)
	requireNotFound(t, err, "read missing key")
	_, _, err = b.Read(ctx, key(oid(1, 1), "meta"), 0, 0)
	requireNotFound(t, err, "read missing column of missing key")

	write(t, b, key(oid(1, 1), ""), []byte("x"))
	_, _, err = b.Read(ctx, key(oid(1, 1), "meta"), 0, 0)
	requireNotFound(t, err, "read missing column of existing key")
	_, _, err = b.Read(ctx, key(oid(1, 2), ""), 0, 0)
	requireNotFound(t, err, "read neighbouring missing key")

	write(t, b, key(oid(2, 2), "meta"), []byte("y"))
	_, _, err = b.Read(ctx, key(oid(2, 2), ""), 0, 0)
	requireNotFound(t, err, "read missing default column")
}

func testWriteOffset(t *testing.T, b backend.Backend) {
	cases := []struct {
		name   string
		init   []byte // nil: key missing before the offset write
		data   []byte
		offset uint64
		want   []byte
	}{
		{"inside", []byte("55555"), []byte("43210"), 1, []byte("543210")},
		{"fully inside", []byte("0123456789"), []byte("ab"), 3, []byte("012ab56789")},
		{"at end", []byte("abc"), []byte("def"), 3, []byte("abcdef")},
		{"past end zero-fills", []byte("abc"), []byte("xy"), 6, []byte("abc\x00\x00\x00xy")},
		{"missing key", nil, []byte("abc"), 3, []byte("\x00\x00\x00abc")},
		{"empty data past end", []byte("ab"), []byte{}, 4, []byte("ab\x00\x00")},
		{"plain write replaces", []byte("long old value"), []byte("new"), 0, []byte("new")},
		{"plain write grows", []byte("ab"), []byte("abcdef"), 0, []byte("abcdef")},
		{"plain write empty", []byte("gone"), []byte{}, 0, []byte{}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := key(oid(byte(i+1), 0), "")
			if c.init != nil {
				write(t, b, k, c.init)
			}
			m := writeAt(t, b, k, c.data, c.offset)
			require.Equal(t, uint64(len(c.want)), m.Size, "Write meta size")
			got, rm := readAll(t, b, k)
			requireData(t, c.want, got)
			require.Equal(t, uint64(len(c.want)), rm.Size)
			info, err := b.Lookup(ctx, k, backend.LookupOptions{})
			require.NoError(t, err)
			require.Equal(t, uint64(len(c.want)), info.Size, "Lookup size")
		})
	}
}

func testAppend(t *testing.T, b backend.Backend) {
	k := key(oid(3, 0), "")

	m := appendTo(t, b, k, []byte("abc"))
	require.Equal(t, uint64(3), m.Size, "append to missing key creates it")
	got, rm := readAll(t, b, k)
	require.Equal(t, []byte("abc"), got)
	require.Equal(t, uint64(3), rm.Size)

	m = appendTo(t, b, k, []byte("de\x00f"))
	require.Equal(t, uint64(7), m.Size)
	got, _ = readAll(t, b, k)
	require.Equal(t, []byte("abcde\x00f"), got)

	m = appendTo(t, b, k, nil)
	require.Equal(t, uint64(7), m.Size, "empty append keeps size")

	// Offset is ignored when appending.
	m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("XY"), Offset: 1, Append: true})
	require.NoError(t, err)
	require.Equal(t, uint64(9), m.Size)
	got, _ = readAll(t, b, k)
	require.Equal(t, []byte("abcde\x00fXY"), got)

	info, err := b.Lookup(ctx, k, backend.LookupOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(9), info.Size)

	// Append to a missing column of an existing object.
	kc := key(oid(3, 0), "log")
	m = appendTo(t, b, kc, []byte("1"))
	require.Equal(t, uint64(1), m.Size)
	appendTo(t, b, kc, []byte("2"))
	got, _ = readAll(t, b, kc)
	require.Equal(t, []byte("12"), got)
	got, _ = readAll(t, b, k)
	require.Equal(t, []byte("abcde\x00fXY"), got, "default column untouched")

	// Append after an empty value.
	ke := key(oid(4, 0), "")
	write(t, b, ke, []byte{})
	m = appendTo(t, b, ke, []byte("z"))
	require.Equal(t, uint64(1), m.Size)
	got, _ = readAll(t, b, ke)
	require.Equal(t, []byte("z"), got)
}

func testReadRange(t *testing.T, b backend.Backend) {
	k := key(oid(5, 0), "")
	data := []byte("0123456789")
	write(t, b, k, data)
	cases := []struct {
		name         string
		offset, size uint64
		want         []byte
		invalid      bool
	}{
		{"whole", 0, 0, data, false},
		{"size exact", 0, 10, data, false},
		{"prefix", 0, 4, []byte("0123"), false},
		{"middle", 3, 4, []byte("3456"), false},
		{"offset to end", 6, 0, []byte("6789"), false},
		{"size beyond end clipped", 7, 100, []byte("789"), false},
		{"size beyond end from 0", 0, 11, data, false},
		{"last byte", 9, 1, []byte("9"), false},
		{"offset equals size", 10, 0, nil, false},
		{"offset equals size with size", 10, 5, nil, false},
		{"offset past end", 11, 0, nil, true},
		{"offset far past end", 1000, 1, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, m, err := b.Read(ctx, k, c.offset, c.size)
			if c.invalid {
				require.Error(t, err)
				require.True(t, errors.Is(err, status.ErrInvalid), "want ErrInvalid, got %v", err)
				return
			}
			require.NoError(t, err)
			requireData(t, c.want, got)
			require.Equal(t, uint64(len(data)), m.Size, "Meta.Size is the whole size")
		})
	}

	// Ranges on an empty value.
	ke := key(oid(5, 1), "")
	write(t, b, ke, nil)
	got, m, err := b.Read(ctx, ke, 0, 10)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, uint64(0), m.Size)
	_, _, err = b.Read(ctx, ke, 1, 0)
	require.True(t, errors.Is(err, status.ErrInvalid), "offset past end of empty value: got %v", err)
}

func testReadRangeOverflow(t *testing.T, b backend.Backend) {
	k := key(oid(6, 0), "")
	write(t, b, k, []byte("0123456789"))
	cases := []struct {
		name         string
		offset, size uint64
		want         []byte
	}{
		{"max size from 0", 0, math.MaxUint64, []byte("0123456789")},
		{"max size from 2", 2, math.MaxUint64, []byte("23456789")},
		{"max size at end", 10, math.MaxUint64, nil},
		{"near max size", 5, math.MaxUint64 - 3, []byte("56789")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				got []byte
				m   backend.Meta
				err error
			)
			require.NotPanics(t, func() { got, m, err = b.Read(ctx, k, c.offset, c.size) })
			require.NoError(t, err)
			requireData(t, c.want, got)
			require.Equal(t, uint64(10), m.Size)
		})
	}
	// A huge offset is simply past the end.
	require.NotPanics(t, func() {
		_, _, err := b.Read(ctx, k, math.MaxUint64, math.MaxUint64)
		require.True(t, errors.Is(err, status.ErrInvalid), "got %v", err)
	})
	require.NotPanics(t, func() {
		_, _, err := b.Read(ctx, k, math.MaxUint64-1, 2)
		require.True(t, errors.Is(err, status.ErrInvalid), "got %v", err)
	})
}

// ---- metadata ----

func testMetaPreserved(t *testing.T, b backend.Backend) {
	cases := []struct {
		name   string
		column string
		ts     time.Time
		flags  uint64
	}{
		{"default column", "", fixedTS, 0x1234_5678_9abc_def0},
		{"named column", "meta", fixedTS.Add(time.Hour), 1},
		{"all flag bits", "x", time.Unix(1, 1), math.MaxUint64},
		{"zero flags", "y", time.Unix(2_000_000_000, 999_999_999), 0},
	}
	o := oid(7, 0)
	for _, c := range cases {
		k := key(o, c.column)
		m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte(c.name), Timestamp: c.ts, UserFlags: c.flags})
		require.NoError(t, err)
		require.True(t, c.ts.Equal(m.Timestamp), "%s: Write timestamp %v want %v", c.name, m.Timestamp, c.ts)
		require.Equal(t, c.flags, m.UserFlags, "%s: Write flags", c.name)
	}
	byCol := map[string]backend.Record{}
	for _, r := range collect(t, b, backend.IterateOptions{}) {
		byCol[r.Column] = r
	}
	for _, c := range cases {
		k := key(o, c.column)
		_, m, err := b.Read(ctx, k, 0, 0)
		require.NoError(t, err)
		require.True(t, c.ts.Equal(m.Timestamp), "%s: Read timestamp %v want %v", c.name, m.Timestamp, c.ts)
		require.Equal(t, c.flags, m.UserFlags, "%s: Read flags", c.name)
		require.Equal(t, uint64(len(c.name)), m.Size)

		info, err := b.Lookup(ctx, k, backend.LookupOptions{})
		require.NoError(t, err)
		require.True(t, c.ts.Equal(info.Timestamp), "%s: Lookup timestamp %v want %v", c.name, info.Timestamp, c.ts)
		require.Equal(t, c.flags, info.UserFlags, "%s: Lookup flags", c.name)
		require.Equal(t, uint64(len(c.name)), info.Size)

		r, ok := byCol[c.column]
		require.True(t, ok, "%s: not iterated", c.name)
		require.Equal(t, o, r.ID)
		require.True(t, c.ts.Equal(r.Timestamp), "%s: Iterate timestamp %v want %v", c.name, r.Timestamp, c.ts)
		require.Equal(t, c.flags, r.UserFlags, "%s: Iterate flags", c.name)
		require.Equal(t, uint64(len(c.name)), r.Size)
	}

	// A later write replaces timestamp and flags, including by append and
	// offset writes.
	k := key(o, "")
	ts2 := fixedTS.Add(24 * time.Hour)
	m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("+"), Append: true, Timestamp: ts2, UserFlags: 42})
	require.NoError(t, err)
	require.True(t, ts2.Equal(m.Timestamp))
	require.Equal(t, uint64(42), m.UserFlags)
	_, m, err = b.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.True(t, ts2.Equal(m.Timestamp), "timestamp after append: %v want %v", m.Timestamp, ts2)
	require.Equal(t, uint64(42), m.UserFlags)

	ts3 := ts2.Add(time.Second)
	_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("!"), Offset: 1, Timestamp: ts3, UserFlags: 43})
	require.NoError(t, err)
	info, err := b.Lookup(ctx, k, backend.LookupOptions{})
	require.NoError(t, err)
	require.True(t, ts3.Equal(info.Timestamp), "timestamp after offset write: %v want %v", info.Timestamp, ts3)
	require.Equal(t, uint64(43), info.UserFlags)
}

func testMetaZeroTimestamp(t *testing.T, b backend.Backend) {
	k := key(oid(8, 0), "")
	before := time.Now()
	m, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("now")})
	after := time.Now()
	require.NoError(t, err)
	inRange := func(ts time.Time, what string) {
		t.Helper()
		require.False(t, ts.IsZero(), "%s: zero timestamp", what)
		// Allow for backends that store seconds or microseconds.
		require.False(t, ts.Before(before.Add(-2*time.Second)), "%s: %v before %v", what, ts, before)
		require.False(t, ts.After(after.Add(2*time.Second)), "%s: %v after %v", what, ts, after)
	}
	inRange(m.Timestamp, "Write")
	_, rm, err := b.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	inRange(rm.Timestamp, "Read")
	require.True(t, m.Timestamp.Equal(rm.Timestamp), "Write and Read timestamps differ")
	info, err := b.Lookup(ctx, k, backend.LookupOptions{})
	require.NoError(t, err)
	inRange(info.Timestamp, "Lookup")
	recs := collect(t, b, backend.IterateOptions{})
	require.Len(t, recs, 1)
	inRange(recs[0].Timestamp, "Iterate")
}

// ---- lookup ----

func testLookup(t *testing.T, b backend.Backend) {
	k := key(oid(9, 0), "")
	data := pattern(4096, 3)
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data, Timestamp: fixedTS, UserFlags: 77})
	require.NoError(t, err)
	info, err := b.Lookup(ctx, k, backend.LookupOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(len(data)), info.Size)
	require.True(t, fixedTS.Equal(info.Timestamp))
	require.Equal(t, uint64(77), info.UserFlags)
	require.True(t, info.Checksum.IsZero(), "checksum computed without being asked for")
}

func testLookupChecksum(t *testing.T, b backend.Backend) {
	cases := []struct {
		name string
		data []byte
	}{
		{"text", []byte("checksum me")},
		{"binary", []byte{0, 0, 1, 0xfe, 0}},
		{"empty", nil},
		{"256 KiB", pattern(256<<10, 9)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := key(oid(10, byte(i)), "")
			write(t, b, k, c.data)
			info, err := b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
			require.NoError(t, err)
			require.Equal(t, id.Transform(c.data), info.Checksum)
			require.Equal(t, uint64(len(c.data)), info.Size)
			info, err = b.Lookup(ctx, k, backend.LookupOptions{})
			require.NoError(t, err)
			require.True(t, info.Checksum.IsZero(), "checksum computed without being asked for")
		})
	}
	t.Run("after offset write and append", func(t *testing.T) {
		k := key(oid(10, 100), "c")
		write(t, b, k, []byte("55555"))
		writeAt(t, b, k, []byte("43210"), 1)
		appendTo(t, b, k, []byte("!"))
		info, err := b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
		require.NoError(t, err)
		require.Equal(t, id.Transform([]byte("543210!")), info.Checksum)
	})
}

func testLookupMissing(t *testing.T, b backend.Backend) {
	for _, opts := range []backend.LookupOptions{{}, {Checksum: true}} {
		_, err := b.Lookup(ctx, key(oid(11, 0), ""), opts)
		requireNotFound(t, err, "lookup missing key")
	}
	write(t, b, key(oid(11, 0), ""), []byte("x"))
	_, err := b.Lookup(ctx, key(oid(11, 0), "meta"), backend.LookupOptions{})
	requireNotFound(t, err, "lookup missing column")
}

// ---- columns and remove ----

func testColumnsIndependent(t *testing.T, b backend.Backend) {
	o := oid(12, 0)
	kd, km := key(o, ""), key(o, "meta")
	write(t, b, kd, []byte("data value"))
	write(t, b, km, []byte("m"))

	got, m := readAll(t, b, kd)
	require.Equal(t, []byte("data value"), got)
	require.Equal(t, uint64(10), m.Size)
	got, m = readAll(t, b, km)
	require.Equal(t, []byte("m"), got)
	require.Equal(t, uint64(1), m.Size)

	// Writes to one column leave the other alone, whatever the mode.
	appendTo(t, b, km, []byte("eta"))
	writeAt(t, b, km, []byte("E"), 1)
	got, _ = readAll(t, b, kd)
	require.Equal(t, []byte("data value"), got)
	got, _ = readAll(t, b, km)
	require.Equal(t, []byte("mEta"), got)

	write(t, b, kd, []byte("d"))
	got, _ = readAll(t, b, km)
	require.Equal(t, []byte("mEta"), got)

	infoD, err := b.Lookup(ctx, kd, backend.LookupOptions{Checksum: true})
	require.NoError(t, err)
	infoM, err := b.Lookup(ctx, km, backend.LookupOptions{Checksum: true})
	require.NoError(t, err)
	require.Equal(t, uint64(1), infoD.Size)
	require.Equal(t, uint64(4), infoM.Size)
	require.Equal(t, id.Transform([]byte("d")), infoD.Checksum)
	require.Equal(t, id.Transform([]byte("mEta")), infoM.Checksum)

	// Column names are compared exactly.
	_, _, err = b.Read(ctx, key(o, "Meta"), 0, 0)
	requireNotFound(t, err, "column names are case-sensitive")
	_, _, err = b.Read(ctx, key(o, "meta "), 0, 0)
	requireNotFound(t, err, "column names are exact")
}

func testRemoveColumn(t *testing.T, b backend.Backend) {
	o := oid(13, 0)
	write(t, b, key(o, ""), []byte("data"))
	write(t, b, key(o, "meta"), []byte("meta"))

	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "meta", OnlyColumn: true}))
	_, _, err := b.Read(ctx, key(o, "meta"), 0, 0)
	requireNotFound(t, err, "read removed column")
	got, _ := readAll(t, b, key(o, ""))
	require.Equal(t, []byte("data"), got, "other column stays")

	write(t, b, key(o, "meta"), []byte("meta2"))
	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "", OnlyColumn: true}))
	_, _, err = b.Read(ctx, key(o, ""), 0, 0)
	requireNotFound(t, err, "read removed default column")
	_, err = b.Lookup(ctx, key(o, ""), backend.LookupOptions{})
	requireNotFound(t, err, "lookup removed default column")
	got, _ = readAll(t, b, key(o, "meta"))
	require.Equal(t, []byte("meta2"), got, "named column stays")

	recs := collect(t, b, backend.IterateOptions{})
	require.Equal(t, []backend.Key{key(o, "meta")}, keysOf(recs))
}

func testRemoveObject(t *testing.T, b backend.Backend) {
	o, other := oid(14, 0), oid(14, 1)
	cols := []string{"", "meta", "a", "b"}
	for _, c := range cols {
		write(t, b, key(o, c), []byte("v"+c))
	}
	write(t, b, key(other, ""), []byte("other"))

	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{}))
	for _, c := range cols {
		_, _, err := b.Read(ctx, key(o, c), 0, 0)
		requireNotFound(t, err, fmt.Sprintf("read column %q of removed object", c))
		_, err = b.Lookup(ctx, key(o, c), backend.LookupOptions{})
		requireNotFound(t, err, fmt.Sprintf("lookup column %q of removed object", c))
	}
	got, _ := readAll(t, b, key(other, ""))
	require.Equal(t, []byte("other"), got, "neighbour survives")
	require.Equal(t, []backend.Key{key(other, "")}, keysOf(collect(t, b, backend.IterateOptions{})))

	// Column is ignored without OnlyColumn: the whole object goes.
	write(t, b, key(o, ""), []byte("x"))
	write(t, b, key(o, "meta"), []byte("y"))
	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "meta"}))
	_, _, err := b.Read(ctx, key(o, ""), 0, 0)
	requireNotFound(t, err, "default column after whole-object remove")
	_, _, err = b.Read(ctx, key(o, "meta"), 0, 0)
	requireNotFound(t, err, "meta column after whole-object remove")
}

func testRemoveMissing(t *testing.T, b backend.Backend) {
	o := oid(15, 0)
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{}), "remove missing key")
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "meta", OnlyColumn: true}), "remove column of missing key")

	write(t, b, key(o, ""), []byte("x"))
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "meta", OnlyColumn: true}), "remove missing column")
	got, _ := readAll(t, b, key(o, ""))
	require.Equal(t, []byte("x"), got, "failed column remove leaves the object")

	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{}))
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{}), "remove twice")

	write(t, b, key(o, "meta"), []byte("y"))
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "", OnlyColumn: true}), "remove missing default column")
	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "meta", OnlyColumn: true}))
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "meta", OnlyColumn: true}), "remove column twice")
	// Removing the last column leaves nothing behind.
	requireNotFound(t, b.Remove(ctx, o, backend.RemoveOptions{}), "remove object whose last column is gone")
}

func testRemoveThenRewrite(t *testing.T, b backend.Backend) {
	o := oid(16, 0)
	k := key(o, "")
	write(t, b, k, []byte("first version, long"))
	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{}))
	_, _, err := b.Read(ctx, k, 0, 0)
	requireNotFound(t, err, "read after remove")

	write(t, b, k, []byte("second"))
	got, _ := readAll(t, b, k)
	require.Equal(t, []byte("second"), got)

	// Appending and offset writes after remove start from nothing.
	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{}))
	m := appendTo(t, b, k, []byte("ap"))
	require.Equal(t, uint64(2), m.Size)
	got, _ = readAll(t, b, k)
	require.Equal(t, []byte("ap"), got)

	require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{Column: "", OnlyColumn: true}))
	m = writeAt(t, b, k, []byte("z"), 2)
	require.Equal(t, uint64(3), m.Size)
	got, _ = readAll(t, b, k)
	require.Equal(t, []byte("\x00\x00z"), got)

	// Iterate and Lookup see the new version.
	info, err := b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
	require.NoError(t, err)
	require.Equal(t, id.Transform([]byte("\x00\x00z")), info.Checksum)
	recs := collect(t, b, backend.IterateOptions{})
	require.Len(t, recs, 1)
	require.Equal(t, uint64(3), recs[0].Size)
}

// ---- iterate ----

// populate writes a set of records spread over the ID space, with several
// columns on some IDs, and returns their keys in the order Iterate must use.
func populate(t *testing.T, b backend.Backend) []backend.Key {
	t.Helper()
	ids := []id.ID{
		oid(0x50, 0), oid(0x10, 0), oid(0x30, 0), oid(0x20, 0), oid(0x40, 0),
		oid(0x30, 1), oid(0x30, 0xff), oid(0xf0, 0), oid(0x05, 9), oid(0x81, 0),
	}
	colsOf := func(i int) []string {
		switch i % 3 {
		case 0:
			return []string{""}
		case 1:
			return []string{"meta", "", "b", "a"}
		default:
			return []string{"z", "meta"}
		}
	}
	var keys []backend.Key
	for i, o := range ids {
		for _, c := range colsOf(i) {
			k := key(o, c)
			write(t, b, k, []byte(fmt.Sprintf("%s/%s", o.Short(), c)))
			keys = append(keys, k)
		}
	}
	sortKeys(keys)
	return keys
}

func sortKeys(keys []backend.Key) {
	less := func(a, b backend.Key) bool {
		if c := a.ID.Compare(b.ID); c != 0 {
			return c < 0
		}
		return a.Column < b.Column
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func filterKeys(keys []backend.Key, start, end id.ID) []backend.Key {
	var out []backend.Key
	for _, k := range keys {
		if !k.ID.Less(start) && !end.Less(k.ID) {
			out = append(out, k)
		}
	}
	return out
}

func testIterateOrder(t *testing.T, b backend.Backend) {
	require.Empty(t, collect(t, b, backend.IterateOptions{}), "fresh backend is empty")
	want := populate(t, b)
	recs := collect(t, b, backend.IterateOptions{})
	require.Equal(t, want, keysOf(recs), "ascending (ID, column) order")
	for _, r := range recs {
		want := fmt.Sprintf("%s/%s", r.ID.Short(), r.Column)
		require.Equal(t, uint64(len(want)), r.Size, "record %s %q size", r.ID.Short(), r.Column)
	}
}

func testIterateBounds(t *testing.T, b backend.Backend) {
	all := populate(t, b)
	cases := []struct {
		name       string
		start, end id.ID
	}{
		{"exact bounds", oid(0x20, 0), oid(0x40, 0)},
		{"single id", oid(0x30, 0), oid(0x30, 0)},
		{"single id many columns", oid(0x30, 1), oid(0x30, 1)},
		{"bounds between records", oid(0x20, 1), oid(0x40, 1)},
		{"last byte matters", oid(0x30, 1), oid(0x30, 0xff)},
		{"start only", oid(0x30, 0xff), id.Zero},
		{"start at zero, end exact", id.Zero, oid(0x10, 0)},
		{"end below everything", id.Zero, oid(0x05, 8)},
		{"start above everything", oid(0xf0, 1), id.Max},
		{"empty range between ids", oid(0x60, 0), oid(0x70, 0)},
		{"everything explicit", id.Zero, id.Max},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			end := c.end
			if end.IsZero() {
				end = id.Max
			}
			want := filterKeys(all, c.start, end)
			got := keysOf(collect(t, b, backend.IterateOptions{Start: c.start, End: c.end}))
			if len(want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, want, got)
		})
	}
}

func testIterateEverything(t *testing.T, b backend.Backend) {
	// Records at the very ends of the ID space are visited by the zero
	// options: End zero means id.Max, inclusive.
	write(t, b, key(id.Max, ""), []byte("max"))
	write(t, b, key(id.Max, "meta"), []byte("max-meta"))
	write(t, b, key(id.Zero, ""), []byte("zero"))
	write(t, b, key(oid(0x80, 0x80), ""), []byte("mid"))
	want := []backend.Key{key(id.Zero, ""), key(oid(0x80, 0x80), ""), key(id.Max, ""), key(id.Max, "meta")}
	require.Equal(t, want, keysOf(collect(t, b, backend.IterateOptions{})))
	require.Equal(t, want[2:], keysOf(collect(t, b, backend.IterateOptions{Start: id.Max})))
	require.Equal(t, want[:1], keysOf(collect(t, b, backend.IterateOptions{Start: id.Zero, End: oid(0, 1)})))
}

func testIterateSkipsRemoved(t *testing.T, b backend.Backend) {
	all := populate(t, b)
	// Remove one whole object and one column of another.
	gone := oid(0x30, 1)
	require.NoError(t, b.Remove(ctx, gone, backend.RemoveOptions{}))
	require.NoError(t, b.Remove(ctx, oid(0x30, 0), backend.RemoveOptions{Column: "z", OnlyColumn: true}))
	var want []backend.Key
	for _, k := range all {
		if k.ID == gone || (k.ID == oid(0x30, 0) && k.Column == "z") {
			continue
		}
		want = append(want, k)
	}
	require.Equal(t, want, keysOf(collect(t, b, backend.IterateOptions{})))

	// Rewriting brings a record back.
	write(t, b, key(gone, "new"), []byte("back"))
	want = append(want, key(gone, "new"))
	sortKeys(want)
	require.Equal(t, want, keysOf(collect(t, b, backend.IterateOptions{})))
}

func testIterateStopsOnError(t *testing.T, b backend.Backend) {
	all := populate(t, b)
	stop := errors.New("stop here")
	for _, n := range []int{1, 3, len(all)} {
		var seen []backend.Key
		err := b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
			seen = append(seen, r.Key)
			if len(seen) == n {
				return fmt.Errorf("wrapped: %w", stop)
			}
			return nil
		})
		require.ErrorIs(t, err, stop, "fn's error is returned (n=%d)", n)
		require.Equal(t, all[:n], seen, "fn not called after its error (n=%d)", n)
	}
}

// testIterateCallsBack reads and removes each record from inside fn, as
// range reads, range removals and server-send do.
func testIterateCallsBack(t *testing.T, b backend.Backend) {
	all := populate(t, b)
	var seen []backend.Key
	err := b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
		seen = append(seen, r.Key)
		data, _, err := b.Read(ctx, r.Key, 0, 0)
		if err != nil {
			return fmt.Errorf("read %s %q inside Iterate: %w", r.ID.Short(), r.Column, err)
		}
		if want := fmt.Sprintf("%s/%s", r.ID.Short(), r.Column); string(data) != want {
			return fmt.Errorf("read %s %q inside Iterate: got %q", r.ID.Short(), r.Column, data)
		}
		return b.Remove(ctx, r.ID, backend.RemoveOptions{Column: r.Column, OnlyColumn: true})
	})
	require.NoError(t, err)
	require.Equal(t, all, seen, "every record once, removals notwithstanding")
	require.Empty(t, collect(t, b, backend.IterateOptions{}), "all removed")
}

func testIterateCanceled(t *testing.T, b backend.Backend) {
	for i := 0; i < 200; i++ {
		write(t, b, key(oid(byte(i), byte(i>>8)), ""), []byte{byte(i)})
	}
	isCanceled := func(err error) bool {
		return errors.Is(err, context.Canceled) || errors.Is(err, status.ErrCanceled)
	}

	// Canceled before the call: fn is never called.
	c, cancel := context.WithCancel(ctx)
	cancel()
	calls := 0
	err := b.Iterate(c, backend.IterateOptions{}, func(backend.Record) error { calls++; return nil })
	require.Error(t, err, "iterate with canceled context")
	require.True(t, isCanceled(err), "want a cancellation error, got %v", err)
	require.Zero(t, calls, "fn called with canceled context")

	// Canceled during the iteration: it stops early.
	c, cancel = context.WithCancel(ctx)
	defer cancel()
	calls = 0
	err = b.Iterate(c, backend.IterateOptions{}, func(backend.Record) error {
		calls++
		if calls == 5 {
			cancel()
		}
		return nil
	})
	require.Error(t, err, "iterate canceled midway")
	require.True(t, isCanceled(err), "want a cancellation error, got %v", err)
	require.Less(t, calls, 200, "iteration went on after cancellation")
}

// ---- stats ----

func testStats(t *testing.T, b backend.Backend) {
	check := func(records, bytes uint64, what string) {
		t.Helper()
		s := b.Stats()
		require.Equal(t, records, s.Records, "%s: Records", what)
		require.Equal(t, bytes, s.Bytes, "%s: Bytes", what)
	}
	check(0, 0, "fresh")
	o1, o2 := oid(17, 1), oid(17, 2)

	write(t, b, key(o1, ""), make([]byte, 100))
	check(1, 100, "first write")
	write(t, b, key(o1, "meta"), make([]byte, 10))
	check(2, 110, "second column")
	write(t, b, key(o2, ""), nil)
	check(3, 110, "empty value counts as a record")

	write(t, b, key(o1, ""), make([]byte, 40))
	check(3, 50, "shrinking overwrite")
	write(t, b, key(o1, ""), make([]byte, 140))
	check(3, 150, "growing overwrite")

	appendTo(t, b, key(o2, ""), make([]byte, 5))
	check(3, 155, "append to existing")
	appendTo(t, b, key(o2, "log"), make([]byte, 7))
	check(4, 162, "append creates column")

	writeAt(t, b, key(o2, "log"), []byte("xy"), 3)
	check(4, 162, "offset write inside")
	writeAt(t, b, key(o2, "log"), []byte("xy"), 10)
	check(4, 167, "offset write past end")
	writeAt(t, b, key(o2, "sparse"), []byte("abc"), 5)
	check(5, 175, "offset write creates column")

	require.NoError(t, b.Remove(ctx, o1, backend.RemoveOptions{Column: "meta", OnlyColumn: true}))
	check(4, 165, "column remove")
	require.NoError(t, b.Remove(ctx, o2, backend.RemoveOptions{}))
	check(1, 140, "object remove drops every column")
	requireNotFound(t, b.Remove(ctx, o2, backend.RemoveOptions{}), "remove missing")
	check(1, 140, "failed remove changes nothing")
	require.NoError(t, b.Remove(ctx, o1, backend.RemoveOptions{}))
	check(0, 0, "all removed")

	write(t, b, key(o1, ""), make([]byte, 3))
	check(1, 3, "rewrite after remove")
}

// ---- concurrency ----

func testConcurrentDistinctKeys(t *testing.T, b backend.Backend) {
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errs <- concurrentWorker(b, w, rounds)
		}(w)
	}
	// An iterator runs alongside and must keep its order.
	iterDone := make(chan struct{})
	go func() {
		defer close(iterDone)
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			var prev *backend.Key
			err := b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
				if prev != nil && (r.ID.Less(prev.ID) || (r.ID == prev.ID && r.Column <= prev.Column)) {
					return fmt.Errorf("iterate order: %s %q after %s %q", r.ID.Short(), r.Column, prev.ID.Short(), prev.Column)
				}
				k := r.Key
				prev = &k
				return nil
			})
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	<-iterDone
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// Each worker leaves its last round behind: two columns per worker.
	s := b.Stats()
	require.Equal(t, uint64(2*workers), s.Records)
	var wantBytes uint64
	for w := 0; w < workers; w++ {
		for _, c := range []string{"", "meta"} {
			want := workerValue(w, rounds-1, c)
			got, _, err := b.Read(ctx, key(workerID(w), c), 0, 0)
			require.NoError(t, err)
			require.Equal(t, want, got)
			wantBytes += uint64(len(want))
		}
	}
	require.Equal(t, wantBytes, s.Bytes)
}

func workerID(w int) id.ID { return oid(byte(w*32+1), byte(w)) }

func workerValue(w, round int, column string) []byte {
	return []byte(fmt.Sprintf("worker %d round %d column %q %s", w, round, column, bytes.Repeat([]byte{byte(round)}, round)))
}

func concurrentWorker(b backend.Backend, w, rounds int) error {
	o := workerID(w)
	for r := 0; r < rounds; r++ {
		for _, c := range []string{"", "meta"} {
			want := workerValue(w, r, c)
			if _, err := b.Write(ctx, &backend.WriteRequest{Key: key(o, c), Data: want}); err != nil {
				return fmt.Errorf("worker %d write: %w", w, err)
			}
			got, m, err := b.Read(ctx, key(o, c), 0, 0)
			if err != nil {
				return fmt.Errorf("worker %d read: %w", w, err)
			}
			if !bytes.Equal(got, want) || m.Size != uint64(len(want)) {
				return fmt.Errorf("worker %d round %d: read %q, want %q", w, r, got, want)
			}
			info, err := b.Lookup(ctx, key(o, c), backend.LookupOptions{Checksum: r%10 == 0})
			if err != nil {
				return fmt.Errorf("worker %d lookup: %w", w, err)
			}
			if info.Size != uint64(len(want)) {
				return fmt.Errorf("worker %d lookup size %d want %d", w, info.Size, len(want))
			}
		}
		if _, err := b.Write(ctx, &backend.WriteRequest{Key: key(o, "tmp"), Data: []byte("t"), Append: true}); err != nil {
			return fmt.Errorf("worker %d append: %w", w, err)
		}
		if err := b.Remove(ctx, o, backend.RemoveOptions{Column: "tmp", OnlyColumn: true}); err != nil {
			return fmt.Errorf("worker %d remove column: %w", w, err)
		}
		_ = b.Stats()
		if r == rounds-1 {
			break
		}
		if err := b.Remove(ctx, o, backend.RemoveOptions{}); err != nil {
			return fmt.Errorf("worker %d remove: %w", w, err)
		}
		if _, _, err := b.Read(ctx, key(o, ""), 0, 0); !errors.Is(err, status.ErrNotFound) {
			return fmt.Errorf("worker %d read after remove: got %v, want ErrNotFound", w, err)
		}
	}
	return nil
}

func testConcurrentOverwriteAtomic(t *testing.T, b backend.Backend) {
	const (
		size     = 64 << 10
		versions = 8
		writes   = 60
		readers  = 4
	)
	k := key(oid(18, 0), "")
	value := func(v int) []byte { return bytes.Repeat([]byte{byte('A' + v)}, size) }
	write(t, b, k, value(0))

	check := func(got []byte, m backend.Meta) error {
		if len(got) != size || m.Size != size {
			return fmt.Errorf("read %d bytes (meta size %d), want %d", len(got), m.Size, size)
		}
		first := got[0]
		if first < 'A' || first >= 'A'+versions {
			return fmt.Errorf("unexpected byte %q", first)
		}
		if i := bytes.IndexFunc(got, func(r rune) bool { return r != rune(first) }); i >= 0 {
			return fmt.Errorf("torn read: byte %d is %q, byte 0 is %q", i, got[i], first)
		}
		return nil
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, readers+1)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				got, m, err := b.Read(ctx, k, 0, 0)
				if err == nil {
					err = check(got, m)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var werr error
	for i := 1; i <= writes && werr == nil; i++ {
		_, werr = b.Write(ctx, &backend.WriteRequest{Key: k, Data: value(i % versions)})
	}
	close(stop)
	wg.Wait()
	require.NoError(t, werr)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, m := readAll(t, b, k)
	require.NoError(t, check(got, m))
	require.Equal(t, value(writes%versions), got, "last write wins")
}

// ---- ownership of slices ----

func testWriteCopiesData(t *testing.T, b backend.Backend) {
	cases := []struct {
		name string
		do   func(k backend.Key, data []byte) error
		want func(orig []byte) []byte
	}{
		{"write", func(k backend.Key, data []byte) error {
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data})
			return err
		}, func(orig []byte) []byte { return orig }},
		{"append", func(k backend.Key, data []byte) error {
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data, Append: true})
			return err
		}, func(orig []byte) []byte { return orig }},
		{"offset write", func(k backend.Key, data []byte) error {
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: data, Offset: 2})
			return err
		}, func(orig []byte) []byte { return append([]byte{0, 0}, orig...) }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := key(oid(19, byte(i)), "")
			buf := []byte("original contents")
			orig := append([]byte(nil), buf...)
			require.NoError(t, c.do(k, buf))
			for j := range buf {
				buf[j] = 'X'
			}
			got, _ := readAll(t, b, k)
			require.Equal(t, c.want(orig), got, "stored data changed with the caller's buffer")
			info, err := b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
			require.NoError(t, err)
			require.Equal(t, id.Transform(c.want(orig)), info.Checksum)
		})
	}
}

func testReadResultStable(t *testing.T, b backend.Backend) {
	k := key(oid(20, 0), "")
	write(t, b, k, []byte("version one"))
	whole, _ := readAll(t, b, k)
	part, _, err := b.Read(ctx, k, 3, 4)
	require.NoError(t, err)
	wholeCopy := append([]byte(nil), whole...)
	partCopy := append([]byte(nil), part...)

	write(t, b, k, []byte("VERSION TWO!"))
	writeAt(t, b, k, []byte("zzzz"), 2)
	appendTo(t, b, k, []byte("more"))
	require.Equal(t, wholeCopy, whole, "slice returned by Read changed after overwrite")
	require.Equal(t, partCopy, part, "ranged slice returned by Read changed after overwrite")

	latest, _ := readAll(t, b, k)
	require.NoError(t, b.Remove(ctx, k.ID, backend.RemoveOptions{}))
	write(t, b, k, []byte("third"))
	require.Equal(t, []byte("VEzzzzN TWO!more"), latest, "slice returned by Read changed after remove and rewrite")
	require.Equal(t, wholeCopy, whole)
}

// ---- close ----

func testClosed(t *testing.T, b backend.Backend) {
	k := key(oid(21, 0), "")
	write(t, b, k, []byte("before close"))
	require.NoError(t, b.Close())

	require.NotPanics(t, func() {
		_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("after")})
		require.Error(t, err, "Write after Close")
		_, err = b.Write(ctx, &backend.WriteRequest{Key: key(oid(21, 1), ""), Data: []byte("new"), Append: true})
		require.Error(t, err, "append after Close")
		_, _, err = b.Read(ctx, k, 0, 0)
		require.Error(t, err, "Read after Close")
		_, err = b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
		require.Error(t, err, "Lookup after Close")
		err = b.Remove(ctx, k.ID, backend.RemoveOptions{})
		require.Error(t, err, "Remove after Close")
		calls := 0
		err = b.Iterate(ctx, backend.IterateOptions{}, func(backend.Record) error { calls++; return nil })
		require.Error(t, err, "Iterate after Close")
		require.Zero(t, calls, "Iterate called fn after Close")
		_ = b.Stats()
		_ = b.Close() // a second Close must not panic; its result is not specified
	})
}
