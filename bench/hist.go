package bench

import (
	"math/bits"
	"time"
)

// Histogram buckets: values below histSub are exact; above, every power of
// two is split into histSub linear buckets, so a bucket is at most 1/64
// (1.6%) of its value wide. Values are nanoseconds; the top bucket holds
// everything from 2^(histMaxExp) ns (about 9 minutes) up.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxExp  = 39
	histBuckets = (histMaxExp - histSubBits + 2) * histSub
)

// Histogram is an HDR-like latency histogram with a fixed size and no
// allocation on Record. It is not safe for concurrent use: give every
// worker its own and Merge them.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64
	min    uint64
	max    uint64
}

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	if e > histMaxExp-histSubBits {
		return histBuckets - 1
	}
	return (e+1)*histSub + int(v>>e) - histSub
}

// histLow returns the smallest value of bucket i.
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	return uint64(histSub+i%histSub) << e
}

// histWidth returns the number of values bucket i covers.
func histWidth(i int) uint64 {
	if i < histSub {
		return 1
	}
	return 1 << (i/histSub - 1)
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds the observations of o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset forgets every observation.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Mean returns the mean observation.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Max returns the largest observation (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest observation (exact).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Quantile returns the value below which a fraction q of the observations
// fall, to the histogram's precision (the middle of the bucket, clamped to
// the exact min and max).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histLow(i) + histWidth(i)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
