// Command scale measures the blob backend at scale: RAM per object of the
// in-memory index with n objects, the time to open such a backend (from the
// index snapshot and by a full scan of the log, each with a cold and a warm
// page cache), and the throughput of 1 MiB fsynced writes as a fraction of
// the disk's sequential write speed measured by dd with O_DIRECT in the
// same directory. It prints a markdown report on stdout and progress on
// stderr.
//
//	go run ./cmd/scale -n 10000000 -dir /var/tmp/scale
//
// Objects have 16-byte values: the index costs the same per object whatever
// the value size, and small values keep the disk use at about 150 bytes an
// object.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/id"
)

type config struct {
	n         int
	dir       string
	mib       int
	writers   int
	valueSize int
	keep      bool
	skipDD    bool
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 10_000_000, "objects to write")
	flag.StringVar(&c.dir, "dir", "", "directory to work in (created; required)")
	flag.IntVar(&c.mib, "mib", 1024, "MiB to write in the 1 MiB write test (0 skips it)")
	flag.IntVar(&c.writers, "writers", 4, "concurrent writers while loading the n objects")
	flag.IntVar(&c.valueSize, "value", 16, "value size of the n objects")
	flag.BoolVar(&c.keep, "keep", false, "keep the files afterwards")
	flag.BoolVar(&c.skipDD, "nodd", false, "skip the dd reference (testing only)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if c.dir == "" || c.n <= 0 || c.mib < 0 || c.writers <= 0 || c.valueSize <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	rep, err := run(c)
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	fmt.Print(rep)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// recordBytes is the disk size of a blob record with a value of n bytes
// (136-byte header, 8-byte alignment).
func recordBytes(n int) uint64 { return uint64(136+n+7) &^ 7 }

func run(c config) (string, error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return "", err
	}
	// The 1 MiB test writes c.mib MiB four times (dd twice, the O_DIRECT
	// writer, blob), one file at a time.
	written := uint64(c.n)*recordBytes(c.valueSize) + 4*uint64(c.mib)<<20
	free, err := freeBytes(c.dir)
	if err != nil {
		return "", err
	}
	if free < 3*written {
		return "", fmt.Errorf("%s has %.1f GiB free; this run writes %.1f GiB and wants 3x that free",
			c.dir, gib(free), gib(written))
	}
	logf("dir %s: %.1f GiB free, this run writes %.1f GiB", c.dir, gib(free), gib(written))

	var out strings.Builder
	fmt.Fprintf(&out, "| figure | value |\n|---|---|\n")
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&out, "| %s | %s |\n", name, fmt.Sprintf(format, args...))
	}

	objDir := filepath.Join(c.dir, "objects")
	if !c.keep {
		defer os.RemoveAll(objDir)
	}
	if err := os.RemoveAll(objDir); err != nil {
		return "", err
	}
	opts := blob.Options{Sync: blob.SyncNone, BlobSize: 64 << 30, RecordsInBlob: 1 << 40,
		SnapshotInterval: time.Hour}

	// Load.
	before := heapAlloc()
	rssBefore := rss()
	b, err := blob.Open(objDir, opts)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if err := load(b, c); err != nil {
		b.Close()
		return "", err
	}
	loadTime := time.Since(start)
	heap := heapAlloc() - before
	rssLoad := rss() - rssBefore
	st := b.Stats()
	idxBytes := st.Extra["index_bytes"].(int)
	logf("loaded %d objects in %v (%.0f/s); heap +%d bytes, index %d bytes", st.Records, loadTime.Round(time.Millisecond),
		float64(c.n)/loadTime.Seconds(), heap, idxBytes)
	if st.Records != uint64(c.n) {
		b.Close()
		return "", fmt.Errorf("backend holds %d objects, wrote %d", st.Records, c.n)
	}
	if err := verify(b, c); err != nil {
		b.Close()
		return "", err
	}
	start = time.Now()
	if err := b.Close(); err != nil {
		return "", err
	}
	closeTime := time.Since(start)
	disk, err := dirBytes(objDir)
	if err != nil {
		return "", err
	}
	snapSize := fileSize(filepath.Join(objDir, "index.snap"))

	row("objects", "%d (values of %d B, %d writers, SyncNone)", c.n, c.valueSize, c.writers)
	row("load rate", "%.0f objects/s (%v)", float64(c.n)/loadTime.Seconds(), loadTime.Round(time.Millisecond))
	row("disk", "%.2f GiB data files, index.snap %.1f MiB", gib(disk-snapSize), float64(snapSize)/(1<<20))
	row("index_bytes (Stats)", "%d = **%.2f B/object**", idxBytes, float64(idxBytes)/float64(c.n))
	row("heap after load (HeapAlloc delta, after GC)", "%d = **%.2f B/object**", heap, float64(heap)/float64(c.n))
	row("RSS delta after load (after FreeOSMemory)", "%.1f MiB = %.2f B/object", float64(rssLoad)/(1<<20), float64(rssLoad)/float64(c.n))
	row("close (writes index.snap)", "%v", closeTime.Round(time.Millisecond))

	// Opens.
	type openRes struct {
		d    time.Duration
		heap int64
	}
	openOnce := func(cold, scan bool) (openRes, error) {
		if scan {
			if err := os.Remove(filepath.Join(objDir, "index.snap")); err != nil {
				return openRes{}, err
			}
		}
		if cold {
			if err := evict(objDir); err != nil {
				return openRes{}, err
			}
		}
		before := heapAlloc()
		start := time.Now()
		b, err := blob.Open(objDir, opts)
		if err != nil {
			return openRes{}, err
		}
		d := time.Since(start)
		if scan {
			// After a scan Open writes index.snap in the background from a
			// copy of the index; wait for it so the heap figure is the
			// backend's, not that transient copy's.
			waitFor(filepath.Join(objDir, "index.snap"), time.Minute)
		}
		heap := heapAlloc() - before
		n := b.Stats().Records
		err = verify(b, c)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != uint64(c.n) {
			err = fmt.Errorf("reopened backend holds %d objects, want %d", n, c.n)
		}
		logf("open cold=%v scan=%v: %v, heap +%d", cold, scan, d.Round(time.Millisecond), heap)
		return openRes{d, heap}, err
	}
	for _, o := range []struct {
		name       string
		cold, scan bool
	}{
		{"open from index.snap, cold cache", true, false},
		{"open from index.snap, warm cache", false, false},
		{"open by full log scan (no index.snap), cold cache", true, true},
		{"open by full log scan (no index.snap), warm cache", false, true},
	} {
		r, err := openOnce(o.cold, o.scan)
		if err != nil {
			return "", err
		}
		row(o.name, "**%.3f s** (heap +%.2f B/object)", r.d.Seconds(), float64(r.heap)/float64(c.n))
	}
	if !c.keep {
		os.RemoveAll(objDir)
	}

	if c.mib > 0 {
		if err := mibTest(c, row); err != nil {
			return "", err
		}
	}
	return out.String(), nil
}

