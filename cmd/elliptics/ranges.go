package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

const rangeAbout = `Acts on every record (object column) whose ID is in [START, END) in one group, in ID
order: 'read' prints them, 'count' prints how many there are, 'remove' removes them and
prints how many it removed. START and END are hex IDs, zero-padded on the right ("0" is
the lowest ID, "max" the highest; END itself is never included). The range is split
among the backends that own its parts and sent to each, in ID order.

--limit-start N skips the first N records of the range, --limit-num M acts on at most M
(0: no limit): with 16 records, --limit-start 3 --limit-num 14 acts on 13.

read prints one line per record: ID, column, size, timestamp, user flags (and the data
with --data); with --json one JSON object per record (data base64-encoded).`

const iterateAbout = `Runs an iterator on one backend of one node and prints one line per record as it
arrives: ID, column, size, timestamp, user flags (and the data with --data), or one JSON
object per line with --json. The backend is --address A --backend B, or the owner of
--key K in --group G (default: the session's first group). --from and --to bound the IDs
(both included); --since and --until keep records whose timestamp is in that window
(RFC 3339 times, or durations such as 24h meaning that long ago).

With --copy-to G1,G2 the node copies each record to those groups itself (server-send) and
a line per record and group gives the result; newer data at a destination is kept (the
line says "compare-and-swap mismatch") unless --overwrite; --move removes each record
once it is copied everywhere.

When the iterator starts, a line on standard error names it ("iterator 7 started on
ADDR backend 0"): 'elliptics iterator pause|continue|cancel ADDR 7' controls it from
another shell. A summary (iterator id, state, records visited) goes to standard error
at the end. Exits 1 if any record failed.`

const iteratorAbout = `iterator list [ADDR] prints the iterators running on the node at ADDR, or on every node
of the route table, one line each: "ADDR iterator 7 backend 0 (group 1): paused, network,
120 of 1000 records visited, started 2026-01-02T15:04:05Z" (type network: records to the
requester; server-send: copied to other groups by the node), or with --json
{"iterators":[{"address":ADDR,"iterator":7,"backend":0,"group":1,"state":"paused",
"type":"network","iterated":120,"total":1000,"started":"..."}]}. Exits 1 if a node could
not be asked (the others are still listed).

iterator pause|continue|cancel ADDR ITERATOR_ID acts on the iterator ITERATOR_ID running on
the node at ADDR (as 'iterate' names them when it starts, or list shows them; any client's
iterator) and prints its state and progress after the action: "iterator 7 on ADDR: paused,
120 of 1000 records visited", or with --json
{"iterator":7,"address":ADDR,"state":"paused","iterated":120,"total":1000}. A paused
iterator finishes the record in hand, then waits; its requester keeps getting keep-alives.
Cancel ends it: its requester sees state canceled. Exits 3 if the node runs no iterator
ITERATOR_ID (never started, finished or canceled).

A node the client does not reach itself (--proxy, NAT) is reached through a --remote node,
which relays.`

