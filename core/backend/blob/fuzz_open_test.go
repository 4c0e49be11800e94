package blob

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
)

// fuzzDataFile is the name of the first data file of a new blob.
var fuzzDataFile = dataFileName(1, 0)

// blobTemplate writes a few records (plain, columns, compressed) to a blob
// in a temporary directory, closes it and returns its data file and index
// snapshot.
func blobTemplate(f testing.TB, opts Options) (data, snap []byte) {
	dir := f.TempDir()
	b, err := Open(dir, opts)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for i, k := range []backend.Key{{ID: id.Max}, {ID: id.Zero, Column: "meta"}, {ID: id.Max, Column: "c"}} {
		if _, err := b.Write(ctx, &backend.WriteRequest{Key: k, Data: []byte("value value value"[:5+i*5])}); err != nil {
			f.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		f.Fatal(err)
	}
	if data, err = os.ReadFile(filepath.Join(dir, fuzzDataFile)); err != nil {
		f.Fatal(err)
	}
	snap, _ = os.ReadFile(filepath.Join(dir, snapshotName))
	return data, snap
}

// openFuzzed opens a blob over a directory holding data as its only data
// file (and snap as its index snapshot, when not nil): it must fail or give
// a backend that serves every key it lists, never panic or hang.
func openFuzzed(t *testing.T, data, snap []byte) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, fuzzDataFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if snap != nil {
		if err := os.WriteFile(filepath.Join(dir, snapshotName), snap, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b, err := Open(dir, Options{Sync: SyncNone})
		if err != nil {
			return
		}
		defer b.Close()
		ctx := context.Background()
		var keys []backend.Key
		_ = b.Iterate(ctx, backend.IterateOptions{}, func(r backend.Record) error {
			keys = append(keys, r.Key)
			return nil
		})
		for _, k := range keys {
			_, _, _ = b.Read(ctx, k, 0, 0)
			_, _ = b.Lookup(ctx, k, backend.LookupOptions{})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("blob.Open over a fuzzed directory hangs:\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// FuzzOpenData: blob.Open over a directory whose data file is arbitrary
// bytes (no index snapshot: the records are replayed).
func FuzzOpenData(f *testing.F) {
	data, _ := blobTemplate(f, Options{Sync: SyncNone})
	cdata, _ := blobTemplate(f, Options{Sync: SyncNone, Compress: true})
	f.Add(data)
	f.Add(cdata)
	f.Add(data[:len(data)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) { openFuzzed(t, b, nil) })
}

// FuzzOpenSnapshot: blob.Open over an intact data file and an arbitrary
// index snapshot.
func FuzzOpenSnapshot(f *testing.F) {
	data, snap := blobTemplate(f, Options{Sync: SyncNone})
	f.Add(snap)
	if len(snap) > 8 {
		f.Add(snap[:len(snap)-8])
	}
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) { openFuzzed(t, data, b) })
}

// FuzzTrailer: the trailer of a reserved record decodes or is refused.
func FuzzTrailer(f *testing.F) {
	h := header{seq: 7, reservedSize: 100}
	tr := trailer{state: trailerCommitted, seq: 7, size: 50}
	f.Add(tr.encode())
	f.Add(make([]byte, trailerSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeTrailer(b, &h)
		if !ok {
			return
		}
		if got.seq != h.seq || got.size > h.reservedSize {
			t.Fatalf("trailer %+v accepted for header %+v", got, h)
		}
	})
}
