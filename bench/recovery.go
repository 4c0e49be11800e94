package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/route"
)

// The recovery benchmark (issue: "throttled recovery"): two ellipticsd
// nodes of group 1 hold Objects objects under a closed-loop user load; a
// third node joins, and the first two move the records it now owns to it
// (automatic merge jobs). The user load's latency is measured before the
// join (baseline) and while the records move, under the [recovery] limits
// of one configuration.

// RecoveryLimits is the [recovery] rate and objects_rate of every node of
// a run ("0" and 0: unlimited).
type RecoveryLimits struct {
	Name        string
	Rate        string // a size string as in the config file: "4MiB", "0"
	ObjectsRate int64
}

// RecoveryBench configures one run.
type RecoveryBench struct {
	Bin       string // ellipticsd
	Objects   int
	ValueSize int
	Clients   int
	// ReadFraction of the user ops are reads, the others writes.
	ReadFraction float64
	// Baseline is how long the user load is measured before the join,
	// after Warmup; After how long it is measured once the move is over
	// (besides Settle), with the third node in place.
	Baseline, Warmup, After time.Duration
	// MergeDelay is the nodes' recovery.merge_delay.
	MergeDelay time.Duration
	// Settle: the move is over when every merge job started after the
	// join has finished and no new one appeared for this long.
	Settle time.Duration
	// MoveTimeout bounds the wait for the move.
	MoveTimeout time.Duration
	// Points is the number of ring points of every backend: more points
	// make the new node's share (and so the objects moved) vary less
	// between runs.
	Points int
	Limits RecoveryLimits
	// Log, if set, receives progress lines.
	Log func(format string, args ...any)
}

// Phase figures of the user load.
type PhaseStats struct {
	Elapsed time.Duration
	Hist    Histogram
	Errors  uint64
	// FirstErr and LastErr are the first and the last failed op of the
	// phase (of one worker each: the first worker with a failure).
	FirstErr, LastErr error
}

// OpsPerSec returns the completed ops per second of the phase.
func (p *PhaseStats) OpsPerSec() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Hist.Count()) / p.Elapsed.Seconds()
}

// RecoveryResult is the outcome of one run.
type RecoveryResult struct {
	Limits          RecoveryLimits
	Objects         int
	Baseline, Move  PhaseStats
	After           PhaseStats    // from the end of the last merge job on
	JoinToDone      time.Duration // from starting the third node to the end of the last merge job
	MoveDuration    time.Duration // from the start of the first merge job after the join to the end of the last
	Moved, Kept     uint64        // records moved off the old nodes (and found already there)
	MovedBytes      uint64
	JobErrors       uint64
	Jobs            int      // merge jobs started after the join, on all three nodes
	NodeRecords     [3]int   // records on each node after the move (the third is the new one)
	Unreadable      int      // preloaded objects not readable (or with other data) after the move
	FirstUnreadable error    // why the first of them was
	LoadBefore      string   // /proc/loadavg before the run
	LoadAfter       string   // and after
	LastErrors      []string // of the merge jobs
}

// MoveRate returns the records handled (moved or kept) per second of the
// move: a kept record (its new owner already held a copy as new, written
// by the user load) costs the merge, and its rate limit, as much as a
// moved one.
func (r *RecoveryResult) MoveRate() float64 {
	if r.MoveDuration <= 0 {
		return 0
	}
	return float64(r.Moved+r.Kept) / r.MoveDuration.Seconds()
}

// LoadAvg returns the first three fields of /proc/loadavg ("" when unknown).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// recoveryKey and recoveryValue: value i is a fixed random block with i
// in its first 8 bytes, so every object is checkable after the move and
// user writes rewrite the same contents (a later read still checks).
func recoveryKey(i int) client.Key { return client.NewKey(fmt.Sprintf("recbench-%08d", i)) }