// iteratorAction serves 'iterator list [ADDR]' and 'iterator
// pause|continue|cancel ADDR ITERATOR_ID'.
func iteratorAction(ctx context.Context, c *cli, args []string) error {
	if args[0] == "list" {
		return iteratorList(ctx, c, args[1:])
	}
	actions := map[string]proto.IteratorAction{"pause": proto.IterPause, "continue": proto.IterContinue,
		"cancel": proto.IterCancel}
	act, ok := actions[args[0]]
	if !ok {
		return usageErrorf("iterator: unknown action %q (want list, pause, continue or cancel)", args[0])
	}
	if len(args) < 3 {
		missing := "ITERATOR_ID"
		if len(args) < 2 {
			missing = "ADDR"
		}
		return usageErrorf("iterator %s: missing %s (usage: elliptics iterator %s ADDR ITERATOR_ID)", args[0], missing, args[0])
	}
	addr := args[1]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageErrorf("iterator: ADDR %q: want host:port", addr)
	}
	iterID, err := strconv.ParseUint(args[2], 10, 64)
	if err != nil || iterID == 0 {
		return usageErrorf("iterator: ITERATOR_ID %q: want a positive number, as iterate prints it", args[2])
	}
	if _, err := c.connect(ctx); err != nil {
		return err
	}
	s := client.NewSession(c.node)
	s.SetTimeout(c.g.timeout)
	e, err := s.IteratorControl(ctx, addr, iterID, act)
	if err != nil {
		return &opError{msg: "iterator " + args[0] + ": " + err.Error(), err: err}
	}
	if c.g.json {
		return c.encodeJSON(struct {
			ID       uint64 `json:"iterator"`
			Address  string `json:"address"`
			State    string `json:"state"`
			Iterated uint64 `json:"iterated"`
			Total    uint64 `json:"total"`
		}{iterID, addr, e.State.String(), e.Iterated, e.Total})
	}
	fmt.Fprintf(c.stdout, "iterator %d on %s: %s, %d of %d records visited\n", iterID, addr, e.State, e.Iterated, e.Total)
	return nil
}

// jsonIterator is one iterator of 'iterator list --json'.
type jsonIterator struct {
	Address  string    `json:"address"`
	ID       uint64    `json:"iterator"`
	Backend  int32     `json:"backend"`
	Group    uint32    `json:"group"`
	State    string    `json:"state"`
	Type     string    `json:"type"`
	Iterated uint64    `json:"iterated"`
	Total    uint64    `json:"total"`
	Started  time.Time `json:"started"`
}

// iteratorList serves 'iterator list [ADDR]': the node at ADDR, or every
// node of the route table.
func iteratorList(ctx context.Context, c *cli, args []string) error {
	if len(args) > 1 {
		return usageErrorf("iterator list: unexpected argument %q (usage: elliptics iterator list [ADDR])", args[1])
	}
	var addrs []string
	if len(args) == 1 {
		if _, _, err := net.SplitHostPort(args[0]); err != nil {
			return usageErrorf("iterator list: ADDR %q: want host:port", args[0])
		}
		addrs = args
	}
	if _, err := c.connect(ctx); err != nil {
		return err
	}
	if addrs == nil {
		addrs = c.node.Table().Addresses()
		slices.Sort(addrs)
	}
	s := client.NewSession(c.node)
	s.SetTimeout(c.g.timeout)
	out := []jsonIterator{}
	var errs []error
	for _, addr := range addrs {
		infos, err := s.ListIterators(ctx, addr)
		if err != nil {
			errs = append(errs, &opError{msg: "iterator list: " + err.Error(), err: err})
			continue
		}
		for _, x := range infos {
			typ := "network"
			if x.Type == proto.IterTypeServerSend {
				typ = "server-send"
			}
			out = append(out, jsonIterator{Address: addr, ID: x.ID, Backend: x.Backend, Group: x.Group,
				State: x.State.String(), Type: typ, Iterated: x.Iterated, Total: x.Total, Started: x.Started})
		}
	}
	var err error
	if len(errs) > 0 {
		err = joinCLIErrors(errs)
	}
	if c.g.json {
		if jerr := c.encodeJSON(struct {
			Iterators []jsonIterator `json:"iterators"`
		}{out}); jerr != nil && err == nil {
			return jerr
		}
		return err
	}
	for _, x := range out {
		fmt.Fprintf(c.stdout, "%s iterator %d backend %d (group %d): %s, %s, %d of %d records visited, started %s\n",
			x.Address, x.ID, x.Backend, x.Group, x.State, x.Type, x.Iterated, x.Total, x.Started.Format(time.RFC3339))
	}
	return err
}

