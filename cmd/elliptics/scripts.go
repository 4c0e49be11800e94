package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
)

const scriptAbout = `Manages the Starlark scripts stored in the cluster (docs/scripting.md):
  put NAME FILE|-     store FILE as the next version of NAME (checked first: a syntax
                      error is refused); every node drops its cached copy
  list                every script: name, version, size, last update
  show NAME [VERSION] print the source of NAME (its latest version, or VERSION)
  remove NAME         remove NAME and every version of it
Scripts are stored in every group of the cluster, so every node finds them.`

const execAbout = `Runs the function of a stored script ("script@function") next to the data: with KEY on
the node that owns KEY (trying the session's groups in order when a node cannot be
reached), else once on every node of the cluster (a fan-out), and prints each result:
one line per node with address, group, run time and the result (-o FILE writes a
single result's raw bytes). --data or --data-file give the function its input. The
--max-steps, --max-time, --max-read, --max-write, --max-result and --max-memory limits
only lower the node's configured ones (the global --timeout bounds the whole call). Exits 1 if a run failed.`

const jobsAbout = `Submits jobs: 'jobs submit EVENT --keys FILE' runs EVENT ("script@function") on the
owner of every key listed in FILE (one per line; - for standard input), --concurrency at
a time, so the work spreads over the cluster as the keys do; a job whose node cannot be
reached runs on another group's replica. Prints one line per job (key, status, group,
address, result) and a summary; a progress bar on a terminal. Exits 1 if a job failed.`

