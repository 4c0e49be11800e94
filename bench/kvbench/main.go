// Command kvbench measures 1 KiB writes and reads through the Go client
// against one ellipticsd with the in-memory backend, with 1 and 32
// concurrent clients, next to a raw loopback TCP request/response loop of
// the same frame sizes measured in the same run (issue 2).
//
//	go run ./bench/kvbench [-duration 5s] [-out bench/out] [-bin DIR]
//
// The node is a real ellipticsd process (from -bin DIR, else $ELLIPTICS_BIN,
// else built from ./cmd/ellipticsd into a temporary directory) started with
// --listen 127.0.0.1:0 --log-level warn and a config naming one in-memory
// backend of group 1 (ellipticsd's own default backend is blob, on disk), in
// a scratch directory, and stopped with SIGTERM at the end; -inproc runs the
// node inside this process instead.
//
// Besides ops/s and latency percentiles, every workload reports the CPU
// time, read/write syscalls and context switches per op of all processes
// involved (from /proc, Linux only).
//
// Profiling: -cpuprofile FILE profiles the benchmark process (the client
// side). Goroutines carry pprof labels (role=client|raw-client|raw-server|
// server, workload=NAME), so one profile splits per side:
//
//	go tool pprof -top -tagfocus=role=client FILE
//
// (scheduler time spent outside any goroutine carries no label). ellipticsd
// itself has no profiling switch yet; -node-cpuprofile FILE runs instead of
// it a child process with the same node (server.New, one mem backend of
// group 1, default options) under runtime/pprof, keeping the process
// boundary. -inproc puts the node in this process (profile label
// role=server). -raw-proc adds raw loopback rows with the raw server in a
// child process, to separate the cost of the process boundary. -run REGEXP
// selects workloads by name (raw/write/1, elliptics/read/32/shared-node, ...).
//
// The workloads compared with each other (raw and ours, same op and client
// count) are started together and measured in -rounds turns, so that other
// activity on the machine touches them alike; rows measured while other
// processes kept CPUs busy are marked in the table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elliptics/elliptics/bench"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	out         string
	bin         string
	inproc      bool
	cpuprofile  string
	clients     []int
	keys        int
	size        int
	run         *regexp.Regexp
	rounds      int
	rawProc     bool
	nodeProfile string
	counters    func() bench.Counters
}