func recoveryValue(base []byte, i int, dst []byte) []byte {
	dst = append(dst[:0], base...)
	if len(dst) >= 8 {
		binary.LittleEndian.PutUint64(dst, uint64(i))
	}
	return dst
}

// recNode is one ellipticsd of the run.
type recNode struct {
	*Child
	addr string
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startRecNode starts an ellipticsd with one blob backend of group 1 in
// dir, joining remote unless it is "".
func (b *RecoveryBench) startRecNode(ctx context.Context, dir, remote string) (*recNode, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The port is picked here rather than with port 0 so that the node's
	// name is known before it starts; another process could take the port
	// in between, which the start then reports.
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	remotes := ""
	if remote != "" {
		remotes = fmt.Sprintf("remotes = [%q]", remote)
	}
	conf := fmt.Sprintf(`# written by bench/recovery
[node]
listen = [%q]
%s
data_dir = %q
log_level = "warn"
ping_interval = "500ms"

[recovery]
rate = %q
objects_rate = %d
merge_delay = %q

[[backend]]
id = 0
group = 1
type = "blob"
sync = "none"
points = %d
`, addr, remotes, filepath.Join(dir, "data"), b.Limits.Rate, b.Limits.ObjectsRate, b.MergeDelay.String(), b.Points)
	cfg := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	c, err := StartChild(ctx, "ellipticsd "+addr, b.Bin, []string{"--config", cfg}, "ellipticsd listening on ", dir)
	if err != nil {
		return nil, err
	}
	return &recNode{Child: c, addr: addr}, nil
}

func (b *RecoveryBench) logf(format string, args ...any) {
	if b.Log != nil {
		b.Log(format, args...)
	}
}

func (b *RecoveryBench) check() error {
	switch {
	case b.Bin == "":
		return errors.New("recovery bench: no ellipticsd binary")
	case b.Objects <= 0:
		return fmt.Errorf("recovery bench: objects must be > 0, got %d", b.Objects)
	case b.ValueSize < 8:
		return fmt.Errorf("recovery bench: value size must be >= 8, got %d", b.ValueSize)
	case b.Clients <= 0:
		return fmt.Errorf("recovery bench: clients must be > 0, got %d", b.Clients)
	case b.ReadFraction < 0 || b.ReadFraction > 1:
		return fmt.Errorf("recovery bench: read fraction must be in [0, 1], got %v", b.ReadFraction)
	case b.Baseline <= 0 || b.MergeDelay <= 0 || b.Settle <= 0 || b.MoveTimeout <= 0:
		return errors.New("recovery bench: baseline, merge delay, settle and move timeout must be > 0")
	case b.Points < 1 || b.Points > 4096:
		return fmt.Errorf("recovery bench: points must be in [1, 4096], got %d", b.Points)
	}
	return nil
}

// Run runs the benchmark once: it starts the nodes in a scratch directory
// and stops them (and removes the directory) before returning.
func (b *RecoveryBench) Run(ctx context.Context) (res RecoveryResult, err error) {
	if err := b.check(); err != nil {
		return res, err
	}
	res.Limits, res.Objects = b.Limits, b.Objects
	res.LoadBefore = LoadAvg()
	defer func() { res.LoadAfter = LoadAvg() }()

	work, err := os.MkdirTemp("", "elliptics-recbench-")
	if err != nil {
		return res, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(work)
	var nodes []*recNode
	defer func() {
		for _, n := range nodes {
			if serr := n.Stop(); serr != nil {
				b.logf("stop %s: %v", n.addr, serr)
			}
		}
	}()
	for i := range 2 {
		remote := ""
		if i > 0 {
			remote = nodes[0].addr
		}
		n, err := b.startRecNode(ctx, filepath.Join(work, fmt.Sprintf("node%d", i)), remote)
		if err != nil {
			return res, fmt.Errorf("start node %d: %w", i, err)
		}
		nodes = append(nodes, n)
	}

	cn := client.NewNode(client.Config{WaitTimeout: 10 * time.Second, Name: "recbench"})
	defer cn.Close()
	{
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := cn.AddRemotes(actx, nodes[0].addr, nodes[1].addr)
		if err == nil {
			err = waitBackends(actx, cn, 2)
		}
		cancel()
		if err != nil {
			return res, fmt.Errorf("connect to the first two nodes: %w", err)
		}
	}
	admin := client.NewSession(cn)
	admin.SetTimeout(10 * time.Second)

	base := RandomValue(b.ValueSize, 42)
	t0 := time.Now()
	if err := b.preload(ctx, cn, base); err != nil {
		return res, err
	}
	b.logf("preloaded %d objects of %d bytes in %v", b.Objects, b.ValueSize, time.Since(t0).Round(time.Millisecond))

	// Merges of the cluster's forming (a node that starts runs one) must
	// be over before the baseline.
	if _, err := b.waitMerges(ctx, admin, addrsOf(nodes), nil, nil, nil); err != nil {
		return res, fmt.Errorf("before the baseline: %w", err)
	}
	before := map[string]map[uint64]bool{}
	for _, n := range nodes {
		jobs, err := admin.RecoveryStatus(ctx, n.addr)
		if err != nil {
			return res, fmt.Errorf("recovery status of %s: %w", n.addr, err)
		}
		before[n.addr] = map[uint64]bool{}
		for _, j := range jobs {
			before[n.addr][j.ID] = true
		}
	}

	load := b.startLoad(cn, base)
	defer load.stop()
	if !sleepCtx(ctx, b.Warmup) {
		return res, ctx.Err()
	}
	load.setPhase(phaseBaseline)
	if !sleepCtx(ctx, b.Baseline) {
		return res, ctx.Err()
	}
	joinAt := time.Now()
	load.join.Store(joinAt.UnixNano())
	load.setPhase(phaseMove)
	b.logf("baseline done; starting the third node")

	n3, err := b.startRecNode(ctx, filepath.Join(work, "node2"), nodes[0].addr)
	if err != nil {
		return res, fmt.Errorf("start the third node: %w", err)
	}
	nodes = append(nodes, n3)
	// The user ops count as "during the move" until the merge jobs are
	// seen over, not until the end of Settle, which would mix ops of the
	// quiet cluster in; a job that appears later switches back.
	mv, err := b.waitMerges(ctx, admin, addrsOf(nodes), before, addrsOf(nodes[:2]), func(busy bool) {
		if busy {
			load.setPhase(phaseMove)
		} else {
			load.setPhase(phaseAfter)
		}
	})
	if err == nil && !sleepCtx(ctx, b.After) {
		err = ctx.Err()
	}
	load.setPhase(phaseIdle)
	load.stop()
	res.Baseline = load.stats(phaseBaseline)
	res.Move = load.stats(phaseMove)
	res.After = load.stats(phaseAfter)
	if err != nil {
		return res, fmt.Errorf("the move: %w", err)
	}
	res.Jobs, res.Moved, res.Kept, res.MovedBytes, res.JobErrors, res.LastErrors = len(mv.jobs), mv.moved, mv.kept, mv.bytes, mv.errors, mv.lastErrors
	if !mv.first.IsZero() {
		res.MoveDuration = mv.last.Sub(mv.first)
		res.JoinToDone = mv.last.Sub(joinAt)
	}
	b.logf("move done: %d objects (%d bytes, %d kept, %d errors) in %v", res.Moved, res.MovedBytes, res.Kept, res.JobErrors, res.MoveDuration.Round(time.Millisecond))

	// The check: every object readable with its data, and where each
	// record lives.
	if err := waitBackends(ctx, cn, 3); err != nil {
		return res, fmt.Errorf("client route table: %w", err)
	}
	res.Unreadable, res.FirstUnreadable, err = b.verify(ctx, cn, base)
	if err != nil {
		return res, err
	}
	for i, n := range nodes {
		c, err := countRecords(ctx, admin, n.addr)
		if err != nil {
			return res, fmt.Errorf("count the records of %s: %w", n.addr, err)
		}
		res.NodeRecords[i] = c
	}
	return res, nil
}

func addrsOf(nodes []*recNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.addr
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// waitBackends waits (up to 15s) until the client's route table has n
// backends.
func waitBackends(ctx context.Context, cn *client.Node, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cn.WaitRoutes(ctx, func(t *route.Table) bool { return t.Len() == n }); err != nil {
		return fmt.Errorf("waiting for %d backends in the route table (have %d): %w", n, cn.Table().Len(), err)
	}
	return nil
}

// preload writes every object with bulk writes, a few batches at a time.
func (b *RecoveryBench) preload(ctx context.Context, cn *client.Node, base []byte) error {
	const batch, parallel = 4096, 4
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := atomic.Int64{}
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := client.NewSession(cn)
			s.SetGroups(1)
			s.SetTimeout(30 * time.Second)
			keys := make([]client.Key, 0, batch)
			datas := make([][]byte, 0, batch)
			for {
				from := int(next.Add(batch)) - batch
				if from >= b.Objects {
					return
				}
				to := min(from+batch, b.Objects)
				keys, datas = keys[:0], datas[:0]
				for i := from; i < to; i++ {
					keys = append(keys, recoveryKey(i))
					datas = append(datas, recoveryValue(base, i, nil))
				}
				bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				err := s.BulkWrite(bctx, keys, datas, nil)
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("preload objects %d-%d: %w", from, to-1, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// verify reads every object back and counts those missing or with other
// data.
func (b *RecoveryBench) verify(ctx context.Context, cn *client.Node, base []byte) (bad int, first error, err error) {
	s := client.NewSession(cn)
	s.SetGroups(1)
	s.SetTimeout(30 * time.Second)
	const batch = 4096
	keys := make([]client.Key, 0, batch)
	var want []byte
	for from := 0; from < b.Objects; from += batch {
		to := min(from+batch, b.Objects)
		keys = keys[:0]
		for i := from; i < to; i++ {
			keys = append(keys, recoveryKey(i))
		}
		bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		// The per-key errors are counted in the callback; BulkRead's own
		// error only summarizes them.
		_ = s.BulkRead(bctx, keys, func(i int, e client.Entry, rerr error) {
			want = recoveryValue(base, from+i, want)
			switch {
			case rerr != nil:
			case !bytes.Equal(e.Data, want):
				rerr = fmt.Errorf("object %d: %d bytes read, not the %d written", from+i, len(e.Data), len(want))
			default:
				return
			}
			if bad == 0 {
				first = fmt.Errorf("object %d: %w", from+i, rerr)
			}
			bad++
		})
		cerr := bctx.Err()
		cancel()
		if ctx.Err() != nil {
			return bad, first, ctx.Err()
		}
		if cerr != nil {
			return bad, first, fmt.Errorf("verify objects %d-%d: %w", from, to-1, cerr)
		}
	}
	return bad, first, nil
}

// countRecords counts the records of backend 0 of the node at addr.
func countRecords(ctx context.Context, s *client.Session, addr string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Group: 1, NoMeta: true})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for e := range it.Entries() {
		if e.Err == nil {
			n++
		}
	}
	return n, it.Err()
}

// moveStats sums the merge jobs of a move.
type moveStats struct {
	jobs                       map[string]bool // "addr/id"
	moved, kept, bytes, errors uint64
	first, last                time.Time
	lastErrors                 []string
	running                    int
	perNode                    map[string]int
	failed                     []string
}

// waitMerges waits until every merge job on addrs that is not in before
// (per node; nil: every job counts) has finished and no new one appeared
// for Settle, and until each node of needNew has at least one such job.
// It returns the jobs' totals.
func (b *RecoveryBench) waitMerges(ctx context.Context, s *client.Session, addrs []string,
	before map[string]map[uint64]bool, needNew []string, busy func(bool)) (moveStats, error) {
	ctx, cancel := context.WithTimeout(ctx, b.MoveTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastChange := time.Now()
	seen := map[string]bool{}
	lastProgress := time.Now()
	for {
		var st moveStats
		st.jobs = map[string]bool{}
		st.perNode = map[string]int{}
		for _, addr := range addrs {
			jobs, err := s.RecoveryStatus(ctx, addr)
			if err != nil {
				// A node that just started may not answer yet; the
				// timeout bounds how long that may last.
				if ctx.Err() != nil {
					return st, fmt.Errorf("recovery status of %s: %w", addr, err)
				}
				st.running++
				continue
			}
			for _, j := range jobs {
				if j.Spec.Kind != recovery.Merge || before != nil && before[addr][j.ID] {
					continue
				}
				key := fmt.Sprintf("%s/%d", addr, j.ID)
				st.jobs[key] = true
				st.perNode[addr]++
				st.moved += j.Moved
				st.kept += j.Kept
				st.bytes += j.Bytes
				st.errors += j.Errors
				if j.LastError != "" {
					st.lastErrors = append(st.lastErrors, addr+": "+j.LastError)
				}
				if j.State == recovery.Failed {
					st.failed = append(st.failed, fmt.Sprintf("%s job %d: %s", addr, j.ID, j.Err))
				}
				if !j.State.Finished() {
					st.running++
					continue
				}
				if st.first.IsZero() || j.Started.Before(st.first) {
					st.first = j.Started
				}
				if j.Finished.After(st.last) {
					st.last = j.Finished
				}
			}
		}
		if len(st.failed) > 0 {
			return st, fmt.Errorf("merge jobs failed: %s", strings.Join(st.failed, "; "))
		}
		for k := range st.jobs {
			if !seen[k] {
				seen[k] = true
				lastChange = time.Now()
			}
		}
		missing := 0
		for _, a := range needNew {
			if st.perNode[a] == 0 {
				missing++
			}
		}
		if st.running > 0 || missing > 0 {
			lastChange = time.Now()
		}
		if busy != nil {
			busy(st.running > 0 || missing > 0)
		}
		if time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			b.logf("move: %d merge jobs (%d running), %d objects moved", len(st.jobs), st.running, st.moved)
		}
		if time.Since(lastChange) >= b.Settle {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("merge jobs not over after %v: %d running, %d nodes without one: %w",
				b.MoveTimeout, st.running, missing, ctx.Err())
		case <-tick.C:
		}
	}
}

// Phases of the user load: ops are recorded in the histogram of the phase
// current when they started; idle ones are not recorded.
const (
	phaseIdle int32 = iota
	phaseBaseline
	phaseMove
	phaseAfter
	phases
)

// userLoad is the closed-loop user traffic: Clients goroutines reading
// and writing random preloaded objects.
type userLoad struct {
	phase   atomic.Int32
	join    atomic.Int64 // when the third node was started (Unix ns), for error times
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	workers []*loadWorker

	mu      sync.Mutex
	since   time.Time // when the current phase began
	elapsed [phases]time.Duration
}

type loadWorker struct {
	hist              [phases]Histogram
	errs              [phases]uint64
	firstErr, lastErr [phases]error
}

// setPhase switches the phase, adding the time spent in the current one
// to its total.
func (l *userLoad) setPhase(p int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	old := l.phase.Load()
	if old == p {
		return
	}
	if !l.since.IsZero() {
		l.elapsed[old] += now.Sub(l.since)
	}
	l.since = now
	l.phase.Store(p)
}

func (l *userLoad) stop() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
}

// stats merges the workers' figures of phase p; call it after stop.
func (l *userLoad) stats(p int32) PhaseStats {
	l.mu.Lock()
	st := PhaseStats{Elapsed: l.elapsed[p]}
	l.mu.Unlock()
	for _, w := range l.workers {
		st.Hist.Merge(&w.hist[p])
		st.Errors += w.errs[p]
		if st.FirstErr == nil {
			st.FirstErr, st.LastErr = w.firstErr[p], w.lastErr[p]
		}
	}
	return st
}

func (b *RecoveryBench) startLoad(cn *client.Node, base []byte) *userLoad {
	l := &userLoad{done: make(chan struct{})}
	for i := range b.Clients {
		w := &loadWorker{}
		l.workers = append(l.workers, w)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			s := client.NewSession(cn)
			s.SetGroups(1)
			s.SetTimeout(10 * time.Second)
			r := rand.New(rand.NewPCG(uint64(i), 7))
			var val []byte
			ctx := context.Background()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				p := l.phase.Load()
				k := r.IntN(b.Objects)
				val = recoveryValue(base, k, val)
				start := time.Now()
				var err error
				op := "write"
				if r.Float64() < b.ReadFraction {
					op = "read"
					var e client.Entry
					e, err = s.Read(ctx, recoveryKey(k), 0, 0)
					if err == nil && !bytes.Equal(e.Data, val) {
						err = fmt.Errorf("%d bytes, not the ones written", len(e.Data))
					}
				} else {
					_, err = s.Write(ctx, recoveryKey(k), val)
				}
				d := time.Since(start)
				if p == phaseIdle {
					continue
				}
				if err != nil {
					// When, relative to the start of the third node,
					// tells a race of the join from one of the move.
					at := "before the join"
					if j := l.join.Load(); j != 0 {
						at = fmt.Sprintf("%+.3fs after the third node started", start.Sub(time.Unix(0, j)).Seconds())
					}
					w.lastErr[p] = fmt.Errorf("%s of object %d (%s): %w", op, k, at, err)
					if w.errs[p] == 0 {
						w.firstErr[p] = w.lastErr[p]
					}
					w.errs[p]++
					continue
				}
				w.hist[p].Record(d)
			}
		}()
	}
	return l
}

// RecoveryTable formats results as a markdown table.
func RecoveryTable(rs []RecoveryResult) string {
	var sb strings.Builder
	sb.WriteString("| configuration | move s | moved + kept | records/s | user ops/s before / during / after | p50 µs before / during / after | p99 µs before / during / after | p999 µs before / during / after | p99 during / before, / after | failed ops | records old/old/new | load before → after |\n")
	sb.WriteString("|---|---:|---:|---:|---|---|---|---|---:|---:|---|---|\n")
	for i := range rs {
		r := &rs[i]
		ps := []*PhaseStats{&r.Baseline, &r.Move, &r.After}
		q := func(x float64) string {
			out := make([]string, len(ps))
			for i, p := range ps {
				out[i] = Micros(p.Hist.Quantile(x))
			}
			return strings.Join(out, " / ")
		}
		// During / after compares the move with the same three-node
		// cluster without it; during / before includes the cost of the
		// third node itself (three processes on the machine, more hops).
		ratio := func(p *PhaseStats) float64 {
			if d := p.Hist.Quantile(0.99); d > 0 {
				return float64(r.Move.Hist.Quantile(0.99)) / float64(d)
			}
			return 0
		}
		fmt.Fprintf(&sb, "| %s | %.1f | %d + %d | %.0f | %.0f / %.0f / %.0f | %s | %s | %s | %.2f, %.2f | %d/%d/%d | %d/%d/%d | %s → %s |\n",
			r.Limits.Name, r.MoveDuration.Seconds(), r.Moved, r.Kept, r.MoveRate(),
			r.Baseline.OpsPerSec(), r.Move.OpsPerSec(), r.After.OpsPerSec(), q(0.5), q(0.99), q(0.999), ratio(&r.Baseline), ratio(&r.After),
			r.Baseline.Errors, r.Move.Errors, r.After.Errors, r.NodeRecords[0], r.NodeRecords[1], r.NodeRecords[2],
			r.LoadBefore, r.LoadAfter)
	}
	return sb.String()
}
