package file

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := Open(t.TempDir(), Options{})
		require.NoError(t, err)
		return b
	})
}

func TestConformanceSyncNone(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := Open(t.TempDir(), Options{Sync: SyncNone})
		require.NoError(t, err)
		return b
	})
}

// ---- helpers ----

func open(t *testing.T, dir string, opts Options) *Backend {
	t.Helper()
	b, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func oid(hi, lo byte) id.ID {
	var o id.ID
	o[0] = hi
	o[id.Size-1] = lo
	return o
}

func key(o id.ID, column string) backend.Key { return backend.Key{ID: o, Column: column} }

func put(t *testing.T, b *Backend, k backend.Key, data string) {
	t.Helper()
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte(data)})
	require.NoError(t, err)
}

func get(t *testing.T, b *Backend, k backend.Key) string {
	t.Helper()
	data, _, err := b.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	return string(data)
}

func columnPath(dir string, k backend.Key) string {
	return filepath.Join(objectDir(dir, k.ID), columnFileName(k.Column))
}

func requireCode(t *testing.T, want *status.Error, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.True(t, errors.Is(err, want), "want %v, got %v", want, err)
	require.Equal(t, want.Code, status.FromError(err), "status.FromError(%v)", err)
}

// requireStatsMatchDisk checks the in-memory figures against a fresh count
// by a second backend opened on the same directory.
func requireStatsMatchDisk(t *testing.T, b *Backend) {
	t.Helper()
	fresh, err := Open(b.dir, Options{})
	require.NoError(t, err)
	defer fresh.Close()
	want, got := fresh.Stats(), b.Stats()
	require.Equal(t, want.Records, got.Records, "records in memory vs on disk")
	require.Equal(t, want.Bytes, got.Bytes, "bytes in memory vs on disk")
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if isTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// ---- options and layout ----

func TestOpenOptions(t *testing.T) {
	_, err := Open("", Options{})
	requireCode(t, status.ErrInvalid, err, "empty dir")
	_, err = Open(t.TempDir(), Options{Sync: SyncMode(7)})
	requireCode(t, status.ErrInvalid, err, "unknown sync mode")
	require.Equal(t, "always", SyncAlways.String())
	require.Equal(t, "none", SyncNone.String())

	dir := t.TempDir()
	b := open(t, dir, Options{})
	require.NoError(t, b.Close())
	got, err := os.ReadFile(filepath.Join(dir, formatFile))
	require.NoError(t, err)
	require.Equal(t, formatText, string(got))

	require.NoError(t, os.WriteFile(filepath.Join(dir, formatFile), []byte("eblob\n"), 0o644))
	_, err = Open(dir, Options{})
	requireCode(t, status.ErrInvalid, err, "foreign layout marker")

	// The directory is a file.
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err = Open(f, Options{})
	require.Error(t, err)
}

func TestLayoutOnDisk(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	var o id.ID
	o[0], o[1], o[2] = 0xab, 0xcd, 0xef
	put(t, b, key(o, ""), "default")
	put(t, b, key(o, "meta"), "named")

	objDir := filepath.Join(dir, "objects", "ab", "cd", o.String())
	ents, err := os.ReadDir(objDir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"_", "c6d657461"}, names, "one file per column: _ and c<hex \"meta\">")

	raw, err := os.ReadFile(filepath.Join(objDir, "_"))
	require.NoError(t, err)
	require.Len(t, raw, fixedHeaderSize+len("default"))
	require.Equal(t, headerMagic, string(raw[:4]))
	require.Equal(t, "default", string(raw[fixedHeaderSize:]))

	info, err := b.Lookup(ctx, key(o, "meta"), backend.LookupOptions{})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(objDir, "c6d657461"), info.Path)
	require.Equal(t, map[string]any{"dir": dir}, b.Stats().Extra)
}

