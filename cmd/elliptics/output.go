package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/elliptics/elliptics/core/client"
)

const exitCodesText = `Exit codes:
  0  success
  1  the operation failed (checker not satisfied, I/O error, not permitted, no group to use,
     backend already in the state asked for, unknown backend, no backend of
     the routes --group, ...)
  2  usage error (unknown command, bad flag, missing argument, bad group list,
     unreadable input file)
  3  key not found
  4  timeout or node unreachable (lost connection, no --remote answers)
`

func (c *cli) usage(w io.Writer, gfs *flag.FlagSet) {
	fmt.Fprint(w, "Usage: elliptics [global flags] COMMAND [command flags] ARGS\n\n")
	fmt.Fprint(w, "Operator client of an elliptics cluster.\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, cmd := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(cmd.name+" "+strings.Join(cmd.args, " ")), cmd.summary)
	}
	fmt.Fprintf(tw, "  %s\t%s\n", "help [COMMAND]", "show this text, or the flags of COMMAND")
	tw.Flush()
	fmt.Fprint(w, "\nGlobal flags (before the command, or after it):\n")
	printFlags(w, gfs)
	fmt.Fprint(w, "\n"+exitCodesText)
	fmt.Fprintf(w, "\nErrors are reported on standard error, one line starting with \"elliptics: \".\n")
	fmt.Fprintf(w, "Run 'elliptics COMMAND -h' for the flags of a command.\n")
}

func (c *cli) commandUsage(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "Usage: elliptics [global flags] %s\n\n%s\n", cmd.synopsis(), cmd.about)
	fs := newFlagSet(cmd.name)
	cmd.setup(fs)
	if cmd.hasFlags() {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs)
	}
	fmt.Fprint(w, "\nGlobal flags: see 'elliptics -h'.\n\n"+exitCodesText)
}

func (c *cli) help(args []string, gfs *flag.FlagSet) int {
	switch len(args) {
	case 0:
		c.usage(c.stdout, gfs)
		return exitOK
	case 1:
		cmd := findCommand(args[0])
		if cmd == nil {
			return c.fail(usageErrorf("help: unknown command %q", args[0]))
		}
		c.commandUsage(c.stdout, cmd)
		return exitOK
	}
	return c.fail(usageErrorf("help: unexpected argument %q", args[1]))
}

// printFlags lists the flags of fs, "--name" for long names and "-n" for
// one-letter ones.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if arg != "" {
			line += " " + arg
		}
		usage = strings.ReplaceAll(usage, "\n", "\n      ")
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
}

// printResult prints the entries of a multi-group call, as JSON with
// --json, and returns err.
func (c *cli) printResult(entries []client.Entry, err error, withData bool) error {
	if c.g.json {
		c.printJSON(entries, err)
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, e := range entries {
		addr := e.Address
		if addr == "" {
			addr = "-"
		}
		if !e.OK() {
			fmt.Fprintf(tw, "%d\t%s\tfailed\t-\t-\t%s\n", e.Group, addr, entryError(e))
			continue
		}
		if withData {
			fmt.Fprintf(tw, "%d\t%s\tok\t%d\t%s\n", e.Group, addr, e.TotalSize, formatTime(e.Timestamp))
		} else {
			fmt.Fprintf(tw, "%d\t%s\tok\n", e.Group, addr)
		}
	}
	tw.Flush()
	return err
}

func (c *cli) printLookup(key string, e client.Entry, checksum bool) {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "key:\t%s\n", key)
	fmt.Fprintf(tw, "id:\t%s\n", e.ID)
	fmt.Fprintf(tw, "group:\t%d\n", e.Group)
	fmt.Fprintf(tw, "address:\t%s\n", e.Address)
	fmt.Fprintf(tw, "size:\t%d\n", e.TotalSize)
	fmt.Fprintf(tw, "timestamp:\t%s\n", formatTime(e.Timestamp))
	fmt.Fprintf(tw, "user flags:\t%#x\n", e.UserFlags)
	if !e.Expire.IsZero() {
		fmt.Fprintf(tw, "expires:\t%s\n", formatTime(e.Expire))
	}
	if checksum {
		fmt.Fprintf(tw, "checksum:\t%s\n", e.Checksum)
	}
	fmt.Fprintf(tw, "path:\t%s\n", e.Path)
	tw.Flush()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// jsonResult is the --json output of write, remove, lookup and ping.
type jsonResult struct {
	OK      bool        `json:"ok"`
	Error   string      `json:"error,omitempty"`
	Entries []jsonEntry `json:"entries"`
}

type jsonEntry struct {
	Group     uint32 `json:"group"`
	Address   string `json:"address"`
	Status    int32  `json:"status"`
	Error     string `json:"error"`
	ID        string `json:"id,omitempty"`
	Size      uint64 `json:"size"`
	Timestamp string `json:"timestamp"`
	UserFlags uint64 `json:"user_flags"`
	Checksum  string `json:"checksum"`
	Path      string `json:"path,omitempty"`
	Expire    string `json:"expire,omitempty"`
}

func (c *cli) printJSON(entries []client.Entry, err error) {
	r := jsonResult{OK: err == nil, Entries: make([]jsonEntry, 0, len(entries))}
	if err != nil {
		r.Error = oneLine(err.Error())
	}
	for _, e := range entries {
		je := jsonEntry{Group: e.Group, Address: e.Address, Status: int32(e.Status), Size: e.TotalSize,
			UserFlags: e.UserFlags, Path: e.Path}
		if !e.OK() {
			je.Error = entryError(e)
		}
		if !e.ID.IsZero() {
			je.ID = e.ID.String()
		}
		if !e.Timestamp.IsZero() {
			je.Timestamp = e.Timestamp.UTC().Format(time.RFC3339Nano)
		}
		if !e.Checksum.IsZero() {
			je.Checksum = e.Checksum.String()
		}
		if !e.Expire.IsZero() {
			je.Expire = e.Expire.UTC().Format(time.RFC3339Nano)
		}
		r.Entries = append(r.Entries, je)
	}
	_ = c.encodeJSON(r)
}

func (c *cli) encodeJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return &cliError{code: exitFailed, msg: fmt.Sprintf("write JSON: %v", err)}
	}
	return nil
}
