package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Row is one line of the report table.
type Row struct {
	Side    string // "raw loopback" or "elliptics"
	Variant string // "", "shared Node", "Node per client"
	Op      Op
	Clients int
	Conns   int
	Result  Result
	// Ratio is ours/raw for the matching op and client count (0 on raw rows).
	Ratio float64
}

// Micros formats a duration in microseconds.
func Micros(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))
}

// ForeignThreshold is the ForeignCPUs above which a row is marked as
// disturbed by other activity on the machine.
const ForeignThreshold = 0.2

// Table renders rows as a markdown table. Rows measured while other
// processes kept more than ForeignThreshold CPUs busy are marked †, with a
// note under the table.
func Table(rows []Row) string {
	var b strings.Builder
	disturbed := false
	b.WriteString("| side | op | clients | conns | ops/s | p50 µs | p99 µs | CPU µs/op | r+w syscalls/op | ctx switches/op | ours/raw |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		side := r.Side
		if r.Variant != "" {
			side += " (" + r.Variant + ")"
		}
		ratio := ""
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		errs := ""
		if r.Result.Errors > 0 {
			errs = fmt.Sprintf(" (%d errors)", r.Result.Errors)
		}
		if f := r.Result.ForeignCPUs(); f > ForeignThreshold {
			errs += fmt.Sprintf(" † %.1f", f)
			disturbed = true
		}
		cpu := "?"
		if d := r.Result.CPUPerOp(); d > 0 {
			cpu = Micros(d)
		}
		c := r.Result.Counters
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.0f%s | %s | %s | %s | %.2f | %.2f | %s |\n",
			side, r.Op, r.Clients, r.Conns, r.Result.OpsPerSec, errs,
			Micros(r.Result.P50()), Micros(r.Result.P99()), cpu,
			r.Result.PerOp(c.ReadCalls+c.WriteCalls), r.Result.PerOp(c.CtxSwitches), ratio)
	}
	if disturbed {
		fmt.Fprintf(&b, "\n† other processes kept this many CPUs busy during the workload (machine busy + steal − ours, from /proc/stat): the figure is disturbed, rerun on a quiet machine.\n")
	}
	return b.String()
}

// Machine describes the host: CPU model, logical CPUs, GOMAXPROCS, Go
// version and platform.
func Machine() string {
	model := runtime.GOARCH
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d), %s %s/%s", model, runtime.NumCPU(),
		runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