func main() {
	var o options
	var clients, run string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each workload")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each workload")
	flag.IntVar(&o.rounds, "rounds", 5, "split each workload's -duration into this many rounds, taking turns with the workloads it is compared with")
	flag.StringVar(&o.out, "out", "bench/out", "directory for kvbench.md (empty: stdout only)")
	flag.StringVar(&o.bin, "bin", "", "directory holding the ellipticsd binary (default $ELLIPTICS_BIN, else build ./cmd/ellipticsd)")
	flag.BoolVar(&o.inproc, "inproc", false, "run the node inside this process instead of an ellipticsd process")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process to `file`")
	flag.StringVar(&clients, "clients", "1,32", "comma-separated client counts")
	flag.IntVar(&o.keys, "keys", 10000, "number of preloaded keys")
	flag.IntVar(&o.size, "size", 1024, "value size in bytes")
	flag.BoolVar(&o.rawProc, "raw-proc", false, "also measure the raw loopback loop with its server in a child process (the process boundary the node has)")
	rawServe := flag.Bool("raw-serve", false, "internal: serve the raw loopback protocol and print its address (used by -raw-proc)")
	flag.StringVar(&o.nodeProfile, "node-cpuprofile", "", "run the node as a child process of kvbench (server.New + mem backend, as ellipticsd does) instead of ellipticsd, and write its CPU profile to `file`")
	nodeServe := flag.Bool("serve-node", false, "internal: run a node and print its address (used by -node-cpuprofile)")
	flag.StringVar(&run, "run", "", "run only the workloads whose name matches this `regexp` (e.g. 'elliptics/write/32')")
	flag.Parse()
	if *rawServe {
		os.Exit(serveRaw())
	}
	if *nodeServe {
		os.Exit(serveNode(o.nodeProfile))
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fatalf("-clients: bad count %q", f)
		}
		o.clients = append(o.clients, n)
	}
	if run != "" {
		re, err := regexp.Compile(run)
		if err != nil {
			fatalf("-run: %v", err)
		}
		o.run = re
	}
	if o.inproc && o.nodeProfile != "" {
		fatalf("-inproc and -node-cpuprofile exclude each other (with -inproc, -cpuprofile covers the node too)")
	}
	if o.keys <= 0 || o.size <= 0 || o.duration <= 0 || o.rounds <= 0 {
		fatalf("-keys, -size and -duration must be positive")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runAll(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		stop()
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kvbench: "+format+"\n", args...)
	os.Exit(2)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kvbench: "+format+"\n", args...)
}

func runAll(ctx context.Context, o options) (err error) {
	// The node.
	var addr, serverDesc string
	cpuPIDs := []int{0} // processes whose CPU time counts (0 = this one)
	if o.inproc {
		srv, a, err := bench.StartInProc(ctx)
		if err != nil {
			return fmt.Errorf("in-process node: %w", err)
		}
		defer srv.Shutdown(context.Background())
		addr, serverDesc = a, "in-process node (server.New, mem backend, group 1)"
	} else if o.nodeProfile != "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		prof, err := filepath.Abs(o.nodeProfile)
		if err != nil {
			return err
		}
		_ = os.MkdirAll(filepath.Dir(prof), 0o755)
		d, err := bench.StartChild(ctx, "node", self, []string{"-serve-node", "-node-cpuprofile", prof}, nodeReadyPrefix, "")
		if err != nil {
			return err
		}
		defer func() {
			if serr := d.Stop(); serr != nil {
				logf("node: %v", serr)
			}
			logf("node CPU profile written to %s (go tool pprof -top %s)", prof, prof)
		}()
		cpuPIDs = append(cpuPIDs, d.Cmd.Process.Pid)
		addr, serverDesc = d.Addr, "child process running server.New with a mem backend (group 1) under runtime/pprof (-node-cpuprofile)"
	} else {
		bin, cleanup, err := bench.FindDaemon(ctx, o.bin)
		if err != nil {
			return err
		}
		defer cleanup()
		// The default backend of ellipticsd is not necessarily the in-memory
		// one (it is blob, on disk): name it in a config, and run the daemon
		// in a scratch directory so nothing lands in the working tree.
		work, err := os.MkdirTemp("", "kvbench-node-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		cfg := filepath.Join(work, "node.toml")
		if err := os.WriteFile(cfg, []byte(bench.MemNodeConfig), 0o644); err != nil {
			return err
		}
		args := []string{"--config", cfg, "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir", work}
		d, err := bench.StartChild(ctx, "ellipticsd", bin, args, "ellipticsd listening on ", work)
		if err != nil {
			return err
		}
		defer func() {
			if serr := d.Stop(); serr != nil {
				logf("ellipticsd: %v", serr)
			}
		}()
		cpuPIDs = append(cpuPIDs, d.Cmd.Process.Pid)
		addr, serverDesc = d.Addr, fmt.Sprintf("ellipticsd process (%s --config node.toml --listen 127.0.0.1:0 --log-level warn --data-dir DIR; node.toml: one mem backend of group 1)", bin)
	}
	logf("node at %s: %s", addr, serverDesc)

	raw, err := bench.StartRawServer(ctx, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("raw server: %w", err)
	}
	defer raw.Close()
	var rawChildAddr string
	if o.rawProc {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		rc, err := bench.StartChild(ctx, "raw server", self, []string{"-raw-serve"}, rawReadyPrefix, "")
		if err != nil {
			return err
		}
		defer func() {
			if serr := rc.Stop(); serr != nil {
				logf("raw server: %v", serr)
			}
		}()
		cpuPIDs = append(cpuPIDs, rc.Cmd.Process.Pid)
		rawChildAddr = rc.Addr
	}
	o.counters = func() bench.Counters {
		sum := bench.MachineCounters()
		for _, pid := range cpuPIDs {
			sum = sum.Add(bench.ProcessCounters(pid))
		}
		return sum
	}

	if o.cpuprofile != "" {
		_ = os.MkdirAll(filepath.Dir(o.cpuprofile), 0o755)
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			logf("CPU profile written to %s (go tool pprof -top -tagfocus=role=client %s)", o.cpuprofile, o.cpuprofile)
		}()
	}

	keys := bench.Keys(o.keys)
	value := bench.RandomValue(o.size, 42)
	start := time.Now()
	if err := bench.Preload(ctx, addr, keys, value, 32); err != nil {
		return err
	}
	logf("preloaded %d keys of %d bytes in %v", len(keys), len(value), time.Since(start).Round(time.Millisecond))

	sizes := bench.Sizes(o.size, addr)
	var rows []bench.Row
	for _, op := range []bench.Op{bench.OpWrite, bench.OpRead} {
		reqP, repP := sizes.WriteRequest, sizes.WriteReply
		if op == bench.OpRead {
			reqP, repP = sizes.ReadRequest, sizes.ReadReply
		}
		for _, c := range o.clients {
			// The workloads of one op and client count: raw first, then
			// ours. They are started together and take turns in rounds.
			type entry struct {
				w   bench.Workload
				row bench.Row
			}
			var group []entry
			add := func(w bench.Workload, row bench.Row) {
				if o.selected(w.Name) {
					group = append(group, entry{w, row})
				}
			}
			rawName := fmt.Sprintf("raw/%s/%d", op, c)
			add(bench.RawWorkload(rawName, raw.Addr(), c, reqP, repP),
				bench.Row{Side: "raw loopback", Op: op, Clients: c, Conns: c})
			if rawChildAddr != "" {
				add(bench.RawWorkload(fmt.Sprintf("rawproc/%s/%d", op, c), rawChildAddr, c, reqP, repP),
					bench.Row{Side: "raw loopback", Variant: "server in a child process", Op: op, Clients: c, Conns: c})
			}
			if c == 1 {
				add(bench.ClientWorkload(fmt.Sprintf("elliptics/%s/1", op), addr, op, 1, false, keys, value),
					bench.Row{Side: "elliptics", Op: op, Clients: 1, Conns: 1})
			} else {
				add(bench.ClientWorkload(fmt.Sprintf("elliptics/%s/%d/shared-node", op, c), addr, op, c, true, keys, value),
					bench.Row{Side: "elliptics", Variant: "shared Node", Op: op, Clients: c, Conns: 1})
				add(bench.ClientWorkload(fmt.Sprintf("elliptics/%s/%d/node-per-client", op, c), addr, op, c, false, keys, value),
					bench.Row{Side: "elliptics", Variant: "Node per client", Op: op, Clients: c, Conns: c})
			}
			ws := make([]bench.Workload, len(group))
			for i := range group {
				ws[i] = group[i].w
			}
			results, err := o.measure(ctx, ws)
			if err != nil {
				return err
			}
			var rawOps float64
			for i, e := range group {
				e.row.Result = results[i]
				if e.w.Name == rawName {
					rawOps = results[i].OpsPerSec
				}
				if e.row.Side == "elliptics" && rawOps > 0 {
					e.row.Ratio = results[i].OpsPerSec / rawOps
				}
				rows = append(rows, e.row)
			}
		}
	}

	md := report(o, serverDesc, sizes, rows)
	fmt.Print(md)
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		path := filepath.Join(o.out, "kvbench.md")
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			return err
		}
		logf("wrote %s", path)
	}
	return nil
}

