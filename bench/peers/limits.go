package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/elliptics/elliptics/bench"
)

// Limits are the machine's ceilings, measured in the same run.
type Limits struct {
	// Raw loopback request/response rate with Clients clients (package bench's
	// raw server: a 120-byte header and the payload, no parsing or storage),
	// per payload size, shaped like a write (the payload goes in, a header
	// comes back).
	Raw     map[int]bench.Result
	Clients int
	// SeqMBps is a sequential write of SeqBytes in 1 MiB blocks with one
	// fsync at the end, on the scratch directory's file system.
	SeqMBps  float64
	SeqBytes int64
	// FsyncPerSec is a loop of 4 KiB write + fsync on one file.
	FsyncPerSec float64
}

// measureRaw runs the raw loopback baseline for each payload size.
func measureRaw(ctx context.Context, sizes []int, clients int, warmup, d time.Duration) (map[int]bench.Result, error) {
	srv, err := bench.StartRawServer(ctx, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	out := map[int]bench.Result{}
	for _, size := range sizes {
		w := bench.RawWorkload("raw", srv.Addr(), clients, size, 0)
		w.Warmup, w.Duration = warmup, d
		r, err := bench.Run(ctx, w)
		if err != nil {
			return nil, err
		}
		out[size] = r
	}
	return out, nil
}

// seqWrite writes total bytes in 1 MiB blocks to a new file in dir, fsyncs
// it once and returns MB/s (10^6 bytes) over the whole, fsync included.
func seqWrite(dir string, total int64) (float64, error) {
	f, err := os.CreateTemp(dir, "seq-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := bench.RandomValue(1<<20, 7)
	start := time.Now()
	for n := int64(0); n < total; n += int64(len(block)) {
		if _, err := f.Write(block); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return float64(total) / 1e6 / time.Since(start).Seconds(), nil
}

// fsyncRate appends 4 KiB to a file and fsyncs it, in a loop, for d; it returns the
// rate of write+fsync pairs.
func fsyncRate(dir string, d time.Duration) (float64, error) {
	f, err := os.Create(filepath.Join(dir, "fsync-rate"))
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := bench.RandomValue(4096, 8)
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		if _, err := f.Write(block); err != nil { // appends, as a log does
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