func TestColumnLimits(t *testing.T) {
	b := open(t, t.TempDir(), Options{})
	_, err := b.Write(ctx, &backend.WriteRequest{Key: key(oid(1, 1), strings.Repeat("x", MaxColumnLen+1)), Data: []byte("v")})
	requireCode(t, status.ErrTooLarge, err, "column name too long")
	_, _, err = b.Read(ctx, key(oid(1, 1), strings.Repeat("x", MaxColumnLen+1)), 0, 0)
	requireCode(t, status.ErrNotFound, err, "read of an impossible column")

	_, err = b.Write(ctx, &backend.WriteRequest{Key: key(oid(1, 1), ""), Data: []byte("v"), Offset: MaxValueSize})
	requireCode(t, status.ErrTooLarge, err, "offset past the value limit")
	_, err = b.Write(ctx, &backend.WriteRequest{Key: key(oid(1, 1), ""), Data: []byte("v"), Offset: ^uint64(0)})
	requireCode(t, status.ErrInvalid, err, "offset overflow")
	require.Zero(t, b.Stats().Records)
}

// Column names are arbitrary bytes: none of them can escape the object
// directory or collide with another column, a temporary file or the
// default column.
func TestColumnNames(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	o := oid(0x42, 7)
	cols := []string{
		"", "/", "a/b", "../../../escape", "..", ".", "\x00", "nul\x00inside", "ünïcødé 日本語", "\xff\xfe\x80",
		"_", "c", "c6d657461", "h", ".tmp._.1", " ", "Meta", "meta",
		strings.Repeat("L", maxInlineColumn), strings.Repeat("L", maxInlineColumn+1),
		strings.Repeat("\xff", MaxColumnLen), strings.Repeat("/", MaxColumnLen),
	}
	for i, c := range cols {
		_, err := b.Write(ctx, &backend.WriteRequest{Key: key(o, c), Data: []byte(c + "|value"), UserFlags: uint64(i)})
		require.NoError(t, err, "write column %q", c)
	}
	check := func(b *Backend) {
		t.Helper()
		for i, c := range cols {
			data, m, err := b.Read(ctx, key(o, c), 0, 0)
			require.NoError(t, err, "read column %q", c)
			require.Equal(t, c+"|value", string(data))
			require.Equal(t, uint64(i), m.UserFlags)
			info, err := b.Lookup(ctx, key(o, c), backend.LookupOptions{Checksum: true})
			require.NoError(t, err)
			require.Equal(t, id.Transform([]byte(c+"|value")), info.Checksum)
			require.Equal(t, objectDir(dir, o), filepath.Dir(info.Path), "column %q stays in its object directory", c)
		}
		want := append([]string(nil), cols...)
		sort.Slice(want, func(i, j int) bool { return bytes.Compare([]byte(want[i]), []byte(want[j])) < 0 })
		var got []string
		require.NoError(t, b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
			require.Equal(t, o, r.ID)
			got = append(got, r.Column)
			return nil
		}))
		require.Equal(t, want, got, "iterated in byte order of the column names")
		require.Equal(t, uint64(len(cols)), b.Stats().Records)
	}
	check(b)
	// Nothing was created outside the object directory.
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 2, "only FORMAT and objects/ at the top")

	require.NoError(t, b.Close())
	b = open(t, dir, Options{})
	check(b)

	for _, c := range cols {
		require.NoError(t, b.Remove(ctx, o, backend.RemoveOptions{Column: c, OnlyColumn: true}), "remove column %q", c)
	}
	require.Zero(t, b.Stats().Records)
	_, err = os.Stat(objectDir(dir, o))
	require.True(t, errors.Is(err, fs.ErrNotExist), "object directory removed with its last column")
}

