package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/stats"
)

const statsAbout = `Shows the statistics of every node of the cluster (or of --address), gathered
in one round (MONITOR_STAT, docs/monitoring.md): one line per node with the
requests per second, their median and 99th percentile latency, the errors, the
objects and bytes stored, the load average, the node's memory and the free
space of its fullest disk.

Requests per second and latencies are since the node started, or, with
--watch, over the last --interval. --watch refreshes the table in place until
interrupted. --json prints the nodes' statistics as they sent them (a JSON
list of {address, stats, error}; with --watch one list per refresh), of
--categories (a comma-separated list of cache, io, commands, backend, stats,
procfs, top, recovery, scripts, or all; the table needs commands, backend, stats and
procfs). Examples:

  elliptics stats
  elliptics stats --watch --interval 5s
  elliptics stats --top 10                # and the 10 most requested keys (IDs)
  elliptics stats --commands              # and every command, since the nodes started
  elliptics --json stats --address 10.0.0.1:1025 --categories commands,top`

// tableCategories are what the table shows.
const tableCategories = stats.CategoryCommands | stats.CategoryBackend | stats.CategoryStats | stats.CategoryProcfs

func statsCommand(fs *flag.FlagSet) action {
	var address addrList
	fs.Var(&address, "address", "node `ADDR` (host:port) to ask instead of every node of the cluster (repeatable)")
	cats := fs.String("categories", "", "with --json: categories `LIST` to ask for (default all)")
	watch := fs.Bool("watch", false, "refresh every --interval until interrupted")
	interval := fs.Duration("interval", 2*time.Second, "refresh period `DURATION` of --watch")
	top := fs.Int("top", 0, "also list the `N` most requested keys of the cluster (by requests, then by bytes)")
	perCmd := fs.Bool("commands", false, "also list every command, summed over the nodes: requests, errors, bytes, latency")
	return func(ctx context.Context, c *cli, _ []string) error {
		mask := tableCategories
		if *top > 0 {
			mask |= stats.CategoryTop
		}
		if c.g.json {
			mask = stats.CategoryAll
		}
		if *cats != "" {
			m, ok := stats.ParseCategories(*cats)
			if !ok {
				return usageErrorf("stats: bad --categories %q (want all or a list of %s)", *cats, strings.Join(stats.CategoryNames(), ", "))
			}
			mask = m
		}
		if *interval <= 0 {
			return usageErrorf("stats: --interval must be > 0")
		}
		if *top < 0 {
			return usageErrorf("stats: --top must not be negative")
		}
		// The nodes are asked through the client's connections, so that
		// with --proxy the --remote nodes relay the requests for the others.
		addrs := []string(address)
		switch {
		case len(addrs) == 0:
			ms, err := c.members(ctx)
			if err != nil {
				return err
			}
			for a := range ms {
				addrs = append(addrs, a)
			}
		case c.g.proxy:
			if _, err := c.connect(ctx); err != nil {
				return err
			}
		default:
			c.newNode() // --address nodes are dialed
		}
		s := client.NewSession(c.node)
		s.SetTimeout(c.g.timeout)
		var prev map[string]nodeLine
		inPlace := c.isTerminal()
		for {
			rs, err := s.MonitorStatOf(ctx, addrs, mask)
			if len(rs) == 0 {
				return &opError{msg: "stats: " + oneLine(err.Error()), err: err}
			}
			if c.g.json {
				if err := c.printStatsJSON(rs); err != nil {
					return err
				}
			} else {
				if inPlace {
					fmt.Fprint(c.stdout, "\033[H\033[2J") // home and clear: refresh in place
				}
				prev = c.printStatsTable(rs, prev)
				if *perCmd {
					c.printCommands(rs)
				}
				if *top > 0 {
					c.printTopKeys(rs, *top)
				}
			}
			if !*watch {
				if err != nil {
					return &opError{msg: "stats: " + oneLine(err.Error()), err: err}
				}
				return nil
			}
			if !inPlace && !c.g.json {
				fmt.Fprintln(c.stdout)
			}
			select {
			case <-ctx.Done():
				return nil // interrupted: the normal end of --watch
			case <-time.After(*interval):
			}
		}
	}
}