func (o *options) selected(name string) bool { return o.run == nil || o.run.MatchString(name) }

// measure runs workloads that are compared with each other: all are
// started (connections open), then they take turns in o.rounds rounds of
// o.duration/o.rounds each, so that a change of the machine's load during
// the run touches all of them alike. The first round of each is preceded
// by o.warmup, later ones by a short rewarm.
func (o *options) measure(ctx context.Context, ws []bench.Workload) ([]bench.Result, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	rs := make([]*bench.Running, 0, len(ws))
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	for _, w := range ws {
		w.Counters = o.counters
		r, err := bench.Start(ctx, w)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	slice := o.duration / time.Duration(o.rounds)
	rewarm := min(o.warmup, 100*time.Millisecond)
	for round := range o.rounds {
		warm := rewarm
		if round == 0 {
			warm = o.warmup
		}
		for k := range rs {
			// Rotate the order, so no workload always follows the same one.
			r := rs[(k+round)%len(rs)]
			if err := r.Round(ctx, warm, slice); err != nil {
				return nil, err
			}
		}
	}
	results := make([]bench.Result, len(rs))
	for i, r := range rs {
		res := r.Result()
		results[i] = res
		c := res.Counters
		secs := res.Elapsed.Seconds()
		logf("%-36s %7.0f ops/s  p50 %6s µs  p99 %6s µs  per op: CPU %5s µs, %.2f reads, %.2f writes, %.2f ctx switches; errors %d; CPUs busy: ours %.2f, machine %.2f, steal %.2f",
			res.Name, res.OpsPerSec, bench.Micros(res.P50()), bench.Micros(res.P99()), bench.Micros(res.CPUPerOp()),
			res.PerOp(c.ReadCalls), res.PerOp(c.WriteCalls), res.PerOp(c.CtxSwitches), res.Errors,
			c.CPU.Seconds()/secs, c.MachineBusy.Seconds()/secs, c.MachineSteal.Seconds()/secs)
		if res.Errors > 0 {
			logf("%s: first error: %v", res.Name, res.FirstErr)
		}
	}
	return results, nil
}

func report(o options, serverDesc string, sizes bench.FrameSizes, rows []bench.Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### kvbench: %d B values, in-memory backend vs raw loopback\n\n", o.size)
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s\n", bench.Machine())
	fmt.Fprintf(&b, "- tree: %s\n", treeState())
	fmt.Fprintf(&b, "- node: %s\n", serverDesc)
	fmt.Fprintf(&b, "- command: `go run ./bench/kvbench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&b, "- each workload: %v measured in %d rounds, taking turns with the workloads it is compared with (same op and client count); %v warmup before the first round, %v before the others; closed loop (every client waits for its reply before the next request); %d keys preloaded, %d-byte incompressible values, random keys\n",
		o.duration, o.rounds, o.warmup, min(o.warmup, 100*time.Millisecond), o.keys, o.size)
	fmt.Fprintf(&b, "- frames (header + payload bytes): write %d+%d -> %d+%d, read %d+%d -> %d+%d; the raw loopback loop sends and answers exactly these sizes, one TCP connection per client\n\n",
		120, sizes.WriteRequest, 120, sizes.WriteReply, 120, sizes.ReadRequest, 120, sizes.ReadReply)
	b.WriteString(bench.Table(rows))
	b.WriteString("\n")
	for _, r := range rows {
		if r.Result.Errors > 0 {
			fmt.Fprintf(&b, "- %s %s/%d: %d errors, first: %v\n", r.Side, r.Op, r.Clients, r.Result.Errors, r.Result.FirstErr)
		}
	}
	var summary []string
	for _, r := range rows {
		if r.Ratio > 0 && r.Clients > 1 {
			summary = append(summary, fmt.Sprintf("%s %s: %.2f", r.Op, r.Variant, r.Ratio))
		}
	}
	if len(summary) > 0 {
		fmt.Fprintf(&b, "Ratio ours/raw at %d clients (target >= 0.5): %s\n", o.clients[len(o.clients)-1], strings.Join(summary, ", "))
	}
	return b.String()
}

// treeState describes the source tree measured: commit, and whether it has
// uncommitted changes.
func treeState() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	state := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		state += " with uncommitted changes"
	}
	return state
}

// findDaemon returns the ellipticsd binary to run and a cleanup that
// removes it if it was built here.
const rawReadyPrefix = "kvbench raw server listening on "

// serveRaw is the child process of -raw-proc: a raw loopback server until
// SIGTERM or SIGINT.
func serveRaw() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := bench.StartRawServer(ctx, "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench raw server:", err)
		return 1
	}
	fmt.Printf("%s%s\n", rawReadyPrefix, srv.Addr())
	<-ctx.Done()
	srv.Close()
	return 0
}

const nodeReadyPrefix = "kvbench node listening on "

// serveNode is the child process of -node-cpuprofile: the node ellipticsd
// runs by default (one mem backend of group 1, default server options), with
// a CPU profile written to profile when SIGTERM or SIGINT stops it.
func serveNode(profile string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := os.Create(profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench node:", err)
		return 1
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "kvbench node:", err)
		return 1
	}
	srv, addr, err := bench.StartInProc(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench node:", err)
		return 1
	}
	fmt.Printf("%s%s\n", nodeReadyPrefix, addr)
	<-ctx.Done()
	err = srv.Shutdown(context.Background())
	pprof.StopCPUProfile()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench node:", err)
		return 1
	}
	return 0
}
