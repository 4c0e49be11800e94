package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/config"
	"github.com/elliptics/elliptics/core/recovery"
)

// recoveryPollInterval is how often --wait and --follow ask for progress.
var recoveryPollInterval = time.Second

const recoveryAbout = `Starts, follows and controls the data moves of the cluster's nodes (the
original's dnet_recovery, built into every node). ACTION is one of:

  merge     move the records each backend holds but no longer owns to their owners
            in its group (nodes also do this by themselves after a route change)
  dc        fill each backend's ranges from the other groups: copy what it lacks
            or holds an older version of (a wiped node does this by itself)
  status    list the jobs of every node: state, progress, rate, ETA, errors;
            --follow refreshes until every job has finished
  pause, resume, stop ADDR JOB
            act on job JOB of the node at ADDR

merge and dc run on every node of the cluster (or on --address), on the backends
of --group and --backend (default: all), limited by --rate and --objects-rate on
top of the node's own limits. --dry-run moves nothing and prints the plan: how
many objects and bytes would go from where to where. --wait follows the jobs
started. Examples:

  elliptics --remote 10.0.0.1:1025 recovery merge --wait
  elliptics recovery dc --group 2 --dry-run
  elliptics recovery status --follow
  elliptics recovery pause 10.0.0.1:1025 1764083623001`

func recoveryCommand(fs *flag.FlagSet) action {
	var address addrList
	fs.Var(&address, "address", "node `ADDR` (host:port) to act on instead of every node of the cluster")
	var group optGroup
	fs.Var(&group, "group", "merge, dc: only the backends of group `G`")
	var backendID optInt32
	fs.Var(&backendID, "backend", "merge, dc: only backend `ID` of each node")
	dry := fs.Bool("dry-run", false, "merge, dc: move nothing, print the plan")
	verify := fs.Bool("verify", false, "dc: first check every local record against its checksum and replace corrupt ones from other groups")
	rate := fs.String("rate", "", "merge, dc: at most `BYTES` per second per job (e.g. 20MiB)")
	objects := fs.Int64("objects-rate", 0, "merge, dc: at most `N` objects per second per job")
	wait := fs.Bool("wait", false, "merge, dc: follow the jobs until they finish")
	follow := fs.Bool("follow", false, "status: refresh every second until every job has finished")
	return func(ctx context.Context, c *cli, args []string) error {
		act, more := args[0], args[1:]
		switch act {
		case "merge", "dc", "status":
			if len(more) > 0 {
				return usageErrorf("recovery %s: unexpected argument %q", act, more[0])
			}
		case "pause", "resume", "stop":
			if len(more) != 2 {
				return usageErrorf("recovery %s: want ADDR JOB", act)
			}
			job, err := strconv.ParseUint(more[1], 10, 64)
			if err != nil || job == 0 {
				return usageErrorf("recovery %s: bad JOB %q (a job id as status prints it)", act, more[1])
			}
			st, err := c.adminSession().ControlRecovery(ctx, more[0], job, recovery.Action(act))
			if err != nil {
				return adminError("recovery "+act, more[0], err)
			}
			return c.printJobs([]nodeJobs{{addr: more[0], jobs: []recovery.Status{st}}})
		default:
			return usageErrorf("recovery: unknown ACTION %q (want merge, dc, status, pause, resume or stop)", act)
		}
		addrs := []string(address)
		if len(addrs) == 0 {
			ms, err := c.members(ctx)
			if err != nil {
				return err
			}
			for a := range ms {
				addrs = append(addrs, a)
			}
			slices.Sort(addrs)
		}
		s := c.adminSession()
		if act == "status" {
			return c.followJobs(ctx, s, addrs, nil, *follow)
		}
		o := client.RecoveryOptions{Backend: -1, DryRun: *dry, Verify: *verify, Limits: recovery.Limits{ObjectsPerSec: *objects}}
		if group.set {
			o.Group = group.g
		}
		if backendID.set {
			o.Backend = backendID.v
		}
		if *rate != "" {
			sz, err := config.ParseSize(*rate)
			if err != nil || sz == 0 {
				return usageErrorf("recovery %s: bad --rate %q (bytes per second, e.g. 20MiB)", act, *rate)
			}
			o.Limits.BytesPerSec = int64(sz)
		}
		if *objects < 0 {
			return usageErrorf("recovery %s: --objects-rate must not be negative", act)
		}
		started := map[string][]uint64{}
		var failed []string
		for _, a := range addrs {
			jobs, err := s.StartRecovery(ctx, a, recovery.Kind(act), o)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s: %s", a, oneLine(err.Error())))
				continue
			}
			for _, j := range jobs {
				started[a] = append(started[a], j.ID)
				if !c.g.json {
					fmt.Fprintf(c.stdout, "%s: started %s job %d on backend %d (group %d)\n", a, j.Spec.Kind, j.ID, j.Spec.Backend, j.Group)
				}
			}
		}
		for _, f := range failed {
			fmt.Fprintf(c.stderr, "recovery %s: %s\n", act, f)
		}
		if len(started) == 0 {
			return &opError{msg: fmt.Sprintf("recovery %s: no job started", act)}
		}
		if *wait || *dry {
			if err := c.followJobs(ctx, s, addrs, started, true); err != nil {
				return err
			}
		}
		if len(failed) > 0 {
			return &opError{msg: fmt.Sprintf("recovery %s: %d of %d nodes did not start a job", act, len(failed), len(addrs))}
		}
		return nil
	}
}

type nodeJobs struct {
	addr string
	jobs []recovery.Status
	err  error
}