func (c *cli) isTerminal() bool {
	f, ok := c.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printStatsJSON prints one JSON document: the nodes' replies by address,
// an error string for the nodes that failed.
func (c *cli) printStatsJSON(rs []client.MonitorStatResult) error {
	type out struct {
		Address string          `json:"address"`
		Stats   json.RawMessage `json:"stats,omitempty"`
		Error   string          `json:"error,omitempty"`
	}
	list := make([]out, 0, len(rs))
	for _, r := range rs {
		o := out{Address: r.Address, Stats: r.Raw}
		if r.Err != nil {
			o.Error = r.Err.Error()
		}
		list = append(list, o)
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

// nodeLine is what a table line sums up of one node's commands, kept to
// compute rates over the next --watch period.
type nodeLine struct {
	at      time.Time
	uptime  float64
	count   uint64
	errors  uint64
	buckets [stats.NumBuckets]uint64
}

// sumCommands adds up every command, storage and proxy.
func sumCommands(s *stats.Snapshot) nodeLine {
	l := nodeLine{at: s.Timestamp.Time()}
	if s.Stats != nil {
		l.uptime = s.Stats.UptimeS
	}
	for _, cs := range s.Commands {
		for _, f := range []*stats.CommandFigures{cs.Storage, cs.Proxy} {
			if f == nil {
				continue
			}
			l.count += f.Count
			l.errors += f.Errors
			for i, n := range f.Buckets {
				l.buckets[i] += n
			}
		}
	}
	return l
}

// since returns the figures of l minus those of an earlier line p.
func (l nodeLine) since(p nodeLine) (nodeLine, float64) {
	d := l
	d.count -= min(p.count, l.count)
	d.errors -= min(p.errors, l.errors)
	for i := range d.buckets {
		d.buckets[i] -= min(p.buckets[i], l.buckets[i])
	}
	return d, l.at.Sub(p.at).Seconds()
}

// printStatsTable prints a line per node and returns the lines' figures
// for the next refresh.
func (c *cli) printStatsTable(rs []client.MonitorStatResult, prev map[string]nodeLine) map[string]nodeLine {
	next := map[string]nodeLine{}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREQ/S\tP50\tP99\tERRORS\tOBJECTS\tBYTES\tLOAD\tRSS\tDISK FREE")
	for _, r := range rs {
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\tunreachable: %s\t\t\t\t\t\t\t\t\n", r.Address, oneLine(r.Err.Error()))
			continue
		}
		s := r.Stats
		l := sumCommands(s)
		next[r.Address] = l
		window, secs := l, l.uptime
		if p, ok := prev[r.Address]; ok {
			window, secs = l.since(p)
		}
		rate := "-"
		if secs > 0 {
			rate = fmt.Sprintf("%.1f", float64(window.count)/secs)
		}
		f := stats.CommandFigures{Buckets: window.buckets}
		var objects, bytes uint64
		free := "-"
		var minFree float64 = 2
		for _, b := range s.Backends {
			objects += b.Objects
			bytes += b.Bytes
			if d := b.Disk; d != nil && d.TotalBytes > 0 {
				if pct := float64(d.FreeBytes) / float64(d.TotalBytes); pct < minFree {
					minFree = pct
					free = fmt.Sprintf("%s (%.0f%%)", humanBytes(d.FreeBytes), 100*pct)
				}
			}
		}
		load, rss := "-", "-"
		if p := s.Procfs; p != nil {
			if len(p.LoadAvg) > 0 {
				load = fmt.Sprintf("%.2f", p.LoadAvg[0])
			}
			if p.RSSBytes != nil {
				rss = humanBytes(*p.RSSBytes)
			} else {
				rss = humanBytes(p.SysBytes)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", r.Address, rate, latency(f.Quantile(0.5), window.count),
			latency(f.Quantile(0.99), window.count), window.errors, objects, humanBytes(bytes), load, rss, free)
	}
	tw.Flush()
	return next
}

func latency(d time.Duration, n uint64) string {
	if n == 0 {
		return "-"
	}
	return "<" + d.String()
}

// printTopKeys lists the n keys requested most over the nodes' top-keys
// windows, summed over the nodes (a key's replicas live on several).
func (c *cli) printTopKeys(rs []client.MonitorStatResult, n int) {
	type keyLine struct {
		key             string
		requests, bytes uint64
		nodes           int
	}
	var byKey = map[string]*keyLine{}
	for _, r := range rs {
		if r.Err != nil || r.Stats.Top == nil {
			continue
		}
		seen := map[string]bool{}
		for _, list := range [][]stats.TopKey{r.Stats.Top.Requests, r.Stats.Top.Bytes} {
			for _, k := range list {
				if seen[k.Key] {
					continue
				}
				seen[k.Key] = true
				l := byKey[k.Key]
				if l == nil {
					l = &keyLine{key: k.Key}
					byKey[k.Key] = l
				}
				l.requests += k.Requests
				l.bytes += k.Bytes
				l.nodes++
			}
		}
	}
	lines := make([]*keyLine, 0, len(byKey))
	for _, l := range byKey {
		lines = append(lines, l)
	}
	slices.SortFunc(lines, func(a, b *keyLine) int {
		if a.requests != b.requests {
			return cmp.Compare(b.requests, a.requests)
		}
		if a.bytes != b.bytes {
			return cmp.Compare(b.bytes, a.bytes)
		}
		return strings.Compare(a.key, b.key)
	})
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tREQUESTS\tBYTES\tNODES")
	for _, l := range lines[:min(n, len(lines))] {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", l.key, l.requests, humanBytes(l.bytes), l.nodes)
	}
	tw.Flush()
}

// printCommands lists every command and source, summed over the nodes,
// since the nodes started.
func (c *cli) printCommands(rs []client.MonitorStatResult) {
	type key struct {
		cmd string
		src stats.Source
	}
	sum := map[key]*stats.CommandFigures{}
	for _, r := range rs {
		if r.Err != nil {
			continue
		}
		for name, cs := range r.Stats.Commands {
			for _, src := range []stats.Source{stats.Storage, stats.Proxy} {
				f := cs.Figures(src)
				if f == nil {
					continue
				}
				k := key{name, src}
				acc := sum[k]
				if acc == nil {
					acc = &stats.CommandFigures{}
					sum[k] = acc
				}
				acc.Count += f.Count
				acc.Errors += f.Errors
				acc.Bytes += f.Bytes
				for i, n := range f.Buckets {
					acc.Buckets[i] += n
				}
			}
		}
	}
	keys := make([]key, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.cmd, b.cmd); c != 0 {
			return c
		}
		return cmp.Compare(a.src, b.src)
	})
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tSOURCE\tREQUESTS\tERRORS\tBYTES\tP50\tP99")
	for _, k := range keys {
		f := sum[k]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", k.cmd, k.src, f.Count, f.Errors, humanBytes(f.Bytes),
			latency(f.Quantile(0.5), f.Count), latency(f.Quantile(0.99), f.Count))
	}
	tw.Flush()
}
