package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// defragPollInterval is how often 'backend defrag --wait' asks for progress.
var defragPollInterval = 200 * time.Millisecond

// backendActions are the ACTIONs of 'elliptics backend', in help order.
var backendActions = []struct {
	name, alias string
	cmd         proto.ControlCommand
	list        bool
	done        string // printed after "backend N (group G) on ADDR: "
	summary     string
}{
	{name: "list", alias: "status", list: true,
		summary: "show the backends of each --remote (or --address) node: state, ro, size, defrag, error"},
	{name: "enable", cmd: proto.ControlEnable, done: "enabled", summary: "open the backend and serve it"},
	{name: "disable", cmd: proto.ControlDisable, done: "disabled",
		summary: "stop serving the backend: the node waits for its requests in flight, then closes it"},
	{name: "ro", cmd: proto.ControlReadOnly, done: "read-only", summary: "refuse writes and removes on the backend"},
	{name: "rw", cmd: proto.ControlWritable, done: "writable", summary: "accept writes on the backend again"},
	{name: "defrag", cmd: proto.ControlStartDefrag, done: "defragmentation started",
		summary: "start defragmenting the backend; --wait follows it to the end"},
	{name: "stop-defrag", cmd: proto.ControlStopDefrag, done: "defragmentation stop requested",
		summary: "ask a running defragmentation to stop"},
	{name: "delay", cmd: proto.ControlDelay, done: "delay set",
		summary: "wait DURATION before each data command: delay ADDR BACKEND DURATION (0 removes it)"},
}

func backendAbout() string {
	var b strings.Builder
	b.WriteString("Shows and changes the backends of a node at run time. ACTION is one of:\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	for _, a := range backendActions {
		name := a.name
		if a.alias != "" {
			name += " (" + a.alias + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, a.summary)
	}
	tw.Flush()
	b.WriteString("\ndelay also takes its node, backend and DURATION as arguments (delay ADDR BACKEND DURATION,\n" +
		"or --backend N DURATION); the node waits DURATION (whole milliseconds; 0 removes it; never\n" +
		"past its request timeout) before serving each read, write, lookup or remove of the backend.\n")
	b.WriteString("\nEvery ACTION but list needs --backend N and acts on the node of --address, or else on the\n" +
		"first --remote. Asking for the state already in effect (enabling an enabled backend, ...)\n" +
		"fails with exit code 1, e.g. \"backend 0 is already enabled\". Examples:\n\n" +
		"  elliptics --remote 10.0.0.1:1025 backend list\n" +
		"  elliptics --remote 10.0.0.1:1025 backend disable --backend 2\n" +
		"  elliptics backend defrag --address 10.0.0.1:1025 --backend 2 --wait\n" +
		"  elliptics backend delay 10.0.0.1:1025 2 50ms")
	return b.String()
}

// optInt32 is a flag that remembers whether it was set.
type optInt32 struct {
	set bool
	v   int32
}

func (o *optInt32) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(int(o.v))
}

func (o *optInt32) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < 0 {
		return fmt.Errorf("want a backend id from 0 to %d", int32(1<<31-1))
	}
	o.set, o.v = true, int32(v)
	return nil
}

func backendCommand(fs *flag.FlagSet) action {
	var id optInt32
	fs.Var(&id, "backend", "backend `ID` on the node (required by every ACTION but list, which it filters)")
	var address addrList
	fs.Var(&address, "address", "node `ADDR` (host:port) to act on instead of the first --remote")
	wait := fs.Bool("wait", false, "defrag: follow the progress (every 200ms) until the defragmentation ends")
	return func(ctx context.Context, c *cli, args []string) error {
		name := args[0]
		i := -1
		for j, a := range backendActions {
			if a.name == name || (a.alias != "" && a.alias == name) {
				i = j
			}
		}
		if i < 0 {
			names := make([]string, len(backendActions))
			for j, a := range backendActions {
				names[j] = a.name
			}
			return usageErrorf("backend: unknown ACTION %q (want %s)", name, strings.Join(names, ", "))
		}
		act := backendActions[i]
		more := args[1:]
		if len(address) > 1 {
			return usageErrorf("backend %s: give --address once", act.name)
		}
		if *wait && (act.list || act.cmd != proto.ControlStartDefrag) {
			return usageErrorf("backend %s: --wait only applies to defrag", act.name)
		}
		if act.cmd == proto.ControlDelay && !act.list {
			return c.backendDelay(ctx, more, []string(address), id)
		}
		if len(more) > 0 {
			return usageErrorf("backend %s: unexpected argument %q", act.name, more[0])
		}
		if act.list {
			addrs := []string(address)
			if len(addrs) == 0 {
				var err error
				if addrs, err = c.remotes(); err != nil {
					return err
				}
			}
			return c.backendList(ctx, addrs, id)
		}
		if !id.set {
			return usageErrorf("backend %s: missing --backend ID", act.name)
		}
		addr := ""
		if len(address) == 1 {
			addr = address[0]
		} else {
			addrs, err := c.remotes()
			if err != nil {
				return err
			}
			addr = addrs[0]
		}
		return c.backendControl(ctx, addr, id.v, act.name, act.cmd, act.done, *wait)
	}
}