// followJobs prints the jobs of the nodes (only those in only, when set),
// again every recoveryPollInterval while follow is set and some job has
// not finished. It fails if a job failed.
func (c *cli) followJobs(ctx context.Context, s *client.Session, addrs []string, only map[string][]uint64, follow bool) error {
	for {
		var all []nodeJobs
		running := false
		for _, a := range addrs {
			jobs, err := s.RecoveryStatus(ctx, a)
			if only != nil {
				jobs = slices.DeleteFunc(jobs, func(j recovery.Status) bool { return !slices.Contains(only[a], j.ID) })
			}
			for _, j := range jobs {
				running = running || !j.State.Finished()
			}
			all = append(all, nodeJobs{addr: a, jobs: jobs, err: err})
		}
		if !follow || !running {
			if err := c.printJobs(all); err != nil {
				return err
			}
			for _, n := range all {
				for _, j := range n.jobs {
					if j.State == recovery.Failed {
						return &opError{msg: fmt.Sprintf("recovery job %d on %s failed: %s", j.ID, n.addr, j.Err)}
					}
				}
			}
			return nil
		}
		if !c.g.json {
			if err := c.printJobs(all); err != nil {
				return err
			}
			fmt.Fprintln(c.stdout)
		}
		select {
		case <-ctx.Done():
			return &cliError{code: exitFailed, msg: "interrupted"}
		case <-time.After(recoveryPollInterval):
		}
	}
}

// printJobs prints a table of jobs (or JSON with --json), and for dry
// runs their plans.
func (c *cli) printJobs(all []nodeJobs) error {
	if c.g.json {
		type out struct {
			Address string            `json:"address"`
			Jobs    []recovery.Status `json:"jobs"`
			Error   string            `json:"error,omitempty"`
		}
		var list []out
		for _, n := range all {
			o := out{Address: n.addr, Jobs: n.jobs}
			if n.err != nil {
				o.Error = n.err.Error()
			}
			list = append(list, o)
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tJOB\tKIND\tBACKEND\tSTATE\tPROGRESS\tMOVED\tBYTES\tRATE\tETA\tERRORS\tCORRUPT")
	var plans []string
	for _, n := range all {
		if n.err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\tunreachable\t%s\t\t\t\t\t\t\n", n.addr, oneLine(n.err.Error()))
			continue
		}
		for _, j := range n.jobs {
			kind := string(j.Spec.Kind)
			if j.Spec.DryRun {
				kind += " (dry run)"
			} else if j.Spec.Auto {
				kind += " (auto)"
			}
			if j.Spec.Verify {
				kind += " +verify"
			}
			eta := "-"
			if j.ETA > 0 {
				eta = (time.Duration(j.ETA) * time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\t%.0f/s\t%s\t%d\t%d\n", n.addr, j.ID, kind, j.Spec.Backend, j.State,
				progressBar(j.Scanned, j.Total), j.Moved, humanBytes(j.Bytes), j.Rate, eta, j.Errors, j.Corrupt)
			if j.LastError != "" || j.Err != "" {
				plans = append(plans, fmt.Sprintf("job %d on %s: %s", j.ID, n.addr, oneLine(j.Err+" "+j.LastError)))
			}
			for _, mv := range j.Plan {
				plans = append(plans, fmt.Sprintf("plan of job %d: %s -> %s: %d objects, %s", j.ID, mv.From, mv.To, mv.Objects, humanBytes(mv.Bytes)))
			}
		}
	}
	tw.Flush()
	for _, p := range plans {
		fmt.Fprintln(c.stdout, p)
	}
	return nil
}

// progressBar draws done of total as "[#####-----] 50% 5/10", or the count
// alone when the total is unknown.
func progressBar(done, total uint64) string {
	if total == 0 {
		return strconv.FormatUint(done, 10)
	}
	const width = 20
	f := min(float64(done)/float64(total), 1)
	n := int(f * width)
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d", strings.Repeat("#", n), strings.Repeat("-", width-n), 100*f, done, total)
}

func humanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

const nodeAbout = `Acts on a node of the cluster as a whole. ACTION is:

  remove ADDR   declare the node at ADDR gone for good: every node that took over
                part of its ranges fills them from the other groups now, instead of
                after its recovery.leave_after. The node must be stopped first (a
                node still in a route table is refused). Follow the fill with
                'elliptics recovery status --follow'.`

func nodeCommand(fs *flag.FlagSet) action {
	return func(ctx context.Context, c *cli, args []string) error {
		if args[0] != "remove" {
			return usageErrorf("node: unknown ACTION %q (want remove)", args[0])
		}
		gone := args[1]
		ms, err := c.members(ctx)
		if err != nil {
			return err
		}
		s := c.adminSession()
		var failed []string
		told := 0
		for addr := range ms {
			if addr == gone {
				continue
			}
			if err := s.ForgetNode(ctx, addr, gone); err != nil {
				failed = append(failed, fmt.Sprintf("%s: %s", addr, oneLine(err.Error())))
				continue
			}
			told++
		}
		slices.Sort(failed)
		for _, f := range failed {
			fmt.Fprintf(c.stderr, "node remove %s: %s\n", gone, f)
		}
		if len(failed) > 0 {
			return &opError{msg: fmt.Sprintf("node remove %s: %d of %d nodes refused", gone, len(failed), len(failed)+told)}
		}
		fmt.Fprintf(c.stdout, "%s declared gone on %d nodes; they fill its ranges from the other groups\n", gone, told)
		return nil
	}
}
