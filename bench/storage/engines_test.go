// Storage-engine benchmarks: the blob backend against cockroachdb/pebble and
// go.etcd.io/bbolt, all with the same 64-byte keys and 1 KiB incompressible
// values, each engine in its own b.TempDir() (so all on the file system of
// $TMPDIR). See README.md for how to run them and what the figures mean.
package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"math/bits"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	bolt "go.etcd.io/bbolt"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/id"
)

const (
	valueSize = 1024
	// syncWriters is the number of concurrent writers of BenchmarkWriteSync32.
	syncWriters = 32
)

// engine is the little each benchmark needs from a store.
type engine interface {
	Put(key, value []byte) error
	// Get returns a copy of the value (or one the caller may keep).
	Get(key []byte) ([]byte, error)
	Close() error
}

// opener opens an engine in dir; sync asks for a durable (fsynced) write
// before Put returns.
type opener func(dir string, sync bool) (engine, error)

type engineDef struct {
	name string
	open opener
}

var engines = []engineDef{
	{"blob", openBlob},
	// blob-pwrite is blob without mapped appends (each sync "none" append
	// a pwrite system call), to show what the mapping is worth.
	{"blob-pwrite", openBlobPwrite},
	{"pebble", openPebble},
	{"bbolt", openBolt},
}

// ---- blob ----

type blobEngine struct{ b *blob.Backend }

func openBlob(dir string, sync bool) (engine, error) {
	return openBlobWith(dir, sync, blob.Options{})
}

func openBlobPwrite(dir string, sync bool) (engine, error) {
	return openBlobWith(dir, sync, blob.Options{NoMappedAppends: true})
}

func openBlobWith(dir string, sync bool, opts blob.Options) (engine, error) {
	opts.Sync = blob.SyncNone
	if sync {
		opts.Sync = blob.SyncAlways
	}
	b, err := blob.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	return &blobEngine{b}, nil
}

func (e *blobEngine) Put(key, value []byte) error {
	var req backend.WriteRequest
	copy(req.ID[:], key)
	req.Data = value
	_, err := e.b.Write(context.Background(), &req)
	return err
}

func (e *blobEngine) Get(key []byte) ([]byte, error) {
	var k backend.Key
	copy(k.ID[:], key)
	data, _, err := e.b.Read(context.Background(), k, 0, 0)
	return data, err
}

func (e *blobEngine) Close() error { return e.b.Close() }

// ---- pebble ----

type pebbleEngine struct {
	db *pebble.DB
	wo *pebble.WriteOptions
}

// quietLogger keeps pebble's informational messages out of benchmark
// output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, "pebble: "+f+"\n", a...) }
func (quietLogger) Fatalf(f string, a ...any) { panic(fmt.Sprintf("pebble: "+f, a...)) }

// openPebble opens pebble with its defaults (8 MiB block cache, 4 MiB
// memtable, snappy blocks) plus a 10-bit bloom filter on every level, the
// usual production setting and the one that favours point reads.
func openPebble(dir string, sync bool) (engine, error) {
	opts := &pebble.Options{Logger: quietLogger{}}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	return &pebbleEngine{db: db, wo: wo}, nil
}

func (e *pebbleEngine) Put(key, value []byte) error { return e.db.Set(key, value, e.wo) }

func (e *pebbleEngine) Get(key []byte) ([]byte, error) {
	v, closer, err := e.db.Get(key)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, closer.Close()
}

func (e *pebbleEngine) Close() error { return e.db.Close() }

// settle flushes the memtable and compacts everything into the last level,
// pebble's best case for point reads.
func (e *pebbleEngine) settle() error {
	if err := e.db.Flush(); err != nil {
		return err
	}
	lo := make([]byte, id.Size)
	hi := bytes.Repeat([]byte{0xff}, id.Size+1)
	return e.db.Compact(context.Background(), lo, hi, true)
}

// ---- bbolt ----

var boltBucket = []byte("objects")

type boltEngine struct {
	db    *bolt.DB
	batch bool // Put through db.Batch (bbolt's own group commit)
}

func openBolt(dir string, sync bool) (engine, error) { return openBoltMode(dir, sync, false) }

func openBoltBatch(dir string, sync bool) (engine, error) { return openBoltMode(dir, sync, true) }