// ---- restart ----

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	ts := time.Unix(1_700_000_000, 987_654_321)
	type val struct {
		data  string
		ts    time.Time
		flags uint64
	}
	want := map[backend.Key]val{}
	for i := 0; i < 20; i++ {
		k := key(oid(byte(i*13), byte(i)), []string{"", "meta", "x/y"}[i%3])
		v := val{strings.Repeat(string(rune('a'+i)), i), ts.Add(time.Duration(i) * time.Second), uint64(i) << 40}
		_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte(v.data), Timestamp: v.ts, UserFlags: v.flags})
		require.NoError(t, err)
		want[k] = v
	}
	// Some history: appends, offset writes, removes.
	k0 := key(oid(0, 0), "")
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k0, Data: []byte("+app"), Append: true, Timestamp: ts, UserFlags: 5})
	require.NoError(t, err)
	want[k0] = val{"+app", ts, 5}
	gone := key(oid(13, 1), "meta")
	require.NoError(t, b.Remove(ctx, gone.ID, backend.RemoveOptions{}))
	delete(want, gone)

	before := b.Stats()
	require.NoError(t, b.Close())

	b = open(t, dir, Options{})
	after := b.Stats()
	require.Equal(t, before.Records, after.Records)
	require.Equal(t, before.Bytes, after.Bytes)
	require.Equal(t, uint64(len(want)), after.Records)
	for k, v := range want {
		data, m, err := b.Read(ctx, k, 0, 0)
		require.NoError(t, err)
		require.Equal(t, v.data, string(data))
		require.True(t, v.ts.Equal(m.Timestamp), "timestamp %v want %v", m.Timestamp, v.ts)
		require.Equal(t, v.flags, m.UserFlags)
	}
	_, _, err = b.Read(ctx, gone, 0, 0)
	requireCode(t, status.ErrNotFound, err, "removed key stays removed")
	n := 0
	require.NoError(t, b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
		v, ok := want[r.Key]
		require.True(t, ok, "unexpected record %s %q", r.ID.Short(), r.Column)
		require.True(t, v.ts.Equal(r.Timestamp))
		require.Equal(t, v.flags, r.UserFlags)
		require.Equal(t, uint64(len(v.data)), r.Size)
		n++
		return nil
	}))
	require.Equal(t, len(want), n)
}

// ---- corruption ----

func TestCorruption(t *testing.T) {
	damage := []struct {
		name    string
		inPlace bool // the file keeps its length: the figures stay exact
		do      func(t *testing.T, path string)
	}{
		{"flipped data byte", true, func(t *testing.T, p string) { flip(t, p, -3) }},
		{"flipped header byte", true, func(t *testing.T, p string) { flip(t, p, 20) }},
		{"flipped magic", true, func(t *testing.T, p string) { flip(t, p, 0) }},
		{"truncated data", false, func(t *testing.T, p string) { truncate(t, p, -1) }},
		{"truncated header", false, func(t *testing.T, p string) { truncate(t, p, fixedHeaderSize-10) }},
		{"empty file", false, func(t *testing.T, p string) { truncate(t, p, 0) }},
		{"extended", false, func(t *testing.T, p string) { appendBytes(t, p, []byte("junk")) }},
		{"other column's file", false, func(t *testing.T, p string) {
			other, err := os.ReadFile(filepath.Join(filepath.Dir(p), columnFileName("other")))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, other, 0o644))
		}},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			b := open(t, dir, Options{})
			k := key(oid(3, 3), "col")
			put(t, b, k, "precious data that must not come back wrong")
			put(t, b, key(k.ID, "other"), "neighbour")
			d.do(t, columnPath(dir, k))

			_, _, err := b.Read(ctx, k, 0, 0)
			requireCode(t, status.ErrCorrupt, err, "read")
			require.Contains(t, err.Error(), columnPath(dir, k), "the message names the file")
			_, _, err = b.Read(ctx, k, 2, 3)
			requireCode(t, status.ErrCorrupt, err, "ranged read")
			_, err = b.Lookup(ctx, k, backend.LookupOptions{Checksum: true})
			requireCode(t, status.ErrCorrupt, err, "lookup with checksum")
			if d.name != "flipped data byte" { // only the data checksum catches that
				_, err = b.Lookup(ctx, k, backend.LookupOptions{})
				requireCode(t, status.ErrCorrupt, err, "lookup")
			}
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("more"), Append: true})
			requireCode(t, status.ErrCorrupt, err, "append to a damaged value")
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("x"), Offset: 1})
			requireCode(t, status.ErrCorrupt, err, "offset write into a damaged value")

			// The neighbour is unaffected; iteration goes on.
			require.Equal(t, "neighbour", get(t, b, key(k.ID, "other")))
			var cols []string
			require.NoError(t, b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
				cols = append(cols, r.Column)
				return nil
			}))
			require.Contains(t, cols, "other")

			// A whole overwrite heals the value. The figures stay right,
			// or, when the file changed length behind the backend's back,
			// are right again after a restart.
			put(t, b, k, "fresh")
			require.Equal(t, "fresh", get(t, b, k))
			if !d.inPlace {
				require.NoError(t, b.Close())
				b = open(t, dir, Options{})
			}
			requireStatsMatchDisk(t, b)
			require.NoError(t, b.Remove(ctx, k.ID, backend.RemoveOptions{}))
			require.Zero(t, b.Stats().Records)
			require.Zero(t, b.Stats().Bytes)
		})
	}
}