// backendDelay runs 'backend delay': ADDR BACKEND DURATION, or DURATION
// with --backend (and --address or the first --remote).
func (c *cli) backendDelay(ctx context.Context, args, address []string, id optInt32) error {
	var addr, dur string
	switch len(args) {
	case 3:
		if id.set || len(address) > 0 {
			return usageErrorf("backend delay: give ADDR and BACKEND either as arguments or as --address and --backend")
		}
		addr, dur = args[0], args[2]
		if err := id.Set(args[1]); err != nil {
			return usageErrorf("backend delay: bad BACKEND %q: %v", args[1], err)
		}
	case 1:
		dur = args[0]
		if !id.set {
			return usageErrorf("backend delay: missing --backend ID (or give ADDR BACKEND DURATION)")
		}
		switch len(address) {
		case 0:
			addrs, err := c.remotes()
			if err != nil {
				return err
			}
			addr = addrs[0]
		default:
			addr = address[0]
		}
	default:
		return usageErrorf("backend delay: want ADDR BACKEND DURATION (or --backend N DURATION)")
	}
	d, err := time.ParseDuration(dur)
	if err != nil || d < 0 || d > proto.MaxBackendDelay {
		return usageErrorf("backend delay: bad DURATION %q (want e.g. 50ms, 1s, 0 to remove)", dur)
	}
	s := c.adminSession()
	list, err := s.SetDelay(ctx, addr, id.v, d)
	if err == nil && len(list) == 0 {
		err = status.Errorf(status.Protocol, "empty status list in the reply")
	}
	if err != nil {
		err = adminError(fmt.Sprintf("backend delay --backend %d", id.v), addr, err)
		if c.g.json {
			_ = c.printControlJSON(addr, nil, err)
		}
		return err
	}
	st := list[0]
	if c.g.json {
		return c.printControlJSON(addr, &st, nil)
	}
	fmt.Fprintf(c.stdout, "backend %d (group %d) on %s: delay %s\n", st.ID, st.Group, addr, st.Delay)
	return nil
}

// adminSession returns a session on a node with no remotes yet; the admin
// calls dial the addresses they are given.
func (c *cli) adminSession() *client.Session {
	s := client.NewSession(c.newNode())
	s.SetTimeout(c.g.timeout)
	return s
}

// adminError turns the error of an admin call on addr into the CLI's error.
func adminError(what, addr string, err error) error {
	var se *status.Error
	if errors.Is(err, status.ErrAlready) && errors.As(err, &se) && se.Msg != "" {
		// "backend 0 is already enabled" says it all.
		return &opError{msg: fmt.Sprintf("%s (%s)", se.Msg, addr), err: err}
	}
	return &opError{msg: fmt.Sprintf("%s on %s: %s", what, addr, oneLine(err.Error())), err: err}
}

type nodeBackends struct {
	addr     string
	backends []proto.BackendStatus
	err      error
}