func rangeCommand(fs *flag.FlagSet) action {
	limitStart := fs.Uint64("limit-start", 0, "skip the first `N` records of the range")
	limitNum := fs.Uint64("limit-num", 0, "act on at most `M` records (0: all)")
	group := fs.Uint("group", 0, "the `GROUP` to act on (default: the first group of the session)")
	offset := fs.Uint64("offset", 0, "read: start each value at byte `N`")
	size := fs.Uint64("size", 0, "read: at most `N` bytes of each value (0: to the end)")
	withData := fs.Bool("data", false, "read: print each record's data (quoted) on its line")
	return func(ctx context.Context, c *cli, args []string) error {
		op := args[0]
		if op != "read" && op != "count" && op != "remove" {
			return usageErrorf("range: unknown action %q (want read, count or remove)", op)
		}
		start, err := parseRangeID(args[1])
		if err != nil {
			return usageErrorf("range: START: %v", err)
		}
		end, err := parseRangeID(args[2])
		if err != nil {
			return usageErrorf("range: END: %v", err)
		}
		if end.Less(start) {
			return usageErrorf("range: START %s is after END %s", start.Short(), end.Short())
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		r := client.Range{Start: start, End: end, Group: uint32(*group), Offset: *offset, Size: *size,
			LimitStart: *limitStart, LimitNum: *limitNum}
		switch op {
		case "read":
			entries, err := s.ReadRange(ctx, r)
			for _, e := range entries {
				c.printRecord(e.ID, e.Column, e.Group, e.TotalSize, e.Timestamp, e.UserFlags, e.Data, *withData, "")
			}
			if err != nil {
				return &opError{msg: "range read: " + err.Error(), err: err}
			}
		default:
			var n uint64
			if op == "count" {
				n, err = s.CountRange(ctx, r)
			} else {
				n, err = s.RemoveRange(ctx, r)
			}
			if err != nil {
				return &opError{msg: "range " + op + ": " + err.Error(), err: err}
			}
			if c.g.json {
				return c.encodeJSON(map[string]uint64{map[string]string{"count": "count", "remove": "removed"}[op]: n})
			}
			fmt.Fprintln(c.stdout, n)
		}
		return nil
	}
}

// parseRangeID parses a range bound: a hex ID, or "max".
func parseRangeID(s string) (id.ID, error) {
	if strings.EqualFold(s, "max") {
		return id.Max, nil
	}
	return id.Parse(s)
}

// parseSince parses --since/--until: an RFC 3339 time, or a duration ago.
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or a duration (e.g. 24h), got %q", s)
	}
	return t, nil
}

type jsonRecord struct {
	ID        string `json:"id"`
	Column    string `json:"column"`
	Group     uint32 `json:"group"`
	Size      uint64 `json:"size"`
	Timestamp string `json:"timestamp,omitempty"`
	UserFlags uint64 `json:"user_flags"`
	Data      []byte `json:"data,omitempty"`
	Error     string `json:"error,omitempty"`
}

// printRecord prints one record of a range read or an iterator.
func (c *cli) printRecord(oid id.ID, column string, group uint32, size uint64, ts time.Time, uflags uint64,
	data []byte, withData bool, errText string) {
	if c.g.json {
		r := jsonRecord{ID: oid.String(), Column: column, Group: group, Size: size, UserFlags: uflags, Data: data, Error: errText}
		if !ts.IsZero() {
			r.Timestamp = formatTime(ts)
		}
		_ = c.encodeJSON(r)
		return
	}
	line := fmt.Sprintf("%s %q %d %d %s %#x", oid, column, group, size, formatTime(ts), uflags)
	if withData {
		line += fmt.Sprintf(" %q", data)
	}
	if errText != "" {
		line += " error: " + errText
	}
	fmt.Fprintln(c.stdout, line)
}