// load writes c.n objects from c.writers goroutines.
func load(b *blob.Backend, c config) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	val := make([]byte, c.valueSize)
	if _, err := rand.Read(val); err != nil {
		return err
	}
	const chunk = 1024
	var done atomic.Int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				logf("  %d / %d", done.Load(), c.n)
			}
		}
	}()
	defer close(stop)
	for range c.writers {
		wg.Go(func() {
			var req backend.WriteRequest
			req.Data = val
			for {
				lo := int(next.Add(chunk) - chunk)
				if lo >= c.n {
					return
				}
				for i := lo; i < min(lo+chunk, c.n); i++ {
					req.ID = key(i)
					if _, err := b.Write(context.Background(), &req); err != nil {
						once.Do(func() { firstErr = fmt.Errorf("write %d: %w", i, err) })
						return
					}
				}
				done.Add(int64(min(lo+chunk, c.n) - lo))
			}
		})
	}
	wg.Wait()
	return firstErr
}

func key(i int) id.ID {
	k, err := id.FromKey("scale", strconv.Itoa(i))
	if err != nil {
		panic(err)
	}
	return k
}

// verify reads back 1000 random objects (and checks one that was never
// written is missing).
func verify(b *blob.Backend, c config) error {
	r := mrand.New(mrand.NewPCG(uint64(c.n), 1))
	for range min(1000, c.n) {
		i := r.IntN(c.n)
		data, _, err := b.Read(context.Background(), backend.Key{ID: key(i)}, 0, 0)
		if err != nil {
			return fmt.Errorf("read object %d: %w", i, err)
		}
		if len(data) != c.valueSize {
			return fmt.Errorf("object %d: %d bytes, want %d", i, len(data), c.valueSize)
		}
	}
	if _, _, err := b.Read(context.Background(), backend.Key{ID: key(-1)}, 0, 0); err == nil {
		return errors.New("an object never written was found")
	}
	return nil
}