func (c *cli) backendList(ctx context.Context, addrs []string, filter optInt32) error {
	s := c.adminSession()
	nodes := make([]nodeBackends, 0, len(addrs))
	var errs []error
	for _, addr := range addrs {
		list, err := s.BackendStatus(ctx, addr)
		if err != nil {
			err = adminError("backend list", addr, err)
			errs = append(errs, err)
		}
		if filter.set {
			var keep []proto.BackendStatus
			for _, b := range list {
				if b.ID == filter.v {
					keep = append(keep, b)
				}
			}
			list = keep
			if err == nil && len(list) == 0 {
				err = &opError{msg: fmt.Sprintf("backend list on %s: node has no backend %d", addr, filter.v),
					err: status.ErrNoRoute}
				errs = append(errs, err)
			}
		}
		nodes = append(nodes, nodeBackends{addr: addr, backends: list, err: err})
	}
	var err error
	if len(errs) > 0 {
		err = joinCLIErrors(errs)
	}
	if c.g.json {
		out := jsonBackendList{OK: err == nil, Nodes: make([]jsonNode, 0, len(nodes))}
		if err != nil {
			out.Error = oneLine(err.Error())
		}
		for _, n := range nodes {
			jn := jsonNode{Address: n.addr, Backends: make([]jsonBackend, 0, len(n.backends))}
			if n.err != nil {
				jn.Error = oneLine(n.err.Error())
			}
			for _, b := range n.backends {
				jn.Backends = append(jn.Backends, backendJSON(b))
			}
			out.Nodes = append(out.Nodes, jn)
		}
		if jerr := c.encodeJSON(out); jerr != nil && err == nil {
			return jerr
		}
		return err
	}
	for i, n := range nodes {
		if n.err != nil && len(n.backends) == 0 {
			continue
		}
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		fmt.Fprintf(c.stdout, "node %s\n", n.addr)
		c.printBackends(n.backends)
	}
	return err
}

// joinCLIErrors joins errors on one line; the first decides the exit code.
func joinCLIErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return &opError{msg: strings.Join(msgs, "; "), err: errs[0]}
}

func (c *cli) printBackends(list []proto.BackendStatus) {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGROUP\tSTATE\tRO\tRECORDS\tBYTES\tDELAY\tDEFRAG\tLAST ERROR")
	for _, b := range list {
		ro := "no"
		if b.ReadOnly {
			ro = "yes"
		}
		records, bytes := strconv.FormatUint(b.Records, 10), strconv.FormatUint(b.Bytes, 10)
		if b.State != proto.StateEnabled {
			records, bytes = "-", "-"
		}
		lastErr := b.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		delay := "-"
		if b.Delay > 0 {
			delay = b.Delay.String()
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Group, b.State, ro, records, bytes,
			delay, defragText(b), oneLine(lastErr))
	}
	tw.Flush()
}

// defragText describes the defragmentation of b in one cell.
func defragText(b proto.BackendStatus) string {
	d := b.Defrag
	var s string
	switch {
	case b.DefragState == proto.DefragInProgress:
		s = "running " + progressText(d)
	case !d.StartedAt.IsZero():
		s = "done " + progressText(d)
	default:
		return "-"
	}
	if d.Err != "" {
		s += " error: " + oneLine(d.Err)
	}
	return s
}

func progressText(d proto.DefragProgress) string {
	s := fmt.Sprintf("files %d/%d, bytes %d/%d, reclaimed %d", d.FilesDone, d.FilesTotal, d.BytesDone, d.BytesTotal, d.Reclaimed)
	end := d.FinishedAt
	if end.IsZero() {
		end = time.Now()
	}
	if secs := end.Sub(d.StartedAt).Seconds(); !d.StartedAt.IsZero() && secs > 0 {
		s += fmt.Sprintf(", %.1f MB/s", float64(d.BytesDone)/secs/1e6)
	}
	return s
}

func (c *cli) backendControl(ctx context.Context, addr string, id int32, name string, cmd proto.ControlCommand, done string, wait bool) error {
	s := c.adminSession()
	what := fmt.Sprintf("backend %s --backend %d", name, id)
	list, err := s.BackendControl(ctx, addr, id, cmd)
	if err == nil && len(list) == 0 {
		err = status.Errorf(status.Protocol, "empty status list in the reply")
	}
	if err != nil {
		err = adminError(what, addr, err)
		if c.g.json {
			_ = c.printControlJSON(addr, nil, err)
		}
		return err
	}
	st := list[0]
	if !wait {
		if c.g.json {
			return c.printControlJSON(addr, &st, nil)
		}
		fmt.Fprintf(c.stdout, "backend %d (group %d) on %s: %s\n", st.ID, st.Group, addr, done)
		return nil
	}
	if !c.g.json {
		fmt.Fprintf(c.stdout, "backend %d (group %d) on %s: %s\n", st.ID, st.Group, addr, done)
	}
	st, err = c.waitDefrag(ctx, s, addr, st)
	if c.g.json {
		if jerr := c.printControlJSON(addr, &st, err); jerr != nil && err == nil {
			return jerr
		}
	}
	return err
}