func iterateCommand(fs *flag.FlagSet) action {
	address := fs.String("address", "", "iterate backend --backend of the node at `ADDR`")
	backendID := fs.Int("backend", 0, "the backend `ID` on --address")
	keyName := fs.String("key", "", "iterate the backend that owns `KEY` in --group")
	group := fs.Uint("group", 0, "the `GROUP` of --key (default: the first group of the session)")
	from := fs.String("from", "", "first `ID` to visit (hex; default the lowest)")
	to := fs.String("to", "", "last `ID` to visit (hex or max; default the highest)")
	since := fs.String("since", "", "only records written at or after `TIME` (RFC 3339, or a duration ago such as 24h)")
	until := fs.String("until", "", "only records written at or before `TIME`")
	withData := fs.Bool("data", false, "also fetch and print each record's data")
	noMeta := fs.Bool("no-meta", false, "leave timestamps and user flags out (cheaper)")
	copyTo := fs.String("copy-to", "", "copy each record to the groups `LIST` (1,2) instead of printing it")
	move := fs.Bool("move", false, "with --copy-to: remove each record once copied")
	overwrite := fs.Bool("overwrite", false, "with --copy-to: overwrite newer data at the destination")
	return func(ctx context.Context, c *cli, _ []string) error {
		o := client.IteratorOptions{Address: *address, Backend: int32(*backendID), Group: uint32(*group),
			Data: *withData, NoMeta: *noMeta, Move: *move, Overwrite: *overwrite}
		if (*address == "") == (*keyName == "") {
			return usageErrorf("iterate: give either --address (with --backend) or --key")
		}
		var err error
		if o.TimeBegin, err = parseSince(*since); err != nil {
			return usageErrorf("iterate: --since: %v", err)
		}
		if o.TimeEnd, err = parseSince(*until); err != nil {
			return usageErrorf("iterate: --until: %v", err)
		}
		if *from != "" || *to != "" {
			rg := proto.IteratorRange{End: id.Max}
			if *from != "" {
				if rg.Start, err = parseRangeID(*from); err != nil {
					return usageErrorf("iterate: --from: %v", err)
				}
			}
			if *to != "" {
				if rg.End, err = parseRangeID(*to); err != nil {
					return usageErrorf("iterate: --to: %v", err)
				}
			}
			o.Ranges = []proto.IteratorRange{rg}
		}
		if *copyTo != "" {
			if o.CopyTo, err = parseGroups(*copyTo); err != nil {
				return usageErrorf("iterate: --copy-to: %v", err)
			}
		} else if *move || *overwrite {
			return usageErrorf("iterate: --move and --overwrite need --copy-to")
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		if *keyName != "" {
			k, err := c.key(*keyName)
			if err != nil {
				return err
			}
			if o.Point, err = s.ID(k); err != nil {
				return usageErrorf("iterate: --key: %v", err)
			}
		}
		it, err := s.StartIterator(ctx, o)
		if err != nil {
			return &opError{msg: err.Error(), err: err}
		}
		defer it.Close()
		// Named at once, so an operator can pause or cancel it from
		// another shell while records stream to stdout.
		fmt.Fprintf(c.stderr, "iterator %d started on %s backend %d\n", it.ID(), it.Address(), it.Backend())
		failed := 0
		var firstErr error
		for e := range it.Entries() {
			errText := ""
			if e.Err != nil {
				errText = e.Err.Error()
				if failed == 0 {
					firstErr = e.Err
				}
				failed++
			}
			c.printRecord(e.ID, e.Column, e.Group, e.TotalSize, e.Timestamp, e.UserFlags, e.Data, *withData, errText)
		}
		iterated, total := it.Progress()
		fmt.Fprintf(c.stderr, "iterator %d on %s: %s, %d of %d records visited\n", it.ID(), it.Address(), it.State(), iterated, total)
		if err := it.Err(); err != nil {
			return &opError{msg: err.Error(), err: err}
		}
		if failed > 0 {
			return &opError{msg: fmt.Sprintf("iterate: %d records failed, first: %v", failed, firstErr),
				err: firstErr}
		}
		return nil
	}
}
