// Command peers drives ellipticsd and peer stores (Redis 7, etcd 3.4,
// Tarantool 2.6, SeaweedFS) with the same closed-loop workloads in one run,
// on loopback, each system started on a scratch directory and stopped after
// its workloads: 1 KiB puts, gets and a 90/10 get/put mix over -nkeys keys,
// at every -clients count with every -keys distribution (uniform, zipf),
// 1 MiB puts and gets over -big-nkeys keys, and replicated puts where the
// system has replicas on one machine (ellipticsd with 3 groups). Next to
// them it measures the machine's limits: the raw loopback request/response
// rate (package bench), a sequential write and an fsync loop on the
// scratch directory. It prints a markdown table, writes it to
// <-out>/peers.md, draws ops/s and p99 per system and workload in
// <-out>/peers.png and, with -results, appends a dated section to that
// file, linking the plot copied next to it.
//
//	go run . -bin ../../bin -weed ../out/weed -out ../out -duration 5s [-results ../RESULTS.md]
//
// Peers missing from PATH (or -weed empty) are skipped with a note.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elliptics/elliptics/bench"
)

type config struct {
	bin, weed, out, scratch, results string
	profile                          string // directory of the profiles' reports, "" = none
	duration, warmup, fsyncTime      time.Duration
	nkeys, bigNKeys, rounds          int
	clients                          []int    // -clients: client counts of the cells
	keys                             []string // -keys: key distributions of the cells
	seqBytes                         int64
	systems, workloads, profiled     *regexp.Regexp
}

// workload is one measured load: op "put", "get" or "mix" (90 % gets)
// of values of size bytes.
type workload struct {
	name string
	op   string
	size int
}

const (
	small = 1 << 10
	big   = 1 << 20
)

var allWorkloads = []workload{
	{"put 1 KiB", "put", small},
	{"get 1 KiB", "get", small},
	{"90/10 get/put 1 KiB", "mix", small},
	{"put 1 MiB", "put", big},
	{"get 1 MiB", "get", big},
}