// waitDefrag polls the backend's status until its defragmentation ends,
// printing the progress when it changes.
func (c *cli) waitDefrag(ctx context.Context, s *client.Session, addr string, st proto.BackendStatus) (proto.BackendStatus, error) {
	var last string
	t := time.NewTicker(defragPollInterval)
	defer t.Stop()
	for {
		if p := progressText(st.Defrag); p != last && !c.g.json {
			fmt.Fprintf(c.stdout, "defrag: %s\n", p)
			last = p
		}
		if st.State != proto.StateEnabled {
			return st, &opError{msg: fmt.Sprintf("backend %d on %s is %s: defragmentation interrupted", st.ID, addr, st.State),
				err: status.ErrNoRoute}
		}
		if st.DefragState != proto.DefragInProgress {
			break
		}
		select {
		case <-ctx.Done():
			return st, &cliError{code: exitFailed, msg: fmt.Sprintf("interrupted; the defragmentation of backend %d on %s goes on", st.ID, addr)}
		case <-t.C:
		}
		list, err := s.BackendStatus(ctx, addr)
		if err != nil {
			return st, adminError(fmt.Sprintf("backend defrag --backend %d --wait", st.ID), addr, err)
		}
		found := false
		for _, b := range list {
			if b.ID == st.ID {
				st, found = b, true
			}
		}
		if !found {
			return st, &opError{msg: fmt.Sprintf("backend %d is gone from %s", st.ID, addr), err: status.ErrNoRoute}
		}
	}
	if st.Defrag.Err != "" {
		return st, &opError{msg: fmt.Sprintf("defragmentation of backend %d on %s failed: %s", st.ID, addr, oneLine(st.Defrag.Err)),
			err: status.ErrIO}
	}
	if !c.g.json {
		fmt.Fprintf(c.stdout, "defragmentation finished: %s\n", progressText(st.Defrag))
	}
	return st, nil
}

// jsonBackend is one backend in --json output.
type jsonBackend struct {
	ID        int32      `json:"id"`
	Group     uint32     `json:"group"`
	State     string     `json:"state"`
	ReadOnly  bool       `json:"read_only"`
	Records   uint64     `json:"records"`
	Bytes     uint64     `json:"bytes"`
	DelayMS   uint64     `json:"delay_ms"`
	Defrag    jsonDefrag `json:"defrag"`
	LastError string     `json:"last_error"`
}

type jsonDefrag struct {
	State      string `json:"state"`
	FilesDone  uint64 `json:"files_done"`
	FilesTotal uint64 `json:"files_total"`
	BytesDone  uint64 `json:"bytes_done"`
	BytesTotal uint64 `json:"bytes_total"`
	Reclaimed  uint64 `json:"reclaimed"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	Error      string `json:"error"`
}

type jsonNode struct {
	Address  string        `json:"address"`
	Error    string        `json:"error,omitempty"`
	Backends []jsonBackend `json:"backends"`
}

type jsonBackendList struct {
	OK    bool       `json:"ok"`
	Error string     `json:"error,omitempty"`
	Nodes []jsonNode `json:"nodes"`
}

type jsonControl struct {
	OK      bool         `json:"ok"`
	Error   string       `json:"error,omitempty"`
	Address string       `json:"address"`
	Backend *jsonBackend `json:"backend,omitempty"`
}

func backendJSON(b proto.BackendStatus) jsonBackend {
	d := b.Defrag
	jb := jsonBackend{ID: b.ID, Group: b.Group, State: b.State.String(), ReadOnly: b.ReadOnly,
		Records: b.Records, Bytes: b.Bytes, DelayMS: uint64(b.Delay / time.Millisecond), LastError: b.LastError,
		Defrag: jsonDefrag{State: b.DefragState.String(), FilesDone: d.FilesDone, FilesTotal: d.FilesTotal,
			BytesDone: d.BytesDone, BytesTotal: d.BytesTotal, Reclaimed: d.Reclaimed, Error: d.Err}}
	if !d.StartedAt.IsZero() {
		jb.Defrag.StartedAt = d.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if !d.FinishedAt.IsZero() {
		jb.Defrag.FinishedAt = d.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	return jb
}

func (c *cli) printControlJSON(addr string, st *proto.BackendStatus, err error) error {
	out := jsonControl{OK: err == nil, Address: addr}
	if err != nil {
		out.Error = oneLine(err.Error())
	}
	if st != nil {
		jb := backendJSON(*st)
		out.Backend = &jb
	}
	return c.encodeJSON(out)
}