// mibTest compares 1 MiB SyncAlways blob writes with dd oflag=direct.
func mibTest(c config, row func(string, string, ...any)) error {
	total := uint64(c.mib) << 20
	rate := func(d time.Duration) float64 { return float64(total) / d.Seconds() / 1e6 }

	var dds []float64
	ddOnce := func(label string) error {
		if c.skipDD {
			return nil
		}
		d, line, err := dd(c.dir, c.mib)
		if err != nil {
			return err
		}
		dds = append(dds, rate(d))
		row("dd "+label, "%.0f MB/s (`%s`)", rate(d), line)
		logf("dd %s: %.0f MB/s", label, rate(d))
		return nil
	}
	if err := ddOnce("before"); err != nil {
		return err
	}
	d, err := directWrite(c.dir, c.mib)
	if err != nil {
		return err
	}
	direct := rate(d)
	row("O_DIRECT writer, random data, 1 MiB writes + fsync at end", "%.0f MB/s", direct)
	logf("O_DIRECT random data: %.0f MB/s", direct)

	var blobRates []float64
	for _, w := range []int{1, 4} {
		d, err := blobMiB(c.dir, c.mib, w)
		if err != nil {
			return err
		}
		blobRates = append(blobRates, rate(d))
		logf("blob 1 MiB SyncAlways, %d writers: %.0f MB/s", w, rate(d))
	}
	if err := ddOnce("after"); err != nil {
		return err
	}
	ref := mean(dds)
	for i, w := range []int{1, 4} {
		r := blobRates[i]
		if ref > 0 {
			row(fmt.Sprintf("blob 1 MiB writes, SyncAlways, %d writer(s)", w),
				"%.0f MB/s = **%.2f of dd** (%.2f of the O_DIRECT writer)", r, r/ref, r/direct)
		} else {
			row(fmt.Sprintf("blob 1 MiB writes, SyncAlways, %d writer(s)", w), "%.0f MB/s (%.2f of the O_DIRECT writer)", r, r/direct)
		}
	}
	return nil
}

// dd runs dd with O_DIRECT and a final fsync, timing it from here.
func dd(dir string, mib int) (time.Duration, string, error) {
	path := filepath.Join(dir, "dd.test")
	defer os.Remove(path)
	cmd := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=1M", "count="+strconv.Itoa(mib), "oflag=direct", "conv=fsync")
	start := time.Now()
	outb, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, "", fmt.Errorf("dd: %v: %s", err, outb)
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	return d, fmt.Sprintf("dd bs=1M count=%d oflag=direct conv=fsync: %s", mib, lines[len(lines)-1]), nil
}

// directWrite writes mib MiB of random data with O_DIRECT in 1 MiB writes
// and fsyncs at the end: dd's measurement without the zeros, which a
// virtual disk might treat specially.
func directWrite(dir string, mib int) (time.Duration, error) {
	path := filepath.Join(dir, "direct.test")
	defer os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_DIRECT, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	raw := make([]byte, 1<<20+4096)
	off := int(4096 - uintptr(unsafe.Pointer(&raw[0]))%4096)
	buf := raw[off : off+1<<20]
	if _, err := rand.Read(buf); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := range mib {
		buf[0] = byte(i)
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// blobMiB writes mib 1 MiB values of random data into a fresh SyncAlways
// backend from the given number of writers and returns the time from the
// first write to the last acknowledgement.
func blobMiB(dir string, mib, writers int) (time.Duration, error) {
	bdir := filepath.Join(dir, "mib")
	if err := os.RemoveAll(bdir); err != nil {
		return 0, err
	}
	defer os.RemoveAll(bdir)
	b, err := blob.Open(bdir, blob.Options{Sync: blob.SyncAlways})
	if err != nil {
		return 0, err
	}
	val := make([]byte, 1<<20)
	if _, err := rand.Read(val); err != nil {
		return 0, err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for range writers {
		wg.Go(func() {
			req := backend.WriteRequest{Data: val}
			for {
				i := int(next.Add(1) - 1)
				if i >= mib {
					return
				}
				req.ID = key(i)
				if _, err := b.Write(context.Background(), &req); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	err = <-errs
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	return d, err
}

// evict fsyncs every file in dir and drops it from the page cache, so the
// next open reads from the disk.
func evict(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		if err == nil {
			err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("evict %s: %w", e.Name(), err)
		}
	}
	return nil
}

// waitFor waits until path exists (or timeout), then a little longer for
// its writer to finish.
func waitFor(path string, timeout time.Duration) {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// rss is the resident set of the process after returning free memory to
// the OS (0 if /proc is unavailable).
func rss() int64 {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func dirBytes(dir string) (uint64, error) {
	var n uint64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += uint64(fi.Size())
		}
		return nil
	})
	return n, err
}

func fileSize(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return uint64(fi.Size())
}

func gib(n uint64) float64 { return float64(n) / (1 << 30) }

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