// A damaged file found on Open is counted, and removing it keeps the
// figures consistent.
func TestCorruptionOnOpen(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	k := key(oid(4, 4), "")
	put(t, b, k, "0123456789")
	put(t, b, key(oid(4, 5), ""), "ok")
	require.NoError(t, b.Close())
	flip(t, columnPath(dir, k), 5)

	b = open(t, dir, Options{})
	require.Equal(t, uint64(2), b.Stats().Records)
	_, _, err := b.Read(ctx, k, 0, 0)
	requireCode(t, status.ErrCorrupt, err, "read")
	require.NoError(t, b.Remove(ctx, k.ID, backend.RemoveOptions{}))
	require.Equal(t, uint64(1), b.Stats().Records)
	require.Equal(t, uint64(2), b.Stats().Bytes)
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	if off < 0 {
		off += len(raw)
	}
	raw[off] ^= 0x01
	require.NoError(t, os.WriteFile(path, raw, 0o644))
}

func truncate(t *testing.T, path string, size int) {
	t.Helper()
	if size < 0 {
		st, err := os.Stat(path)
		require.NoError(t, err)
		size += int(st.Size())
	}
	require.NoError(t, os.Truncate(path, int64(size)))
}

func appendBytes(t *testing.T, path string, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(p)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// ---- leftovers of a crash ----

func TestLeftoverTempFiles(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	k := key(oid(9, 9), "")
	put(t, b, k, "committed")
	// A crash in the middle of an overwrite leaves a temporary file next
	// to the committed version, and one for a brand-new object alone in
	// its directory.
	objDir := objectDir(dir, k.ID)
	stale := filepath.Join(objDir, tempPrefix+"_.17")
	require.NoError(t, os.WriteFile(stale, []byte("half-written junk"), 0o644))
	lonelyDir := objectDir(dir, oid(9, 10))
	require.NoError(t, os.MkdirAll(lonelyDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lonelyDir, tempPrefix+"cab.1"), []byte("junk"), 0o644))

	// While running, they are ignored.
	require.Equal(t, "committed", get(t, b, k))
	var keys []backend.Key
	require.NoError(t, b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
		keys = append(keys, r.Key)
		return nil
	}))
	require.Equal(t, []backend.Key{k}, keys)
	require.NoError(t, b.Close())

	// Open removes them, and the empty object directory.
	b = open(t, dir, Options{})
	require.Empty(t, tempFiles(t, dir))
	_, err := os.Stat(lonelyDir)
	require.True(t, errors.Is(err, fs.ErrNotExist), "empty object directory removed")
	require.Equal(t, "committed", get(t, b, k))
	require.Equal(t, uint64(1), b.Stats().Records)
	require.Equal(t, uint64(len("committed")), b.Stats().Bytes)
	requireCode(t, status.ErrNotFound, b.Remove(ctx, oid(9, 10), backend.RemoveOptions{}), "no object behind a temp file")
}