func scriptCommand(*flag.FlagSet) action {
	return func(ctx context.Context, c *cli, args []string) error {
		act, rest := args[0], args[1:]
		want := map[string][2]int{"put": {2, 2}, "list": {0, 0}, "show": {1, 2}, "remove": {1, 1}}
		n, ok := want[act]
		if !ok {
			return usageErrorf("script: unknown action %q (put, list, show, remove)", act)
		}
		if len(rest) < n[0] || len(rest) > n[1] {
			return usageErrorf("script %s: wrong number of arguments (see elliptics script -h)", act)
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		switch act {
		case "put":
			src, err := c.readInput(rest[1])
			if err != nil {
				return err
			}
			in, err := s.PutScript(ctx, rest[0], src)
			if err != nil {
				return &opError{msg: "script put " + rest[0] + ": " + err.Error(), err: err}
			}
			if c.g.json {
				return c.encodeJSON(in)
			}
			fmt.Fprintf(c.stdout, "%s version %d (%d bytes, sha256 %s)\n", in.Name, in.Version, in.Size, in.Checksum[:16])
		case "list":
			list, err := s.ListScripts(ctx)
			if err != nil {
				return &opError{msg: "script list: " + err.Error(), err: err}
			}
			if c.g.json {
				return c.encodeJSON(list)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tSIZE\tUPDATED")
			for _, in := range list {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", in.Name, in.Version, in.Size, formatTime(in.Updated))
			}
			return tw.Flush()
		case "show":
			var v uint64
			if len(rest) == 2 {
				if v, err = strconv.ParseUint(rest[1], 10, 64); err != nil || v == 0 {
					return usageErrorf("script show: VERSION must be a number >= 1, got %q", rest[1])
				}
			}
			rec, err := s.Script(ctx, rest[0], v)
			if err != nil {
				return &opError{msg: "script show " + rest[0] + ": " + err.Error(), err: err}
			}
			if c.g.json {
				return c.encodeJSON(rec)
			}
			fmt.Fprint(c.stdout, rec.Source)
		case "remove":
			if err := s.RemoveScript(ctx, rest[0]); err != nil {
				return &opError{msg: "script remove " + rest[0] + ": " + err.Error(), err: err}
			}
		}
		return nil
	}
}

// execLimitFlags registers the flags that lower a call's limits.
func execLimitFlags(fs *flag.FlagSet) func() client.ExecOptions {
	steps := fs.Uint64("max-steps", 0, "lower the step budget to `N` Starlark steps")
	timeout := fs.Duration("max-time", 0, "lower the run time limit to `DURATION`")
	readB, writeB, resB, mem := &sizeFlag{}, &sizeFlag{}, &sizeFlag{}, &sizeFlag{}
	fs.Var(readB, "max-read", "lower the bytes the script may read to `SIZE`")
	fs.Var(writeB, "max-write", "lower the bytes the script may write to `SIZE`")
	fs.Var(resB, "max-result", "lower the size of the result to `SIZE`")
	fs.Var(mem, "max-memory", "lower the memory the script may take to `SIZE`")
	return func() client.ExecOptions {
		return client.ExecOptions{Limits: proto.ExecLimits{Steps: *steps, Timeout: *timeout, ReadBytes: readB.n,
			WriteBytes: writeB.n, ResultBytes: resB.n, Memory: mem.n}}
	}
}

// execInput returns the input given by --data or --data-file.
func (c *cli) execInput(data, file string) ([]byte, error) {
	if data != "" && file != "" {
		return nil, usageErrorf("--data and --data-file exclude each other")
	}
	if file != "" {
		return c.readInput(file)
	}
	return []byte(data), nil
}

func execCommand(fs *flag.FlagSet) action {
	data := fs.String("data", "", "the function's input `TEXT`")
	dataFile := fs.String("data-file", "", "read the function's input from `FILE` (- for standard input)")
	out := fs.String("o", "", "write the result's raw bytes to `FILE` (with KEY only)")
	limits := execLimitFlags(fs)
	return func(ctx context.Context, c *cli, args []string) error {
		if _, _, err := proto.ParseEvent(args[0]); err != nil {
			return usageErrorf("exec: %v", err)
		}
		in, err := c.execInput(*data, *dataFile)
		if err != nil {
			return err
		}
		if *out != "" && len(args) < 2 {
			return usageErrorf("exec: -o needs a KEY (a fan-out has one result per node)")
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		if len(args) == 2 {
			key, err := c.key(args[1])
			if err != nil {
				return err
			}
			r, err := s.Exec(ctx, key, args[0], in, limits())
			if err != nil {
				r.Err = err
			}
			if *out != "" && err == nil {
				if err := os.WriteFile(*out, r.Data, 0o644); err != nil {
					return &cliError{code: exitFailed, msg: fmt.Sprintf("exec: %v", err)}
				}
				return nil
			}
			if perr := c.printExec(r); perr != nil {
				return perr
			}
			if err != nil {
				return &opError{msg: "exec " + args[0] + " on " + args[1] + ": " + err.Error(), err: err}
			}
			return nil
		}
		failed := 0
		err = s.ExecEach(ctx, args[0], in, limits(), func(r client.ExecResult) {
			if r.Err != nil {
				failed++
			}
			_ = c.printExec(r)
		})
		if err != nil {
			return &opError{msg: "exec " + args[0] + ": " + err.Error(), err: err}
		}
		if failed > 0 {
			return &cliError{code: exitFailed, msg: fmt.Sprintf("exec %s: %d node(s) failed", args[0], failed)}
		}
		return nil
	}
}

// jsonExec is the --json line of an exec or job result.
type jsonExec struct {
	Key      string  `json:"key,omitempty"`
	Address  string  `json:"address"`
	Group    uint32  `json:"group"`
	Seconds  float64 `json:"seconds"`
	Status   int32   `json:"status"`
	Result   string  `json:"result"`
	Error    string  `json:"error,omitempty"`
	Event    string  `json:"event"`
	ID       string  `json:"id,omitempty"`
	Encoding string  `json:"encoding,omitempty"` // "base64" when the result is not UTF-8 text
}

func (c *cli) printExec(r client.ExecResult) error {
	if c.g.json {
		je := jsonExec{Key: r.Key, Address: r.Address, Group: r.Group, Seconds: r.Duration.Seconds(),
			Status: int32(r.Status), Event: r.Event}
		je.Result, je.Encoding = textOrBase64(r.Data)
		if !r.ID.IsZero() {
			je.ID = r.ID.String()
		}
		if r.Err != nil {
			je.Error = oneLine(r.Err.Error())
		}
		return c.encodeJSON(je)
	}
	line := ""
	if r.Key != "" {
		line = r.Key + " "
	}
	if r.Err != nil {
		line += fmt.Sprintf("failed group %d %s: %s", r.Group, orDash(r.Address), oneLine(r.Err.Error()))
	} else {
		line += fmt.Sprintf("ok group %d %s %s %s", r.Group, r.Address, r.Duration.Round(time.Microsecond), oneLine(string(r.Data)))
	}
	if _, err := fmt.Fprintln(c.stdout, strings.TrimRight(line, " ")); err != nil {
		return &cliError{code: exitFailed, msg: fmt.Sprintf("write output: %v", err)}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func jobsCommand(fs *flag.FlagSet) action {
	keysFile := fs.String("keys", "", "read the keys from `FILE`, one per line (- for standard input)")
	data := fs.String("data", "", "every job's input `TEXT`")
	dataFile := fs.String("data-file", "", "read every job's input from `FILE`")
	concurrency := fs.Int("concurrency", client.DefaultJobConcurrency, "run `N` jobs at once")
	quiet := fs.Bool("quiet", false, "draw no progress bar")
	limits := execLimitFlags(fs)
	return func(ctx context.Context, c *cli, args []string) error {
		if args[0] != "submit" {
			return usageErrorf("jobs: unknown action %q (submit)", args[0])
		}
		if _, _, err := proto.ParseEvent(args[1]); err != nil {
			return usageErrorf("jobs: %v", err)
		}
		if *keysFile == "" {
			return usageErrorf("jobs submit: --keys FILE is required")
		}
		if *concurrency < 1 {
			return usageErrorf("jobs submit: --concurrency must be >= 1, got %d", *concurrency)
		}
		raw, err := c.readInput(*keysFile)
		if err != nil {
			return err
		}
		var keys []string
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if k := strings.TrimSpace(sc.Text()); k != "" {
				keys = append(keys, k)
			}
		}
		if err := sc.Err(); err != nil {
			return usageErrorf("jobs submit: --keys: %v", err)
		}
		in, err := c.execInput(*data, *dataFile)
		if err != nil {
			return err
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		bar := c.progressOf(*quiet, "jobs "+args[1], int64(len(keys)), false)
		o := client.JobOptions{Concurrency: *concurrency, Exec: limits()}
		if bar != nil {
			o.Progress = func(done, _ int) { _ = bar.Set(done) }
		}
		sum, err := s.RunJobs(ctx, args[1], keys, in, o, func(r client.ExecResult) { _ = c.printExec(r) })
		if bar != nil {
			_ = bar.Finish()
		}
		if err != nil {
			return &opError{msg: err.Error(), err: err}
		}
		if !c.g.json {
			fmt.Fprintf(c.stderr, "jobs %s: %d done, %d failed of %d\n", args[1], sum.Succeeded, sum.Failed, sum.Total)
		}
		if sum.Failed > 0 {
			return &cliError{code: exitFailed, msg: fmt.Sprintf("jobs %s: %d of %d failed", args[1], sum.Failed, sum.Total)}
		}
		return nil
	}
}

// textOrBase64 returns b as text when it is UTF-8, else base64-encoded
// and "base64".
func textOrBase64(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}