func openBoltMode(dir string, sync, batch bool) (engine, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o644, &bolt.Options{NoSync: !sync, NoFreelistSync: true,
		FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	// db.Batch commits when MaxBatchSize calls have joined or after
	// MaxBatchDelay (10ms); a batch of every concurrent writer is its best
	// case.
	db.MaxBatchSize = syncWriters
	return &boltEngine{db: db, batch: batch}, nil
}

func (e *boltEngine) Put(key, value []byte) error {
	fn := func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put(key, value) }
	if e.batch {
		return e.db.Batch(fn)
	}
	return e.db.Update(fn)
}

func (e *boltEngine) Get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(key)
		if v == nil {
			return errNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

func (e *boltEngine) Close() error { return e.db.Close() }

var errNotFound = errors.New("not found")

// ---- keys and values ----

var (
	keyMu   sync.Mutex
	keyPool []id.ID // keyPool[i] = id.FromKey("bench", "key-i"), grown on demand
)

// keys returns the first n benchmark IDs (shared, do not modify).
func keys(n int) []id.ID {
	keyMu.Lock()
	defer keyMu.Unlock()
	for i := len(keyPool); i < n; i++ {
		k, err := id.FromKey("bench", fmt.Sprintf("key-%d", i))
		if err != nil {
			panic(err)
		}
		keyPool = append(keyPool, k)
	}
	return keyPool[:n]
}

// sortedKeys returns the first n IDs in ascending byte order: the
// "sequential" key order of an ordered store (the IDs themselves are
// SHA-512 hashes, so generation order is random order).
func sortedKeys(n int) []id.ID {
	ks := slices.Clone(keys(n))
	slices.SortFunc(ks, func(a, b id.ID) int { return a.Compare(b) })
	return ks
}

// shuffledKeys returns the first n IDs in a random order.
func shuffledKeys(n int) []id.ID {
	ks := slices.Clone(keys(n))
	r := mrand.New(mrand.NewPCG(1, 2))
	r.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	return ks
}

// valuePool is 64 MiB from crypto/rand; value i is its (i mod 65536)-th KiB,
// so neighbouring values never repeat and nothing compresses.
var valuePool = func() []byte {
	b := make([]byte, 64<<20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}()

func value(i int) []byte {
	off := (i % (len(valuePool) / valueSize)) * valueSize
	return valuePool[off : off+valueSize : off+valueSize]
}

// ---- benchmarks ----

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// benchWrite writes ks in order with one writer.
func benchWrite(b *testing.B, order func(int) []id.ID) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ks := order(b.N)
			db, err := e.open(b.TempDir(), false)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(valueSize)
			b.ResetTimer()
			for i := range b.N {
				if err := db.Put(ks[i][:], value(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportOps(b)
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkWriteSeq writes new keys in ascending key order, no fsync.
func BenchmarkWriteSeq(b *testing.B) { benchWrite(b, sortedKeys) }

// BenchmarkWriteRandom writes new keys in random key order, no fsync.
func BenchmarkWriteRandom(b *testing.B) { benchWrite(b, shuffledKeys) }

// BenchmarkWriteSync32 writes new keys in random order from 32 goroutines,
// each write durable (fsynced) before Put returns. blob (SyncAlways) and
// pebble (Sync) share fsyncs between concurrent writers; bbolt runs one
// transaction, with its two fsyncs, per Put; bbolt-batch uses db.Batch,
// bbolt's own way to merge concurrent writers into one transaction.
func BenchmarkWriteSync32(b *testing.B) {
	defs := append(slices.Clone(engines), engineDef{"bbolt-batch", openBoltBatch})
	for _, e := range defs {
		b.Run(e.name, func(b *testing.B) {
			ks := shuffledKeys(b.N)
			db, err := e.open(b.TempDir(), true)
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, syncWriters)
			b.SetBytes(valueSize)
			b.ResetTimer()
			for range syncWriters {
				wg.Go(func() {
					for {
						i := int(next.Add(1) - 1)
						if i >= b.N {
							return
						}
						if err := db.Put(ks[i][:], value(i)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			reportOps(b)
			// How many writes one sync covered (group commit), where the
			// engine tells.
			if be, ok := db.(*blobEngine); ok {
				if syncs, ok := be.b.Stats().Extra["group_syncs"].(int64); ok && syncs > 0 {
					b.ReportMetric(float64(b.N)/float64(syncs), "writes/sync")
				}
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// readSet is a preloaded store kept across the b.N rounds of one benchmark.
type readSet struct {
	db  engine
	dir string
	n   int
}

var (
	readMu   sync.Mutex
	readSets = map[string]*readSet{}
)

// preloaded returns engine e holding n keys (ids keys(n), value(i)),
// loading it once per process. pebble is flushed and fully compacted after
// loading.
func preloaded(b *testing.B, e engineDef, n int) *readSet {
	readMu.Lock()
	defer readMu.Unlock()
	name := fmt.Sprintf("%s/%d", e.name, n)
	if rs := readSets[name]; rs != nil {
		return rs
	}
	dir, err := os.MkdirTemp("", "storagebench-read-"+e.name+"-")
	if err != nil {
		b.Fatal(err)
	}
	db, err := e.open(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	ks := keys(n)
	for i, k := range ks {
		if err := db.Put(k[:], value(i)); err != nil {
			b.Fatal(err)
		}
	}
	// Reopen, so every engine reads what it would after a restart (blob
	// loads its index snapshot, bbolt maps its file, pebble replays nothing
	// after settling).
	if pe, ok := db.(*pebbleEngine); ok {
		if err := pe.settle(); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db, err = e.open(dir, false); err != nil {
		b.Fatal(err)
	}
	rs := &readSet{db: db, dir: dir, n: n}
	readSets[name] = rs
	return rs
}

func closeReadSets() {
	readMu.Lock()
	defer readMu.Unlock()
	for name, rs := range readSets {
		rs.db.Close()
		os.RemoveAll(rs.dir)
		delete(readSets, name)
	}
}

// readKeys is the number of keys BenchmarkReadRandom preloads.
var readKeys = flag.Int("readkeys", 100_000, "keys (of 1 KiB) BenchmarkReadRandom preloads into each engine")

// BenchmarkReadRandom reads random keys of a preloaded store with one
// reader and checks every value.
func BenchmarkReadRandom(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			rs := preloaded(b, e, *readKeys)
			ks := keys(rs.n)
			r := mrand.New(mrand.NewPCG(uint64(b.N), 7))
			b.SetBytes(valueSize)
			b.ResetTimer()
			for range b.N {
				i := int(r.Uint64N(uint64(rs.n)))
				v, err := rs.db.Get(ks[i][:])
				if err != nil {
					b.Fatal(err)
				}
				if len(v) != valueSize || !bytes.Equal(v, value(i)) {
					b.Fatalf("key %d: got %d bytes, not the %d written", i, len(v), valueSize)
				}
			}
			b.StopTimer()
			reportOps(b)
		})
	}
}

// ---- plain tests (go test without -bench) ----

// TestEngines checks that every adapter stores and returns values, in both
// sync modes, so the benchmarks measure working engines.
func TestEngines(t *testing.T) {
	defs := append(slices.Clone(engines), engineDef{"bbolt-batch", openBoltBatch})
	for _, e := range defs {
		for _, sync := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sync=%v", e.name, sync), func(t *testing.T) {
				dir := t.TempDir()
				db, err := e.open(dir, sync)
				if err != nil {
					t.Fatal(err)
				}
				ks := keys(200)
				for i, k := range ks {
					if err := db.Put(k[:], value(i)); err != nil {
						t.Fatal(err)
					}
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if db, err = e.open(dir, sync); err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				for i, k := range ks {
					v, err := db.Get(k[:])
					if err != nil {
						t.Fatalf("key %d: %v", i, err)
					}
					if !bytes.Equal(v, value(i)) {
						t.Fatalf("key %d: wrong value", i)
					}
				}
				if _, err := db.Get(bytes.Repeat([]byte{1}, id.Size)); err == nil {
					t.Fatal("missing key found")
				}
			})
		}
	}
}

// TestValuesIncompressible guards the premise that values do not compress.
func TestValuesIncompressible(t *testing.T) {
	seen := map[[8]byte]bool{}
	for i := range 65536 {
		var k [8]byte
		copy(k[:], value(i))
		if seen[k] {
			t.Fatalf("value %d repeats", i)
		}
		seen[k] = true
	}
	ones := 0
	for _, x := range valuePool[:1<<20] {
		ones += bits.OnesCount8(x)
	}
	if f := float64(ones) / float64(8<<20); f < 0.49 || f > 0.51 {
		t.Fatalf("value bits are not random: %.3f ones", f)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeReadSets()
	os.Exit(code)
}