// Iterate skips fan-out directories outside its range without listing them.
func TestIterateSkipsFanout(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	listed := map[string]bool{}
	spy := errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if op == errorfs.OpReadDir {
			mu.Lock()
			listed[path] = true
			mu.Unlock()
		}
		return nil
	})
	b := open(t, dir, Options{FS: errorfs.Wrap(vfs.Default, spy)})
	ids := []id.ID{oid(0x10, 0), oid(0x20, 0), oid(0x30, 0)}
	ids[1][1] = 0x05
	x := ids[1]
	x[1] = 0x06
	ids = append(ids, x)
	for _, o := range ids {
		put(t, b, key(o, ""), "v")
	}
	mu.Lock()
	clear(listed)
	mu.Unlock()

	var got []id.ID
	require.NoError(t, b.Iterate(ctx, backend.IterateOptions{Start: ids[1], End: ids[1]}, func(r backend.Record) error {
		got = append(got, r.ID)
		return nil
	}))
	require.Equal(t, []id.ID{ids[1]}, got)
	mu.Lock()
	defer mu.Unlock()
	objs := filepath.Join(dir, objectsDir)
	require.True(t, listed[filepath.Join(objs, "20")])
	require.True(t, listed[filepath.Join(objs, "20", "05")])
	for _, p := range []string{filepath.Join(objs, "10"), filepath.Join(objs, "30"), filepath.Join(objs, "20", "06")} {
		require.False(t, listed[p], "%s listed though out of range", p)
	}
}

// ---- read-only mode and faults ----

func TestSetReadOnly(t *testing.T) {
	b := open(t, t.TempDir(), Options{})
	var _ backend.ReadOnlySetter = b
	k := key(oid(1, 0), "")
	put(t, b, k, "v")
	b.SetReadOnly(true)
	require.True(t, b.Stats().ReadOnly)
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("w")})
	requireCode(t, status.ErrReadOnly, err, "write")
	require.Contains(t, err.Error(), "operator")
	requireCode(t, status.ErrReadOnly, b.Remove(ctx, k.ID, backend.RemoveOptions{}), "remove")
	require.Equal(t, "v", get(t, b, k), "reads still work")
	b.SetReadOnly(false)
	require.False(t, b.Stats().ReadOnly)
	put(t, b, k, "w")
	require.Equal(t, "w", get(t, b, k))
}

// Only the backend's column files (temporary ones while they are written)
// get the faults; Open and the layout marker are left alone.
func faultyBackend(t *testing.T, opts Options) (*Backend, *errorfs.Toggle, *errorfs.FS) {
	t.Helper()
	toggle := errorfs.NewToggle(nil)
	fsys := errorfs.Wrap(vfs.Default, toggle)
	opts.FS = fsys
	return open(t, t.TempDir(), opts), toggle, fsys
}

