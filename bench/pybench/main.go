// Command pybench measures the Python package against the Go client in one
// run (issue 5): 1 KiB writes and reads, one call at a time, bulk calls of
// -bulk keys, and -concurrency calls in flight (goroutines in Go, asyncio in
// Python), against the same ellipticsd (one in-memory backend of group 1).
//
//	go run ./bench/pybench [-bin DIR] [-duration 3s] [-rounds 3] [-out bench/out]
//
// The Python side is bench/pybench/pybench.py run by -python (python3) with
// the elliptics package installed (`python3 -m pip install
// --no-build-isolation .`); each measurement is a fresh Python process that
// warms up before it measures. Go and Python take turns for every workload,
// -rounds times. The verdict is the median of the rounds' ratios: each
// ratio compares two runs a few seconds apart, which other activity on the
// machine touches alike, where the best round of each side may come from
// different minutes. The best rates are reported too.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elliptics/elliptics/bench"
	"github.com/elliptics/elliptics/core/client"
)

type options struct {
	bin, out, python      string
	duration              time.Duration
	rounds, bulk, conc, n int
	run                   string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "directory of ellipticsd (default $ELLIPTICS_BIN, else built)")
	flag.StringVar(&o.out, "out", "bench/out", "directory for pybench.md")
	flag.StringVar(&o.python, "python", "python3", "Python interpreter with the elliptics package installed")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time of each workload and side, per round")
	flag.IntVar(&o.rounds, "rounds", 3, "turns of every workload")
	flag.IntVar(&o.bulk, "bulk", 100, "keys per bulk call")
	flag.IntVar(&o.conc, "concurrency", 32, "calls in flight in the async workloads")
	flag.IntVar(&o.n, "keys", 10000, "keys written and read")
	flag.StringVar(&o.run, "run", "", "only workloads whose name contains this")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "pybench:", err)
		os.Exit(1)
	}
}

type measurement struct {
	ops     int
	seconds float64
}

func (m measurement) rate() float64 { return float64(m.ops) / m.seconds }

