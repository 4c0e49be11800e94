package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Source says how a node handled a request: served from its own backend
// (Storage) or forwarded to the node that owns the key (Proxy), like the
// original's total{storage,proxy}.
type Source uint8

// Sources of requests.
const (
	Storage Source = iota
	Proxy
	numSources
)

// String returns the name used in JSON and metric labels.
func (s Source) String() string {
	if s == Proxy {
		return "proxy"
	}
	return "storage"
}

// NumBuckets is the number of latency buckets. Bucket i counts requests
// that took less than BucketBound(i) (and at least BucketBound(i-1)); the
// last bucket counts everything slower than BucketBound(NumBuckets-2).
// The bounds double from 1 µs: 1 µs, 2 µs, 4 µs ... ~16.8 s.
const NumBuckets = 26

// BucketBound is the exclusive upper bound of bucket i; the last bucket
// has none (+Inf), reported as 0.
func BucketBound(i int) time.Duration {
	if i < 0 || i >= NumBuckets-1 {
		return 0
	}
	return time.Microsecond << i
}

// bucketOf maps a latency to its bucket: the bit length of the latency in
// whole microseconds, so one instruction instead of a search.
func bucketOf(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return min(bits.Len64(uint64(d/time.Microsecond)), NumBuckets-1)
}

// MaxCmd bounds the command numbers counted apart; larger ones share the
// last slot, reported as command number MaxCmd-1 ("UNKNOWN" unless named).
const MaxCmd = 256

// counter is the figures of one command from one source.
type counter struct {
	count   atomic.Uint64
	errors  atomic.Uint64
	bytes   atomic.Uint64 // request plus reply payload bytes
	nanos   atomic.Uint64 // sum of latencies
	buckets [NumBuckets]atomic.Uint64
}

// cmdCounters is the figures of one command, per source.
type cmdCounters [numSources]counter

// Commands counts requests per command and source. The zero value is
// ready; it is safe for concurrent use. A command's counters are
// allocated the first time it is seen, so a node that serves few commands
// (a test cluster of a thousand nodes) pays for few.
type Commands struct {
	cmds [MaxCmd]atomic.Pointer[cmdCounters]
}

func (c *Commands) slot(cmd uint32) *cmdCounters {
	if cmd >= MaxCmd {
		cmd = MaxCmd - 1
	}
	p := &c.cmds[cmd]
	if cc := p.Load(); cc != nil {
		return cc
	}
	// First request of this command: racing recorders agree on one.
	p.CompareAndSwap(nil, new(cmdCounters))
	return p.Load()
}

// Record counts one finished request: how long it took, the payload bytes
// it moved, and whether it failed.
func (c *Commands) Record(cmd uint32, src Source, d time.Duration, bytes uint64, failed bool) {
	if src >= numSources {
		src = Storage
	}
	ct := &c.slot(cmd)[src]
	ct.count.Add(1)
	if failed {
		ct.errors.Add(1)
	}
	if bytes != 0 {
		ct.bytes.Add(bytes)
	}
	if d > 0 {
		ct.nanos.Add(uint64(d))
	}
	ct.buckets[bucketOf(d)].Add(1)
}

// CommandFigures are one command's figures from one source at one moment.
type CommandFigures struct {
	Count  uint64 `json:"count"`
	Errors uint64 `json:"errors"`
	Bytes  uint64 `json:"bytes"`
	// TimeUS is the sum of latencies in microseconds.
	TimeUS uint64 `json:"time_us"`
	// P50US, P99US are latency quantiles in microseconds, estimated from
	// the histogram (the upper bound of the bucket holding the quantile).
	P50US uint64 `json:"p50_us"`
	P99US uint64 `json:"p99_us"`
	// Buckets are the latency histogram, not cumulative: Buckets[i]
	// requests took less than BucketBound(i) (see docs/monitoring.md).
	Buckets [NumBuckets]uint64 `json:"buckets"`
}

// Quantile estimates the q-quantile (0..1) of the latencies: the upper
// bound of the bucket it falls in (the last bucket's lower bound).
func (f *CommandFigures) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range f.Buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, n := range f.Buckets {
		seen += n
		if seen >= rank {
			if i == NumBuckets-1 {
				return BucketBound(i - 1)
			}
			return BucketBound(i)
		}
	}
	return BucketBound(NumBuckets - 2)
}

// CommandStats are one command's figures per source.
type CommandStats struct {
	Cmd     uint32          `json:"cmd"`
	Storage *CommandFigures `json:"storage,omitempty"`
	Proxy   *CommandFigures `json:"proxy,omitempty"`
}

// Figures returns the figures of one source of a command.
func (s *CommandStats) Figures(src Source) *CommandFigures {
	if src == Proxy {
		return s.Proxy
	}
	return s.Storage
}

// Snapshot reads every command seen so far, in command order. A source
// that saw no request is nil. Counters are read one by one while requests
// go on, so a snapshot's figures may be off from one another by the
// requests in flight.
func (c *Commands) Snapshot() []CommandStats {
	var out []CommandStats
	for i := range c.cmds {
		cc := c.cmds[i].Load()
		if cc == nil {
			continue
		}
		cs := CommandStats{Cmd: uint32(i)}
		for src := range numSources {
			f := cc[src].figures()
			if f == nil {
				continue
			}
			if Source(src) == Proxy {
				cs.Proxy = f
			} else {
				cs.Storage = f
			}
		}
		out = append(out, cs)
	}
	return out
}

func (ct *counter) figures() *CommandFigures {
	n := ct.count.Load()
	if n == 0 {
		return nil
	}
	f := &CommandFigures{Count: n, Errors: ct.errors.Load(), Bytes: ct.bytes.Load(),
		TimeUS: ct.nanos.Load() / uint64(time.Microsecond)}
	for i := range ct.buckets {
		f.Buckets[i] = ct.buckets[i].Load()
	}
	f.P50US = uint64(f.Quantile(0.5) / time.Microsecond)
	f.P99US = uint64(f.Quantile(0.99) / time.Microsecond)
	return f
}