func TestNoSpace(t *testing.T) {
	for _, c := range []struct {
		name  string
		inj   errorfs.Injector
		op    errorfs.Op
		errno syscall.Errno
	}{
		{"write", errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite), errorfs.OpWrite, syscall.ENOSPC},
		{"create", errorfs.OnOps(syscall.ENOSPC, errorfs.OpCreate), errorfs.OpCreate, syscall.ENOSPC},
		{"sync", errorfs.OnOps(syscall.ENOSPC, errorfs.OpSync), errorfs.OpSync, syscall.ENOSPC},
		{"second write", errorfs.After(1, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite)), errorfs.OpWrite, syscall.ENOSPC},
		{"quota", errorfs.OnOps(syscall.EDQUOT, errorfs.OpWrite), errorfs.OpWrite, syscall.EDQUOT},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs, observed := observer.New(zap.WarnLevel)
			b, toggle, fsys := faultyBackend(t, Options{Logger: zap.New(logs)})
			k := key(oid(5, 5), "")
			put(t, b, k, "old value")
			statsBefore := b.Stats()

			toggle.Injector = c.inj
			toggle.Enable()
			for _, req := range []*backend.WriteRequest{
				{Key: k, Data: []byte("new value, longer than the old one")},
			} {
				_, err := b.Write(ctx, req)
				requireCode(t, status.ErrNoSpace, err, "write on a full disk")
				require.True(t, errors.Is(err, c.errno), "the cause is kept: %v", err)
				require.Contains(t, err.Error(), "file backend")
			}
			require.Positive(t, fsys.Injected(c.op), "the fault was hit")
			toggle.Disable()

			require.Equal(t, "old value", get(t, b, k), "old version intact")
			require.Empty(t, tempFiles(t, b.dir), "temporary file removed")
			require.True(t, b.Stats().ReadOnly)
			require.Equal(t, statsBefore.Records, b.Stats().Records)
			require.Equal(t, statsBefore.Bytes, b.Stats().Bytes)

			// The disk has room again, but the backend stays read-only
			// until the operator says otherwise.
			for _, req := range []*backend.WriteRequest{
				{Key: k, Data: []byte("retry")},
				{Key: key(oid(6, 6), ""), Data: []byte("new key")},
				{Key: k, Data: []byte("app"), Append: true},
			} {
				_, err := b.Write(ctx, req)
				requireCode(t, status.ErrReadOnly, err, "write after a full disk")
				require.Contains(t, err.Error(), c.errno.Error(), "the reason is given")
			}
			requireCode(t, status.ErrReadOnly, b.Remove(ctx, k.ID, backend.RemoveOptions{}), "remove while read-only")
			errs := observed.FilterLevelExact(zap.ErrorLevel).All()
			require.Len(t, errs, 1, "read-only mode is logged once, at error level")
			require.Contains(t, errs[0].Message, "read-only")

			b.SetReadOnly(false)
			put(t, b, k, "new value")
			require.Equal(t, "new value", get(t, b, k))
			put(t, b, key(oid(6, 6), ""), "new key")
			requireStatsMatchDisk(t, b)
		})
	}
}

func TestNoSpaceNewObject(t *testing.T) {
	b, toggle, _ := faultyBackend(t, Options{})
	toggle.Injector = errorfs.OnOps(syscall.ENOSPC, errorfs.OpMkdir)
	toggle.Enable()
	_, err := b.Write(ctx, &backend.WriteRequest{Key: key(oid(7, 7), ""), Data: []byte("v")})
	requireCode(t, status.ErrNoSpace, err, "no room for the object directory")
	require.True(t, errors.Is(err, syscall.ENOSPC), "the cause is kept")
	toggle.Disable()
	require.True(t, b.Stats().ReadOnly)
	require.Zero(t, b.Stats().Records)
	_, _, err = b.Read(ctx, key(oid(7, 7), ""), 0, 0)
	requireCode(t, status.ErrNotFound, err, "nothing written")
}

func TestIOErrorOnWrite(t *testing.T) {
	for _, c := range []struct {
		name string
		inj  errorfs.Injector
	}{
		{"write", errorfs.OnOps(syscall.EIO, errorfs.OpWrite)},
		{"short write", errorfs.OnOpsShort(10)},
		{"sync", errorfs.OnOps(syscall.EIO, errorfs.OpSync)},
		{"close", errorfs.OnOps(syscall.EIO, errorfs.OpClose)},
		{"rename", errorfs.OnOps(syscall.EIO, errorfs.OpRename)},
		{"create", errorfs.OnOps(syscall.EIO, errorfs.OpCreate)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, toggle, _ := faultyBackend(t, Options{})
			k := key(oid(8, 8), "c")
			put(t, b, k, "old value")

			toggle.Injector = c.inj
			toggle.Enable()
			for _, req := range []*backend.WriteRequest{
				{Key: k, Data: []byte("new")},
				{Key: k, Data: []byte("+more"), Append: true},
				{Key: k, Data: []byte("XY"), Offset: 2},
			} {
				_, err := b.Write(ctx, req)
				requireCode(t, status.ErrIO, err, "write with a failing disk")
			}
			toggle.Disable()

			require.Equal(t, "old value", get(t, b, k), "old version intact")
			require.Empty(t, tempFiles(t, b.dir), "temporary file removed")
			require.False(t, b.Stats().ReadOnly, "an I/O error does not make the backend read-only")
			requireStatsMatchDisk(t, b)
			put(t, b, k, "new value")
			require.Equal(t, "new value", get(t, b, k))
		})
	}
}

