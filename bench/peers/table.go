package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Row is the outcome of one workload on one system.
type Row struct {
	// Workload names the row (rowName): the workload, its replicas,
	// client count and key distribution. Rows of several rounds merge by
	// it and System.
	Workload   string
	System     string
	Durability string // "fsync" or "none"
	Ours       bool
	ValueSize  int
	OpsPerSec  float64
	P50        time.Duration
	P99        time.Duration
	P999       time.Duration
	Errors     uint64
	FirstErr   error
	CPUPerOp   time.Duration // summed over the load generator and the servers; 0 if unknown
	// RawOpsPerSec is the raw loopback rate for the same value size (0 if
	// not measured).
	RawOpsPerSec float64
	Skipped      string // why the workload did not run, if it did not
	// Rounds is how many rounds the figures are the median of (0 or 1:
	// a single run); OpsMin and OpsMax are the spread of ops/s over them.
	Rounds         int
	OpsMin, OpsMax float64
}

// MergeRounds returns the row of one workload on one system measured in
// several rounds: the median of each figure (ops/s, latencies, CPU per
// op; the mean of the two middle ones for an even count), the spread of
// ops/s, the errors summed and the first error seen.
func MergeRounds(rounds []Row) Row {
	if len(rounds) == 0 {
		return Row{}
	}
	r := rounds[0]
	r.Rounds = len(rounds)
	r.Errors = 0
	var ops, p50, p99, p999, cpu []float64
	for _, x := range rounds {
		ops = append(ops, x.OpsPerSec)
		p50 = append(p50, float64(x.P50))
		p99 = append(p99, float64(x.P99))
		p999 = append(p999, float64(x.P999))
		cpu = append(cpu, float64(x.CPUPerOp))
		r.Errors += x.Errors
		if r.FirstErr == nil {
			r.FirstErr = x.FirstErr
		}
	}
	r.OpsPerSec = median(ops)
	r.OpsMin, r.OpsMax = slices.Min(ops), slices.Max(ops)
	r.P50, r.P99, r.P999 = time.Duration(median(p50)), time.Duration(median(p99)), time.Duration(median(p999))
	r.CPUPerOp = time.Duration(median(cpu))
	return r
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio returns ours/peer for a peer's row: the ops/s of our row of the
// same workload and durability ("fsync" peers against ours with sync =
// "always", the others against sync = "none"), over the peer's. ok is false
// on our rows and when either side is missing.
func Ratio(rows []Row, r Row) (float64, bool) {
	if r.Ours || r.OpsPerSec <= 0 {
		return 0, false
	}
	for _, o := range rows {
		if o.Ours && o.Workload == r.Workload && o.Durability == r.Durability && o.OpsPerSec > 0 && o.Skipped == "" {
			return o.OpsPerSec / r.OpsPerSec, true
		}
	}
	return 0, false
}

// micros formats a latency in µs, with fewer digits as it grows.
func micros(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	switch {
	case d == 0:
		return "-"
	case us < 100:
		return fmt.Sprintf("%.1f", us)
	default:
		return fmt.Sprintf("%.0f", us)
	}
}

// Table renders rows as markdown: ops/s (and its min–max over the rounds
// when rows have several), MB/s, latency quantiles, CPU per op, the
// fraction of the raw loopback rate for the same value size and ours/peer.
func Table(rows []Row) string {
	spread := slices.ContainsFunc(rows, func(r Row) bool { return r.Rounds > 1 })
	var b strings.Builder
	if spread {
		b.WriteString("| workload | system | durability | ops/s (median) | min–max | MB/s | p50 µs | p99 µs | p999 µs | CPU µs/op | of raw loopback | ours/peer |\n")
		b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	} else {
		b.WriteString("| workload | system | durability | ops/s | MB/s | p50 µs | p99 µs | p999 µs | CPU µs/op | of raw loopback | ours/peer |\n")
		b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	}
	for _, r := range rows {
		name := r.System
		if r.Ours {
			name = "**" + name + "**"
		}
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | %s | skipped: %s | | | | | | | |\n", r.Workload, name, r.Durability, r.Skipped)
			continue
		}
		ops := fmt.Sprintf("%.0f", r.OpsPerSec)
		if r.Errors > 0 {
			ops += fmt.Sprintf(" (%d errors)", r.Errors)
		}
		if spread {
			ops += fmt.Sprintf(" | %.0f–%.0f", r.OpsMin, r.OpsMax)
		}
		cpu := "-"
		if r.CPUPerOp > 0 {
			cpu = micros(r.CPUPerOp)
		}
		raw := "-"
		if r.RawOpsPerSec > 0 {
			raw = fmt.Sprintf("%.0f %%", 100*r.OpsPerSec/r.RawOpsPerSec)
		}
		ratio := ""
		if x, ok := Ratio(rows, r); ok {
			ratio = fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s |\n",
			r.Workload, name, r.Durability, ops, r.OpsPerSec*float64(r.ValueSize)/1e6,
			micros(r.P50), micros(r.P99), micros(r.P999), cpu, raw, ratio)
	}
	return b.String()
}

// LimitsTable renders the machine's ceilings.
func LimitsTable(l Limits) string {
	var b strings.Builder
	b.WriteString("| limit | figure |\n|---|--:|\n")
	for _, size := range sortedSizes(l.Raw) {
		r := l.Raw[size]
		fmt.Fprintf(&b, "| raw loopback request/response, %s in, %d clients | %.0f ops/s (%.0f MB/s), p50 %s µs, p99 %s µs |\n",
			human(size), l.Clients, r.OpsPerSec, r.OpsPerSec*float64(size)/1e6, micros(r.P50()), micros(r.P99()))
	}
	if l.SeqMBps > 0 {
		fmt.Fprintf(&b, "| sequential write, %s in 1 MiB blocks + one fsync | %.0f MB/s |\n", human(int(l.SeqBytes)), l.SeqMBps)
	}
	if l.FsyncPerSec > 0 {
		fmt.Fprintf(&b, "| 4 KiB append + fsync, one writer | %.0f /s |\n", l.FsyncPerSec)
	}
	return b.String()
}

func sortedSizes[V any](m map[int]V) []int {
	var s []int
	for k := range m {
		s = append(s, k)
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// human formats a byte count in KiB, MiB or GiB.
func human(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