func main() {
	var c config
	var systems, workloads, profiled, clients, keys string
	flag.StringVar(&c.bin, "bin", "", "directory holding ellipticsd (default $ELLIPTICS_BIN, else built)")
	flag.StringVar(&c.weed, "weed", os.Getenv("WEED"), "SeaweedFS `weed` binary (empty: SeaweedFS is skipped)")
	flag.StringVar(&c.out, "out", "bench/out", "directory for peers.md and, by default, the scratch directory")
	flag.StringVar(&c.scratch, "scratch", "", "scratch directory for the systems' data and the disk limits (default <out>/peers-scratch)")
	flag.StringVar(&c.results, "results", "", "file to append a dated section with the tables to")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measured time of each workload")
	flag.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each workload")
	flag.DurationVar(&c.fsyncTime, "fsync-time", 2*time.Second, "length of the 4 KiB write+fsync loop")
	flag.Int64Var(&c.seqBytes, "seq-bytes", 1<<30, "size of the sequential write limit")
	flag.StringVar(&clients, "clients", "32", "comma-separated counts of concurrent clients: each 1 KiB workload runs at each (1 MiB ones at the first only)")
	flag.IntVar(&c.rounds, "rounds", 1, "rounds: each system runs its workloads once per round, the systems taking turns; figures are the medians")
	flag.IntVar(&c.nkeys, "nkeys", 10000, "keys of the 1 KiB workloads")
	flag.IntVar(&c.bigNKeys, "big-nkeys", 100, "keys of the 1 MiB workloads")
	flag.StringVar(&keys, "keys", "uniform", "comma-separated key distributions, uniform and zipf (s = 1.1): each 1 KiB workload runs with each (1 MiB ones with the first only)")
	flag.StringVar(&systems, "systems", ".", "regexp: systems to run (by name)")
	flag.StringVar(&workloads, "workloads", ".", "regexp: workloads to run (by name)")
	flag.StringVar(&c.profile, "profile", "", "`dir`ectory for pprof reports (go tool pprof -top, -svg with graphviz) of ellipticsd's CPU and allocations during "+strings.Join(profiledWorkloads, " and ")+", taken in the last round; raw profiles go to <out>/profiles")
	flag.StringVar(&profiled, "profile-systems", "^ellipticsd blob", "regexp: systems -profile profiles (ellipticsd ones only)")
	flag.Parse()
	var err error
	if c.systems, err = regexp.Compile(systems); err == nil {
		c.workloads, err = regexp.Compile(workloads)
	}
	if err == nil {
		c.profiled, err = regexp.Compile(profiled)
	}
	if err == nil {
		c.clients, err = parseClients(clients)
	}
	if err == nil {
		c.keys, err = parseKeys(keys)
	}
	if err == nil && c.rounds < 1 {
		err = fmt.Errorf("-rounds %d: want at least 1", c.rounds)
	}
	if err == nil {
		err = run(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func systemsOf(c config, bin string) []system {
	all := []string{"put 1 KiB", "get 1 KiB", "90/10 get/put 1 KiB", "put 1 MiB", "get 1 MiB"}
	small := all[:3]
	return []system{
		{name: "ellipticsd blob sync=always", durability: "fsync", ours: true, replicas: 1, workloads: all,
			start: func(ctx context.Context, w string, prof bool) (Store, error) {
				return startOurs(ctx, bin, w, "always", 1, prof)
			}},
		{name: "ellipticsd blob sync=none", durability: "none", ours: true, replicas: 1, workloads: all,
			start: func(ctx context.Context, w string, prof bool) (Store, error) {
				return startOurs(ctx, bin, w, "none", 1, prof)
			}},
		{name: "ellipticsd 3 groups sync=none", durability: "none", ours: true, replicas: 3, workloads: []string{"put 1 KiB", "put 1 MiB"},
			start: func(ctx context.Context, w string, prof bool) (Store, error) {
				return startOurs(ctx, bin, w, "none", 3, prof)
			}},
		{name: "Redis appendfsync=always", durability: "fsync", replicas: 1, workloads: all,
			start: func(ctx context.Context, w string, _ bool) (Store, error) {
				return startRedis(ctx, w, "always", slices.Max(c.clients))
			}},
		{name: "Redis appendfsync=everysec", durability: "none", replicas: 1, workloads: all,
			start: func(ctx context.Context, w string, _ bool) (Store, error) {
				return startRedis(ctx, w, "everysec", slices.Max(c.clients))
			}},
		{name: "etcd", durability: "fsync", replicas: 1, workloads: small,
			start: func(ctx context.Context, w string, _ bool) (Store, error) {
				return startEtcd(ctx, w, slices.Max(c.clients))
			}},
		{name: "Tarantool wal_mode=write", durability: "none", replicas: 1, workloads: all,
			start: func(ctx context.Context, w string, _ bool) (Store, error) { return startTarantool(ctx, w, "write") }},
		{name: "SeaweedFS filer", durability: "none", replicas: 1, workloads: all,
			start: func(ctx context.Context, w string, _ bool) (Store, error) {
				if c.weed == "" {
					return nil, errors.New("no -weed binary")
				}
				return startWeed(ctx, c.weed, w, slices.Max(c.clients), 1)
			}},
		{name: "SeaweedFS filer 3 volume servers replication=002", durability: "none", replicas: 3, workloads: []string{"put 1 KiB", "put 1 MiB"},
			start: func(ctx context.Context, w string, _ bool) (Store, error) {
				if c.weed == "" {
					return nil, errors.New("no -weed binary")
				}
				return startWeed(ctx, c.weed, w, slices.Max(c.clients), 3)
			}},
	}
}

func run(c config) error {
	ctx := context.Background()
	if c.scratch == "" {
		c.scratch = filepath.Join(c.out, "peers-scratch")
	}
	// The servers run in their own directories: every path they get is
	// absolute.
	for _, p := range []*string{&c.out, &c.scratch, &c.weed, &c.bin, &c.profile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := os.MkdirAll(c.scratch, 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(c.scratch, "run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	bin, cleanup, err := bench.FindDaemon(ctx, c.bin)
	if err != nil {
		return err
	}
	defer cleanup()

	var lim Limits
	logf("limits: raw loopback")
	lim.Clients = c.clients[0]
	if lim.Raw, err = measureRaw(ctx, []int{small, big}, c.clients[0], c.warmup, c.duration); err != nil {
		return fmt.Errorf("raw loopback: %w", err)
	}
	logf("limits: sequential write of %s", human(int(c.seqBytes)))
	lim.SeqBytes = c.seqBytes
	if lim.SeqMBps, err = seqWrite(scratch, c.seqBytes); err != nil {
		return fmt.Errorf("sequential write: %w", err)
	}
	logf("limits: fsync loop")
	if lim.FsyncPerSec, err = fsyncRate(scratch, c.fsyncTime); err != nil {
		return fmt.Errorf("fsync loop: %w", err)
	}

	type planned struct {
		sys system
		wls []workload
	}
	var plan []planned
	for _, sys := range systemsOf(c, bin) {
		if !c.systems.MatchString(sys.name) {
			continue
		}
		var wls []workload
		for _, w := range allWorkloads {
			if contains(sys.workloads, w.name) && c.workloads.MatchString(w.name) {
				wls = append(wls, w)
			}
		}
		if len(wls) > 0 {
			plan = append(plan, planned{sys, wls})
		}
	}
	// Round r runs every system in turn, in reverse order on odd rounds,
	// so that drift in the machine's speed (page cache, other tenants)
	// reaches every system alike and none is always first.
	measured := map[[2]string][]Row{} // by system and workload
	failed := map[string]bool{}
	var notes []string
	for r := range c.rounds {
		order := slices.Clone(plan)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, p := range order {
			if failed[p.sys.name] {
				continue
			}
			logf("round %d/%d: %s", r+1, c.rounds, p.sys.name)
			profile := c.profile != "" && r == c.rounds-1 && c.profiled.MatchString(p.sys.name)
			got, err := runSystem(ctx, c, p.sys, p.wls, scratch, lim, profile)
			if err != nil {
				logf("%s: %v", p.sys.name, err)
				notes = append(notes, fmt.Sprintf("%s skipped: %s", p.sys.name, firstLine(err.Error())))
				failed[p.sys.name] = true
				continue
			}
			for _, row := range got {
				k := [2]string{row.System, row.Workload}
				measured[k] = append(measured[k], row)
			}
		}
	}
	// Rows in the order of the systems, workloads and cells, one per
	// system and row name, over the rounds that measured it (a system that
	// failed in a later round keeps the earlier ones).
	var rows []Row
	for _, p := range plan {
		for _, w := range p.wls {
			for _, cl := range cellsOf(c.clients, c.keys, w.size) {
				if rs := measured[[2]string{p.sys.name, rowName(w.name, p.sys.replicas, cl)}]; len(rs) > 0 {
					rows = append(rows, MergeRounds(rs))
				}
			}
		}
	}

	report := render(c, lim, rows, notes)
	fmt.Println(report)
	if err := os.WriteFile(filepath.Join(c.out, "peers.md"), []byte(report), 0o644); err != nil {
		return err
	}
	pngs := []string{filepath.Join(c.out, "peers.png")}
	if c.results != "" {
		pngs = append(pngs, filepath.Join(filepath.Dir(c.results), "peers.png"))
	}
	plotted := true
	if err := savePlot(rows, pngs...); errors.Is(err, errNothingToPlot) {
		plotted = false
	} else if err != nil {
		return err
	}
	if c.results != "" {
		f, err := os.OpenFile(c.results, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		link := ""
		if plotted {
			link = "![ops/s and p99 per system and workload](peers.png)\n\n"
		}
		_, err = fmt.Fprintf(f, "\n## Side by side with peers: ellipticsd, Redis, etcd, Tarantool, SeaweedFS, %s\n\n%s%s",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"), link, report)
		return err
	}
	return nil
}

// savePlot writes the plot of rows (WritePlot) to each of paths.
func savePlot(rows []Row, paths ...string) error {
	var buf bytes.Buffer
	if err := WritePlot(&buf, rows); err != nil {
		return err
	}
	for _, p := range paths {
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		logf("plot: %s", p)
	}
	return nil
}

// runSystem starts sys in its own scratch directory, runs its workloads
// and stops it. With profile, it captures the server's profiles during
// the profiledWorkloads (captureProfiles).
func runSystem(ctx context.Context, c config, sys system, wls []workload, scratch string, lim Limits, profile bool) ([]Row, error) {
	work, err := os.MkdirTemp(scratch, "sys-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	logf("%s: starting", sys.name)
	st, err := sys.start(ctx, work, profile)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	kvs := make([]KV, slices.Max(c.clients))
	for i := range kvs {
		if kvs[i], err = st.Worker(i); err != nil {
			return nil, err
		}
	}
	counters := func() bench.Counters {
		sum := bench.MachineCounters().Add(bench.ProcessCounters(0))
		for _, pid := range st.Pids() {
			sum = sum.Add(bench.ProcessCounters(pid))
		}
		return sum
	}
	preloaded := map[int]bool{}
	var rows []Row
	for _, w := range wls {
		nkeys, prefix := c.nkeys, "k"
		if w.size == big {
			nkeys, prefix = c.bigNKeys, "m"
		}
		value := bench.RandomValue(w.size, uint64(w.size))
		if !preloaded[w.size] {
			logf("%s: preloading %d × %s", sys.name, nkeys, human(w.size))
			if err := preload(ctx, kvs, prefix, nkeys, value); err != nil {
				return rows, err
			}
			preloaded[w.size] = true
		}
		for ci, cl := range cellsOf(c.clients, c.keys, w.size) {
			// Only the first cell is profiled, so that the profiles'
			// file names (slug of the bare workload) stay one per workload.
			row, err := runCell(ctx, c, sys, st, kvs, w, cl, nkeys, prefix, value, counters, profile && ci == 0)
			if err != nil {
				return rows, err
			}
			if sys.replicas == 1 {
				row.RawOpsPerSec = lim.Raw[w.size].OpsPerSec
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// runCell runs workload w on st at cell cl with the first cl.clients of
// kvs, profiling the server as runSystem says when profile is set.
func runCell(ctx context.Context, c config, sys system, st Store, kvs []KV, w workload, cl cell,
	nkeys int, prefix string, value []byte, counters func() bench.Counters, profile bool) (Row, error) {
	name := rowName(w.name, sys.replicas, cl)
	bw := bench.Workload{
		Name: name, Clients: cl.clients, Warmup: c.warmup, Duration: c.duration, Counters: counters,
		NewWorker: func(_ context.Context, i int) (bench.OpFunc, func(), error) {
			op, err := newOp(kvs[i], w.op, cl.keys, prefix, nkeys, value, uint64(i)+1)
			return op, nil, err
		},
	}
	var profiled chan error
	if pr, ok := st.(profiler); ok && profile && pr.PprofBase() != "" && contains(profiledWorkloads, w.name) {
		profiled = make(chan error, 1)
		go func() {
			profiled <- captureProfiles(ctx, pr.PprofBase(), c.warmup, c.duration,
				filepath.Join(c.out, "profiles"), c.profile, slug(sys.name, w.name))
		}()
	}
	res, err := bench.Run(ctx, bw)
	if profiled != nil {
		if perr := <-profiled; perr != nil {
			logf("%s: %s: profiles: %v", sys.name, name, perr)
		} else {
			logf("%s: %s: profiles in %s", sys.name, name, c.profile)
		}
	}
	if err != nil {
		return Row{}, fmt.Errorf("%s: %w", name, err)
	}
	row := Row{Workload: name, System: sys.name, Durability: sys.durability, Ours: sys.ours, ValueSize: w.size,
		OpsPerSec: res.OpsPerSec, P50: res.P50(), P99: res.P99(), P999: res.Hist.Quantile(0.999),
		Errors: res.Errors, FirstErr: res.FirstErr, CPUPerOp: res.CPUPerOp()}
	logf("%s: %s: %.0f ops/s p50 %v p99 %v p999 %v errors %d %v", sys.name, name, res.OpsPerSec,
		res.P50(), res.P99(), row.P999, res.Errors, res.FirstErr)
	return row, nil
}

// newOp returns worker seed's operation: a put or a get of a key picked by
// dist, or 90 % gets and 10 % puts.
func newOp(kv KV, op, dist, prefix string, nkeys int, value []byte, seed uint64) (bench.OpFunc, error) {
	pick, err := NewPicker(dist, nkeys, seed)
	if err != nil {
		return nil, err
	}
	names := make([]string, nkeys)
	for i := range names {
		names[i] = keyName(prefix, i)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 17))
	get := func() error {
		b, err := kv.Get(ctx, names[pick()])
		if err != nil {
			return err
		}
		if len(b) != len(value) {
			return fmt.Errorf("got %d bytes, want %d", len(b), len(value))
		}
		return nil
	}
	put := func() error { return kv.Put(ctx, names[pick()], value) }
	switch op {
	case "put":
		return put, nil
	case "get":
		return get, nil
	case "mix":
		return func() error {
			if rng.IntN(10) == 0 {
				return put()
			}
			return get()
		}, nil
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

// preload puts value under every key, with every worker's client.
func preload(ctx context.Context, kvs []KV, prefix string, nkeys int, value []byte) error {
	errs := make(chan error, len(kvs))
	for w, kv := range kvs {
		go func() {
			for i := w; i < nkeys; i += len(kvs) {
				if err := kv.Put(ctx, keyName(prefix, i), value); err != nil {
					errs <- fmt.Errorf("preload %s: %w", keyName(prefix, i), err)
					return
				}
			}
			errs <- nil
		}()
	}
	var err error
	for range kvs {
		err = errors.Join(err, <-errs)
	}
	return err
}

func render(c config, lim Limits, rows []Row, notes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- **Machine:** %s\n", bench.Machine())
	fmt.Fprintf(&b, "- **Date:** %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- **Command:** `go run . %s` (in bench/peers)\n", commandLine(os.Args[1:]))
	fmt.Fprintf(&b, "- **Peers:** %s\n", strings.Join(versions(c), "; "))
	fmt.Fprintf(&b, "- **Load:** %s; %s warmup + %s measured per workload and cell; %s; each system started afresh and preloaded with every key before its first workload of that size in each round.\n",
		loadText(c), c.warmup, c.duration, roundsText(c.rounds))
	b.WriteString("\nLimits of the machine, measured in the same run (scratch directory on the same file system as the systems' data):\n\n")
	b.WriteString(LimitsTable(lim))
	b.WriteString("\n")
	b.WriteString(Table(rows))
	fmt.Fprintf(&b, "\n\"of raw loopback\": ops/s over the raw loopback rate with the same value size (measured at %d clients, for the rows of every client count). \"ours/peer\": ops/s of ellipticsd with the same durability (fsync peers against sync = \"always\", the others against sync = \"none\") at the same client count and key distribution, over the peer's. CPU µs/op: the load generator and the servers together.\n", lim.Clients)
	for _, n := range notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	for _, r := range rows {
		if r.FirstErr != nil {
			fmt.Fprintf(&b, "\nFirst error of %s / %s: %s\n", r.System, r.Workload, firstLine(r.FirstErr.Error()))
		}
	}
	return b.String()
}

// versions returns the first line of each peer's version output.
func versions(c config) []string {
	var v []string
	for _, cmd := range [][]string{{"redis-server", "--version"}, {"etcd", "--version"}, {"tarantool", "--version"}} {
		out, err := exec.Command(cmd[0], cmd[1:]...).Output()
		if err != nil {
			v = append(v, cmd[0]+" missing")
			continue
		}
		v = append(v, firstLine(string(out)))
	}
	if c.weed != "" {
		if out, err := exec.Command(c.weed, "version").Output(); err == nil {
			v = append(v, "SeaweedFS "+firstLine(string(out)))
		}
	}
	return v
}

// commandLine joins args, absolute paths made relative to the working
// directory (make passes $(BIN) absolute).
func commandLine(args []string) string {
	wd, _ := os.Getwd()
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if filepath.IsAbs(a) && wd != "" {
			if r, err := filepath.Rel(wd, a); err == nil {
				out[i] = r
			}
		}
	}
	return strings.Join(out, " ")
}

// loadText says which cells the workloads ran at, for the report.
func loadText(c config) string {
	counts := make([]string, len(c.clients))
	for i, n := range c.clients {
		counts[i] = strconv.Itoa(n)
	}
	t := fmt.Sprintf("%s closed-loop clients, %s keys, over %d keys for 1 KiB values", strings.Join(counts, " and "), strings.Join(c.keys, " and "), c.nkeys)
	if len(c.clients) > 1 || len(c.keys) > 1 {
		t += fmt.Sprintf(" (every 1 KiB workload at each combination); the 1 MiB workloads over %d keys at %d clients, %s keys only", c.bigNKeys, c.clients[0], c.keys[0])
	} else {
		t += fmt.Sprintf(", %d for 1 MiB values", c.bigNKeys)
	}
	if slices.Contains(c.keys, "zipf") {
		t += fmt.Sprintf("; zipf: key k drawn with probability ∝ (1 + k)^-%g (math/rand/v2 NewZipf, s = %g, v = 1), each client with its own seeded generator, so that all clients hammer the same hot keys (key 0 takes %.0f %% of the 1 KiB picks)",
			zipfS, zipfS, 100*zipfTopShare(c.nkeys))
	}
	return t
}

// roundsText says how the figures were taken, for the report.
func roundsText(n int) string {
	if n == 1 {
		return "one round"
	}
	return fmt.Sprintf("%d rounds, the systems taking turns (reverse order on every other round); figures are the medians over the rounds, min–max the spread of ops/s", n)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