// A failed directory sync after the rename leaves the new version in place:
// the error only puts its durability in doubt, and the figures follow it.
func TestSyncDirFailure(t *testing.T) {
	b, toggle, _ := faultyBackend(t, Options{})
	k := key(oid(9, 1), "")
	put(t, b, k, "old")
	toggle.Injector = errorfs.OnOps(syscall.EIO, errorfs.OpSyncDir)
	toggle.Enable()
	_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("newer")})
	requireCode(t, status.ErrIO, err, "directory sync failed")
	toggle.Disable()
	require.Equal(t, "newer", get(t, b, k))
	requireStatsMatchDisk(t, b)
}

// SyncNone never fsyncs.
func TestSyncNone(t *testing.T) {
	b, toggle, fsys := faultyBackend(t, Options{Sync: SyncNone})
	toggle.Injector = errorfs.OnOps(syscall.EIO, errorfs.OpSync, errorfs.OpSyncDir)
	toggle.Enable()
	k := key(oid(9, 2), "")
	put(t, b, k, "v")
	require.NoError(t, b.Remove(ctx, k.ID, backend.RemoveOptions{}))
	require.Zero(t, fsys.Injected(errorfs.OpSync)+fsys.Injected(errorfs.OpSyncDir))
}

func TestIOErrorOnRead(t *testing.T) {
	b, toggle, _ := faultyBackend(t, Options{})
	k := key(oid(9, 3), "")
	put(t, b, k, "v")
	toggle.Injector = errorfs.OnOps(syscall.EIO, errorfs.OpRead)
	toggle.Enable()
	_, _, err := b.Read(ctx, k, 0, 0)
	requireCode(t, status.ErrIO, err, "read")
	_, err = b.Lookup(ctx, k, backend.LookupOptions{})
	requireCode(t, status.ErrIO, err, "lookup")
	err = b.Iterate(ctx, backend.IterateOptions{}, func(backend.Record) error { return nil })
	requireCode(t, status.ErrIO, err, "iterate")
	toggle.Disable()
	require.Equal(t, "v", get(t, b, k))
}

// Writes to different keys run in parallel while a disk-full episode comes
// and goes; nothing is corrupted and the figures stay exact.
func TestConcurrentFaults(t *testing.T) {
	b, toggle, _ := faultyBackend(t, Options{})
	toggle.Injector = errorfs.Probability(0.2, 1, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite, errorfs.OpSync))
	toggle.Enable()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				k := key(oid(byte(w), byte(i%4)), "")
				_, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: bytes.Repeat([]byte{byte(i)}, 100+i)})
				if err != nil && !errors.Is(err, status.ErrNoSpace) && !errors.Is(err, status.ErrReadOnly) {
					t.Errorf("write: %v", err)
				}
				if i%10 == 9 {
					b.SetReadOnly(false)
				}
			}
		}(w)
	}
	wg.Wait()
	toggle.Disable()
	require.Empty(t, tempFiles(t, b.dir))
	require.NoError(t, b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
		data, _, err := b.Read(ctx, r.Key, 0, 0)
		require.NoError(t, err)
		require.Len(t, data, int(r.Size))
		require.Equal(t, bytes.Repeat(data[:1], len(data)), data)
		return nil
	}))
	requireStatsMatchDisk(t, b)
}
