package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// action runs a command with its positional arguments, once its flags
// are parsed.
type action func(ctx context.Context, c *cli, args []string) error

type command struct {
	name    string
	args    []string // positional arguments, all required
	more    string   // synopsis of optional arguments after args ("" = none)
	maxMore int      // how many optional arguments may follow args
	summary string   // one line for the command list
	about   string   // paragraph for 'elliptics COMMAND -h'
	// setup registers the command's flags on fs and returns the action
	// bound to them.
	setup func(fs *flag.FlagSet) action
}

func (cmd *command) synopsis() string {
	s := cmd.name
	if cmd.hasFlags() {
		s += " [flags]"
	}
	if len(cmd.args) > 0 {
		s += " " + strings.Join(cmd.args, " ")
	}
	if cmd.more != "" {
		s += " " + cmd.more
	}
	return s
}

func (cmd *command) hasFlags() bool {
	n := 0
	fs := newFlagSet(cmd.name)
	cmd.setup(fs)
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

var commands []*command

func init() {
	commands = []*command{
		{
			name:    "write",
			args:    []string{"KEY", "FILE|-"},
			summary: "store FILE (or standard input for -) under KEY in every group",
			about: "Stores the contents of FILE, or of standard input if FILE is -, under KEY in every\n" +
				"group of the session, in parallel. Prints one line per group: group, address, status,\n" +
				"object size and timestamp. Exits 0 if the --checker is satisfied.",
			setup: writeCommand,
		},
		{
			name:    "read",
			args:    []string{"KEY"},
			summary: "print the data of KEY on standard output (or into -o FILE)",
			about: "Reads KEY from the first group of the session that has it and writes the raw bytes\n" +
				"to standard output (nothing else), or to FILE with -o.",
			setup: readCommand,
		},
		{
			name:    "upload",
			args:    []string{"KEY", "FILE|-"},
			summary: "stream a big FILE into KEY in chunks (prepare, writes, commit), with a progress bar",
			about:   uploadAbout,
			setup:   uploadCommand,
		},
		{
			name:    "download",
			args:    []string{"KEY", "FILE|-"},
			summary: "stream KEY into FILE in ranged reads, with a progress bar",
			about:   downloadAbout,
			setup:   downloadCommand,
		},
		{
			name:    "lookup",
			args:    []string{"KEY"},
			summary: "show where KEY is stored: group, address, size, timestamp, flags, path",
			about: "Asks the first group of the session that has KEY where and what it is: group,\n" +
				"address, size, timestamp, user flags, path and, with --checksum, the SHA-512 of the data.",
			setup: lookupCommand,
		},
		{
			name:    "remove",
			args:    []string{"KEY"},
			summary: "delete KEY from every group",
			about: "Removes KEY (or only its --column) from every group of the session, in parallel.\n" +
				"Prints one line per group. Exits 3 if no group had the key.",
			setup: noFlags(removeAction),
		},
		{
			name:    "watch",
			args:    []string{"KEY"},
			summary: "print a line for every write and removal of KEY in every group, until interrupted",
			about:   watchAbout,
			setup:   watchCommand,
		},
		{
			name:    "range",
			args:    []string{"ACTION", "START", "END"},
			summary: "read, count or remove every record with an ID in [START, END) of a group",
			about:   rangeAbout,
			setup:   rangeCommand,
		},
		{
			name:    "iterate",
			summary: "stream the records of one backend (by ID and time range), or copy them to other groups",
			about:   iterateAbout,
			setup:   iterateCommand,
		},
		{
			name:    "iterator",
			args:    []string{"ACTION"},
			more:    "[ADDR [ITERATOR_ID]]",
			maxMore: 2,
			summary: "list the running iterators, or pause, continue or cancel ITERATOR_ID on the node at ADDR",
			about:   iteratorAbout,
			setup:   noFlags(iteratorAction),
		},
		{
			name:    "ping",
			summary: "check that a node of every group answers",
			about: "Pings a node of every group of the session. Prints one line per group and exits 0\n" +
				"only if every group answered.",
			setup: noFlags(pingAction),
		},
		{
			name:    "routes",
			summary: "show the ring: group, backend, address, points and share of each backend",
			about:   routesAbout,
			setup:   routesCommand,
		},
		{
			name:    "nodes",
			summary: "list the nodes of the cluster: address, state, backends, groups, version",
			about:   nodesAbout,
			setup:   noFlags(nodesAction),
		},
		{
			name:    "backend",
			args:    []string{"ACTION"},
			more:    "[ADDR BACKEND DURATION]",
			maxMore: 3,
			summary: "list the backends of nodes, or enable|disable|ro|rw|defrag|stop-defrag|delay one",
			about:   backendAbout(),
			setup:   backendCommand,
		},
		{
			name:    "recovery",
			args:    []string{"ACTION"},
			more:    "[ADDR JOB]",
			maxMore: 2,
			summary: "start merge|dc recovery on the nodes, show its status, or pause|resume|stop a job",
			about:   recoveryAbout,
			setup:   recoveryCommand,
		},
		{
			name:    "stats",
			summary: "show the statistics of every node: requests/s, latency, errors, objects, load, memory, disk",
			about:   statsAbout,
			setup:   statsCommand,
		},
		{
			name:    "node",
			args:    []string{"ACTION", "ADDR"},
			summary: "remove ADDR: declare a stopped node gone for good, so its ranges are filled from other groups",
			about:   nodeAbout,
			setup:   nodeCommand,
		},
		{
			name:    "script",
			args:    []string{"ACTION"},
			more:    "[NAME [FILE|-|VERSION]]",
			maxMore: 2,
			summary: "put, list, show or remove the Starlark scripts stored in the cluster",
			about:   scriptAbout,
			setup:   scriptCommand,
		},
		{
			name:    "exec",
			args:    []string{"EVENT"},
			more:    "[KEY]",
			maxMore: 1,
			summary: "run script@function next to KEY's data, or on every node without KEY",
			about:   execAbout,
			setup:   execCommand,
		},
		{
			name:    "jobs",
			args:    []string{"ACTION", "EVENT"},
			summary: "submit EVENT as a job per key (--keys FILE), each run on its key's owner",
			about:   jobsAbout,
			setup:   jobsCommand,
		},
		{
			name:    "id",
			args:    []string{"KEY"},
			summary: "print the ID of KEY in the --namespace, without connecting",
			about:   "Prints the 64-byte ID (hex) that KEY has in the --namespace. Does not connect.",
			setup:   noFlags(idAction),
		},
	}
}

func findCommand(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func noFlags(a action) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action { return a }
}

func writeCommand(fs *flag.FlagSet) action {
	offset := fs.Uint64("offset", 0, "write at byte `N` of the object, keeping the bytes around it")
	appendData := fs.Bool("append", false, "append to the end of the object")
	userFlags := fs.Uint64("user-flags", 0, "user flags `N` stored with the object (decimal or 0x hex)")
	ttl := fs.Duration("ttl", 0, "give the object a lifetime of `DURATION` (e.g. 90s, 24h); it then disappears")
	cas := fs.String("cas", "", "write only if the stored data has the SHA-512 `HEX` (as lookup --checksum prints; 0: only if absent)")
	casTS := fs.Bool("cas-timestamp", false, "write only if the stored object is not newer than this write")
	prepare := fs.Uint64("prepare", 0, "start a chunked upload of `SIZE` bytes (data at --offset); invisible until --commit")
	plain := fs.Bool("plain", false, "write a chunk of an upload in progress at --offset")
	commit := fs.Uint64("commit", 0, "finish a chunked upload: data at --offset, final size `SIZE` (at most the prepared size)")
	return func(ctx context.Context, c *cli, args []string) error {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if *appendData && *offset != 0 {
			return usageErrorf("write: --offset and --append exclude each other")
		}
		o := client.WriteOptions{Offset: *offset, Append: *appendData, CASTimestamp: *casTS,
			Prepare: set["prepare"], Plain: *plain, Commit: set["commit"]}
		switch {
		case set["ttl"] && *ttl <= 0:
			return usageErrorf("write: --ttl must be positive, got %s (leave it out for no lifetime)", *ttl)
		case set["ttl"]:
			o.TTL = *ttl
		}
		if *appendData && (o.Prepare || o.Plain || o.Commit) {
			return usageErrorf("write: --append cannot be part of a chunked upload (--prepare, --plain, --commit)")
		}
		switch {
		case o.Prepare && o.Commit && *prepare != *commit:
			return usageErrorf("write: --prepare %d and --commit %d together must give the same size", *prepare, *commit)
		case o.Prepare:
			o.TotalSize = *prepare
		case o.Commit:
			o.TotalSize = *commit
		}
		if *cas != "" {
			// A checksum cut short would silently never match: demand all
			// of it (or "0", the shorthand for "absent").
			if len(*cas) != 2*id.Size && *cas != "0" {
				return usageErrorf("write: --cas wants the %d hex digits of a SHA-512 (or 0 for absent), got %d", 2*id.Size, len(*cas))
			}
			sum, err := id.Parse(*cas)
			if err != nil {
				return usageErrorf("write: --cas: %v", err)
			}
			o.CAS = &sum
		}
		key, err := c.key(args[0])
		if err != nil {
			return err
		}
		data, err := c.readInput(args[1])
		if err != nil {
			return err
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		s.SetUserFlags(*userFlags)
		res, err := s.WriteWith(ctx, key, data, o)
		if err != nil {
			err = opFailed("write", args[0], err, res.Entries, s.Checker())
		}
		return c.printResult(res.Entries, err, true)
	}
}

// readInput reads FILE, or standard input for "-".
func (c *cli) readInput(name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(c.stdin)
		if err != nil {
			return nil, &cliError{code: exitFailed, msg: fmt.Sprintf("read standard input: %v", err)}
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usageErrorf("cannot read input file: %v", err)
	}
	return data, nil
}

func readCommand(fs *flag.FlagSet) action {
	offset := fs.Uint64("offset", 0, "start reading at byte `N` of the object")
	size := fs.Uint64("size", 0, "read at most `N` bytes (0: to the end)")
	out := fs.String("o", "", "write the data to `FILE` instead of standard output")
	verbose := fs.Bool("verbose", false, "print a summary (group, address, sizes, timestamp) on standard error")
	byLatency := fs.Bool("by-latency", false,
		"try first the group whose node answered fastest so far (connection round trips), not session order")
	return func(ctx context.Context, c *cli, args []string) error {
		key, err := c.key(args[0])
		if err != nil {
			return err
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		if *byLatency {
			s.SetReadOrder(client.ReadByLatency)
		}
		e, tried, err := s.ReadAll(ctx, key, *offset, *size)
		if err != nil {
			return opFailed("read", args[0], err, tried, s.Checker())
		}
		if *out == "" || *out == "-" {
			if _, err := c.stdout.Write(e.Data); err != nil {
				return &cliError{code: exitFailed, msg: fmt.Sprintf("read %q: write standard output: %v", args[0], err)}
			}
		} else if err := os.WriteFile(*out, e.Data, 0o644); err != nil {
			return &cliError{code: exitFailed, msg: fmt.Sprintf("read %q: %v", args[0], err)}
		}
		if *verbose {
			fmt.Fprintf(c.stderr, "read %q: %d bytes at offset %d of %d from group %d (%s), timestamp %s, user flags %#x\n",
				args[0], len(e.Data), e.Offset, e.TotalSize, e.Group, e.Address, formatTime(e.Timestamp), e.UserFlags)
		}
		return nil
	}
}

func lookupCommand(fs *flag.FlagSet) action {
	checksum := fs.Bool("checksum", false, "also print the SHA-512 of the data (the node reads it all)")
	return func(ctx context.Context, c *cli, args []string) error {
		key, err := c.key(args[0])
		if err != nil {
			return err
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		e, err := s.LookupWith(ctx, key, client.LookupOptions{Checksum: *checksum})
		if err != nil {
			// A lookup reports not found only if every group said so.
			var tried []client.Entry
			if errors.Is(err, status.ErrNotFound) {
				for _, g := range s.Groups() {
					tried = append(tried, client.Entry{Group: g, Status: status.NotFound, Err: err})
				}
			}
			err = opFailed("lookup", args[0], err, tried, s.Checker())
			if c.g.json {
				c.printJSON(nil, err)
			}
			return err
		}
		if c.g.json {
			c.printJSON([]client.Entry{e}, nil)
			return nil
		}
		c.printLookup(args[0], e, *checksum)
		return nil
	}
}

func removeAction(ctx context.Context, c *cli, args []string) error {
	key, err := c.key(args[0])
	if err != nil {
		return err
	}
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	res, err := s.Remove(ctx, key)
	if err != nil {
		err = opFailed("remove", args[0], err, res.Entries, s.Checker())
	}
	return c.printResult(res.Entries, err, false)
}

func pingAction(ctx context.Context, c *cli, _ []string) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	// An operator's ping asks whether every group answers.
	s.SetChecker(client.CheckAll)
	res, err := s.Ping(ctx)
	if err != nil {
		err = opFailed("ping", "", err, res.Entries, client.CheckAll)
	}
	return c.printResult(res.Entries, err, false)
}

func idAction(_ context.Context, c *cli, args []string) error {
	key, err := c.key(args[0])
	if err != nil {
		return err
	}
	// A node with no remotes never connects; the session applies the
	// namespace and ID model exactly as the data commands do.
	n := client.NewNode(client.Config{})
	defer n.Close()
	s := client.NewSession(n)
	s.SetNamespace(c.g.namespace)
	oid, err := s.ID(key)
	if err != nil {
		return opFailed("id", args[0], err, nil, s.Checker())
	}
	if c.g.json {
		return c.encodeJSON(struct {
			Key       string `json:"key"`
			Namespace string `json:"namespace"`
			ID        string `json:"id"`
		}{args[0], c.g.namespace, oid.String()})
	}
	fmt.Fprintln(c.stdout, oid.String())
	return nil
}
