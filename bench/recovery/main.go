// Command recovery measures the user latency while a cluster moves data
// (the "throttled recovery" issue): two ellipticsd nodes of group 1 (blob
// backends, sync "none", in a scratch directory) are preloaded with
// -objects objects; a closed-loop user load (-clients goroutines, -reads
// reads and the rest writes of random preloaded objects) is measured for
// -baseline; then a third node joins, the first two move the records it
// now owns to it (automatic merge jobs, watched through RECOVERY status),
// and the user load is measured until every merge job is over. Each round
// does this twice, with the nodes' [recovery] limits off (rate = "0",
// objects_rate = 0) and set (-rate, -objects-rate), so the two can be
// compared; -rounds alternates them.
//
//	go run ./bench/recovery [-objects 200000] [-rounds 1] [-out bench/out] [-bin DIR]
//	go run ./bench/recovery -short          # 20,000 objects, a few seconds per phase
//
// The user load is measured in three phases: before the join (-baseline),
// during the move (from the start of the third node until every merge job
// is seen over) and after it (-settle, then -after more). Records moved
// and kept (the new owner already had the object, rewritten there by the
// user load) both count in the move's rate: both cost the merge a copy
// and a lookup, and both take tokens of the rate limit.
//
// It prints a markdown table, writes it to <-out>/recovery.md when -out is
// set, and appends a dated section (machine, command, table) to -results
// (e.g. bench/RESULTS.md) when that is set.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/elliptics/elliptics/bench"
	"github.com/elliptics/elliptics/core/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "recovery:", err)
		os.Exit(1)
	}
}

func run() error {
	b := bench.RecoveryBench{}
	var (
		bin, out, results, rate string
		objectsRate             int64
		rounds                  int
		short                   bool
	)
	flag.StringVar(&bin, "bin", "", "directory holding ellipticsd (default $ELLIPTICS_BIN, else built from ./cmd/ellipticsd)")
	flag.IntVar(&b.Objects, "objects", 200000, "objects preloaded on the first two nodes")
	flag.IntVar(&b.ValueSize, "size", 1024, "object size in bytes (>= 8)")
	flag.IntVar(&b.Clients, "clients", 16, "concurrent user clients")
	flag.Float64Var(&b.ReadFraction, "reads", 0.9, "fraction of user ops that are reads (the others are writes)")
	flag.DurationVar(&b.Baseline, "baseline", 10*time.Second, "measured user load before the third node joins")
	flag.DurationVar(&b.Warmup, "warmup", time.Second, "unmeasured user load before the baseline")
	flag.DurationVar(&b.After, "after", 3*time.Second, "measured user load after the move, besides -settle")
	flag.DurationVar(&b.MergeDelay, "merge-delay", 500*time.Millisecond, "recovery.merge_delay of the nodes")
	flag.DurationVar(&b.Settle, "settle", 3*time.Second, "the move is over when no merge job ran or appeared for this long")
	flag.DurationVar(&b.MoveTimeout, "move-timeout", 5*time.Minute, "longest wait for the move")
	flag.IntVar(&b.Points, "points", 64, "ring points of every backend (more: the share moved varies less between runs)")
	flag.StringVar(&rate, "rate", "512KiB", "recovery.rate (bytes/s per node) of the limited configuration; about half of what an unlimited move of 1 KiB objects reaches on a 2-CPU machine")
	flag.Int64Var(&objectsRate, "objects-rate", 0, "recovery.objects_rate (objects/s per node) of the limited configuration")
	flag.IntVar(&rounds, "rounds", 1, "rounds; each runs the unlimited and the limited configuration, alternating")
	flag.BoolVar(&short, "short", false, "a quick run: 20,000 objects, 3s baseline, 1s settle (unless those flags are given)")
	flag.StringVar(&out, "out", "", "directory to write recovery.md to")
	flag.StringVar(&results, "results", "", "file to append a dated section with the results to (e.g. bench/RESULTS.md)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	if short {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["objects"] {
			b.Objects = 20000
		}
		if !set["baseline"] {
			b.Baseline = 3 * time.Second
		}
		if !set["settle"] {
			b.Settle = time.Second
		}
		if !set["after"] {
			b.After = time.Second
		}
	}
	if rounds < 1 {
		return fmt.Errorf("-rounds must be >= 1, got %d", rounds)
	}
	sz, err := config.ParseSize(rate)
	if err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	if objectsRate < 0 {
		return fmt.Errorf("-objects-rate must be >= 0, got %d", objectsRate)
	}
	if sz == 0 && objectsRate == 0 {
		return fmt.Errorf("-rate 0 and -objects-rate 0 would make the limited configuration unlimited")
	}
	limited := bench.RecoveryLimits{Rate: rate, ObjectsRate: objectsRate}
	var parts []string
	if sz > 0 {
		parts = append(parts, fmt.Sprintf("rate %s/s", sz))
	}
	if objectsRate > 0 {
		parts = append(parts, fmt.Sprintf("%d objects/s", objectsRate))
	}
	limited.Name = "limited (" + strings.Join(parts, ", ") + " per node)"
	unlimited := bench.RecoveryLimits{Name: "unlimited", Rate: "0", ObjectsRate: 0}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	daemon, cleanup, err := bench.FindDaemon(ctx, bin)
	if err != nil {
		return err
	}
	defer cleanup()
	b.Bin = daemon
	b.Log = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}

	started := time.Now().UTC()
	var res []bench.RecoveryResult
	for r := range rounds {
		for _, l := range []bench.RecoveryLimits{unlimited, limited} {
			b.Limits = l
			b.Log("round %d/%d: %s", r+1, rounds, l.Name)
			rr, err := b.Run(ctx)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, l.Name, err)
			}
			if rr.Unreadable > 0 {
				return fmt.Errorf("round %d, %s: %d objects not readable after the move; first: %v", r+1, l.Name, rr.Unreadable, rr.FirstUnreadable)
			}
			for _, p := range []struct {
				name string
				st   *bench.PhaseStats
			}{{"before the join", &rr.Baseline}, {"during the move", &rr.Move}, {"after the move", &rr.After}} {
				if p.st.Errors > 0 {
					b.Log("%s: %d user ops failed %s; first: %v; last (of the same client): %v", l.Name, p.st.Errors, p.name, p.st.FirstErr, p.st.LastErr)
				}
			}
			if len(rr.LastErrors) > 0 {
				b.Log("%s: merge job errors: %s", l.Name, strings.Join(rr.LastErrors, "; "))
			}
			res = append(res, rr)
		}
	}
	table := bench.RecoveryTable(res)
	head := fmt.Sprintf("%s; %d objects of %d bytes, %d user clients (%.0f%% reads), %d ring points per backend; %s → %s UTC\n\n"+
		"`%s`\n\n", bench.Machine(), b.Objects, b.ValueSize, b.Clients, 100*b.ReadFraction, b.Points,
		started.Format("2006-01-02 15:04"), time.Now().UTC().Format("15:04"), commandLine())
	fmt.Print(head + table)
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "recovery.md"), []byte(head+table), 0o644); err != nil {
			return err
		}
	}
	if results != "" {
		f, err := os.OpenFile(results, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("results file: %w", err)
		}
		_, werr := fmt.Fprintf(f, "\n## Throttled recovery: user latency during a move, %s UTC\n\n%s%s", started.Format("2006-01-02 15:04"), head, table)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("results file: %w", werr)
		}
	}
	return nil
}

// commandLine is how this run was started, for the record.
func commandLine() string {
	return strings.Join(append([]string{"go run ./bench/recovery"}, os.Args[1:]...), " ")
}