func run(ctx context.Context, o options) error {
	bin, cleanup, err := bench.FindDaemon(ctx, o.bin)
	if err != nil {
		return err
	}
	defer cleanup()
	d, err := bench.StartDaemon(ctx, bin)
	if err != nil {
		return err
	}
	defer d.Stop()
	root, err := bench.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	script := filepath.Join(root, "bench", "pybench", "pybench.py")

	keys := bench.Keys(o.n)
	value := bench.RandomValue(1024, 1)
	if err := bench.Preload(ctx, d.Addr, keys, value, 32); err != nil {
		return err
	}
	node, group, err := bench.Connect(ctx, d.Addr)
	if err != nil {
		return err
	}
	defer node.Close()

	type row struct {
		name, target string
		target0      float64
		best         [2]measurement // Go, Python
		ratios       []float64      // Python / Go, per round
	}
	rows := []*row{
		{name: "write-single", target: "≥ 0.5", target0: 0.5},
		{name: "read-single", target: "≥ 0.5", target0: 0.5},
		{name: "write-bulk", target: "≥ 0.9", target0: 0.9},
		{name: "read-bulk", target: "≥ 0.9", target0: 0.9},
		{name: "write-async"},
		{name: "read-async"},
	}
	for r := 1; r <= o.rounds; r++ {
		for _, w := range rows {
			if o.run != "" && !strings.Contains(w.name, o.run) {
				continue
			}
			g, err := goSide(ctx, node, group, w.name, keys, value, o)
			if err != nil {
				return fmt.Errorf("go %s: %w", w.name, err)
			}
			p, err := pySide(ctx, o, script, d.Addr, w.name)
			if err != nil {
				return fmt.Errorf("python %s: %w", w.name, err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-13s go %9.0f ops/s  python %9.0f ops/s  ratio %.2f\n", r, w.name, g.rate(), p.rate(), p.rate()/g.rate())
			w.ratios = append(w.ratios, p.rate()/g.rate())
			if g.rate() > w.best[0].rate() || w.best[0].ops == 0 {
				w.best[0] = g
			}
			if p.rate() > w.best[1].rate() || w.best[1].ops == 0 {
				w.best[1] = p
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s\n\n", bench.Machine())
	fmt.Fprintf(&b, "Node: ellipticsd (%s), one mem backend of group 1; 1 KiB values, %d keys; bulk calls of %d keys; async: %d calls in flight. %d rounds of %v per side, taking turns; the verdict is on the median of the rounds' ratios.\n\n", bin, o.n, o.bulk, o.conc, o.rounds, o.duration)
	b.WriteString("| workload | Go client ops/s (best round) | Python ops/s (best round) | Python / Go per round | median | target |\n|---|---:|---:|---|---:|---|\n")
	for _, w := range rows {
		if len(w.ratios) == 0 {
			continue
		}
		per := make([]string, len(w.ratios))
		for i, r := range w.ratios {
			per[i] = fmt.Sprintf("%.2f", r)
		}
		ratio := median(w.ratios)
		verdict := ""
		if w.target0 > 0 {
			verdict = w.target + map[bool]string{true: " met", false: " missed"}[ratio >= w.target0]
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %s | %.2f | %s |\n", w.name, w.best[0].rate(), w.best[1].rate(), strings.Join(per, ", "), ratio, verdict)
	}
	fmt.Print(b.String())
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(o.out, "pybench.md"), []byte(b.String()), 0o644)
	}
	return nil
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// goSide runs one workload through the Go client the way pybench.py runs it
// through Python: a warm-up, then calls until the duration is over.
func goSide(ctx context.Context, node *client.Node, group uint32, name string, keys []client.Key, value []byte, o options) (measurement, error) {
	op, mode, _ := strings.Cut(name, "-")
	s := client.NewSession(node)
	s.SetGroups(group)
	single := func(i int) error {
		if op == "write" {
			_, err := s.Write(ctx, keys[i%len(keys)], value)
			return err
		}
		_, err := s.Read(ctx, keys[i%len(keys)], 0, 0)
		return err
	}
	var call func(i int) (int, error) // returns the keys done
	switch mode {
	case "single":
		call = func(i int) (int, error) { return 1, single(i) }
	case "bulk":
		batches := len(keys) / o.bulk
		datas := make([][]byte, o.bulk)
		for j := range datas {
			datas[j] = value
		}
		call = func(i int) (int, error) {
			b := keys[(i%batches)*o.bulk : (i%batches+1)*o.bulk]
			if op == "write" {
				return len(b), s.BulkWrite(ctx, b, datas, nil)
			}
			found := 0
			err := s.BulkRead(ctx, b, func(_ int, _ client.Entry, err error) {
				if err == nil {
					found++
				}
			})
			if err == nil && found != len(b) {
				err = fmt.Errorf("bulk read found %d of %d keys", found, len(b))
			}
			return len(b), err
		}
	case "async":
		// o.conc goroutines, each one call at a time: the Go form of
		// asyncio.gather over o.conc workers.
		return concurrent(o.duration, o.conc, single)
	default:
		return measurement{}, fmt.Errorf("unknown workload %s", name)
	}
	warm := min(500*time.Millisecond, o.duration/4)
	i := 0
	for end := time.Now().Add(warm); time.Now().Before(end); i++ {
		if _, err := call(i); err != nil {
			return measurement{}, err
		}
	}
	var m measurement
	start := time.Now()
	for end := start.Add(o.duration); time.Now().Before(end); i++ {
		n, err := call(i)
		if err != nil {
			return measurement{}, err
		}
		m.ops += n
	}
	m.seconds = time.Since(start).Seconds()
	return m, nil
}

func concurrent(d time.Duration, conc int, op func(i int) error) (measurement, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	start := time.Now()
	end := start.Add(d)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := w; time.Now().Before(end); i += conc {
				if err := op(i); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return measurement{ops: total, seconds: time.Since(start).Seconds()}, first
}

func pySide(ctx context.Context, o options, script, addr, name string) (measurement, error) {
	cmd := exec.CommandContext(ctx, o.python, script, "--addr", addr, "--workload", name,
		"--duration", fmt.Sprint(o.duration.Seconds()), "--keys", fmt.Sprint(o.n),
		"--bulk", fmt.Sprint(o.bulk), "--concurrency", fmt.Sprint(o.conc))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return measurement{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	var r struct {
		Ops     int     `json:"ops"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil || r.Seconds <= 0 {
		return measurement{}, fmt.Errorf("bad output %q: %v", out, err)
	}
	return measurement{ops: r.Ops, seconds: r.Seconds}, nil
}
