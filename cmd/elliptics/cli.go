package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Exit codes; the usage text documents them for operators and scripts.
const (
	exitOK          = 0 // success
	exitFailed      = 1 // the operation failed (checker not satisfied, I/O error, ...)
	exitUsage       = 2 // bad command line or unreadable input file
	exitNotFound    = 3 // the key does not exist
	exitUnreachable = 4 // timeout, lost connection or no node reachable
)

const (
	defaultRemote = "127.0.0.1:1025"
	envRemote     = "ELLIPTICS_REMOTE"
)

// cliError is an error that carries its exit code; its message is printed
// after "elliptics: ".
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &cliError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// opError is a failed cluster operation: a message for the operator that
// wraps the client's error, which decides the exit code.
type opError struct {
	msg string
	err error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.err }

// exitCode maps an error to the exit code documented in the usage text.
func exitCode(err error) int {
	var ce *cliError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, status.ErrNotFound):
		return exitNotFound
	case errors.Is(err, status.ErrTimeout), errors.Is(err, status.ErrConnectionLost):
		return exitUnreachable
	}
	return exitFailed
}

// oneLine flattens a (possibly joined, multi-line) error message.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

// globals are the flags that apply to every command.
type globals struct {
	remotes   addrList
	groups    groupList
	namespace string
	timeout   time.Duration
	checker   client.Checker
	rawID     bool
	json      bool
	column    string
	proxy     bool
	tls       tlsFlags  // --tls-* (tls.go)
	auth      authFlags // auth.go
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.Var(&g.remotes, "remote", "node address `ADDR` (host:port); repeat the flag or separate with commas for several\n"+
		"(default $"+envRemote+" if set, else "+defaultRemote+")")
	fs.Var(&g.groups, "groups", "`LIST` of groups to use, as 1,2,3 or 1:2:3, in read order\n(default: every group of the cluster; with --proxy, of the --remote nodes)")
	fs.StringVar(&g.namespace, "namespace", "", "namespace `NS` mixed into the ID of every key")
	fs.DurationVar(&g.timeout, "timeout", 5*time.Second, "how long (`DURATION`, e.g. 500ms) to wait to connect and for each reply")
	fs.Var(checkerFlag{&g.checker}, "checker", "success policy `NAME` of write and remove: at_least_one, all, quorum or no_check")
	fs.BoolVar(&g.rawID, "id", false, "KEY arguments are hex IDs (zero-padded on the right), not names")
	fs.BoolVar(&g.json, "json", false, "print the results of every command but read as JSON")
	fs.StringVar(&g.column, "column", "", "column `NAME` of the object to address (default column if empty)")
	fs.BoolVar(&g.proxy, "proxy", false, "send every request through the --remote nodes and connect to no other node\n"+
		"(for clients behind NAT or a firewall: the --remote nodes forward to the others)")
	g.tls.register(fs)
	g.auth.register(fs)
}

// addrList is the value of --remote.
type addrList []string

func (a *addrList) String() string {
	if a == nil {
		return ""
	}
	return strings.Join(*a, ",")
}

func (a *addrList) Set(s string) error {
	addrs, err := parseAddrs(s)
	if err != nil {
		return err
	}
	*a = append(*a, addrs...)
	return nil
}

func parseAddrs(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("empty address in %q", s)
		}
		_, port, err := net.SplitHostPort(f)
		if err != nil {
			return nil, fmt.Errorf("bad address %q (want host:port): %v", f, err)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return nil, fmt.Errorf("bad address %q: port %q is not a number from 1 to 65535", f, port)
		}
		out = append(out, f)
	}
	return out, nil
}

// groupList is the value of --groups.
type groupList struct {
	set    bool
	groups []uint32
}

func (g *groupList) String() string {
	if g == nil || !g.set {
		return ""
	}
	return joinGroups(g.groups, ",")
}

func (g *groupList) Set(s string) error {
	groups, err := parseGroups(s)
	if err != nil {
		return err
	}
	g.set, g.groups = true, groups
	return nil
}

// parseGroups accepts "1,2,3" and the original's "1:2:3".
func parseGroups(s string) ([]uint32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty group list")
	}
	var out []uint32
	for _, f := range strings.Split(strings.ReplaceAll(s, ":", ","), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("empty group in %q", s)
		}
		g, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad group %q in %q: want a number from 0 to %d", f, s, uint32(1<<32-1))
		}
		if slices.Contains(out, uint32(g)) {
			return nil, fmt.Errorf("group %d listed twice in %q", g, s)
		}
		out = append(out, uint32(g))
	}
	return out, nil
}

func joinGroups(groups []uint32, sep string) string {
	s := make([]string, len(groups))
	for i, g := range groups {
		s[i] = strconv.FormatUint(uint64(g), 10)
	}
	return strings.Join(s, sep)
}

// checkerFlag is the value of --checker.
type checkerFlag struct{ c *client.Checker }

func (f checkerFlag) String() string {
	if f.c == nil {
		return client.CheckAtLeastOne.String()
	}
	return f.c.String()
}

func (f checkerFlag) Set(s string) error {
	c, err := client.ParseChecker(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if err != nil {
		return err
	}
	*f.c = c
	return nil
}

// cli is one invocation of the command.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	g              globals
	node           *client.Node
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	defer c.close()
	return c.run(ctx, args)
}

func (c *cli) close() {
	if c.node != nil {
		_ = c.node.Close()
	}
}

// fail reports err on stderr and returns its exit code.
func (c *cli) fail(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(c.stderr, "elliptics: %s\n", oneLine(err.Error()))
	return exitCode(err)
}

func (c *cli) run(ctx context.Context, args []string) int {
	gfs := flag.NewFlagSet("elliptics", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	gfs.Usage = func() {}
	c.g.register(gfs)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(c.stdout, gfs)
			return exitOK
		}
		return c.fail(usageErrorf("%v (see 'elliptics -h')", err))
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(c.stderr, "elliptics: no command given")
		c.usage(c.stderr, gfs)
		return exitUsage
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return c.help(rest, gfs)
	}
	cmd := findCommand(name)
	if cmd == nil {
		return c.fail(usageErrorf("unknown command %q (see 'elliptics help')", name))
	}

	// Global flags may also follow the command.
	fs := newFlagSet(cmd.name)
	act := cmd.setup(fs)
	gfs.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.commandUsage(c.stdout, cmd)
			return exitOK
		}
		return c.fail(usageErrorf("%s: %v (see 'elliptics %s -h')", cmd.name, err, cmd.name))
	}
	if len(pos) < len(cmd.args) {
		return c.fail(usageErrorf("%s: missing %s (usage: elliptics %s)", cmd.name, cmd.args[len(pos)], cmd.synopsis()))
	}
	if len(pos) > len(cmd.args)+cmd.maxMore {
		return c.fail(usageErrorf("%s: unexpected argument %q (usage: elliptics %s)", cmd.name, pos[len(cmd.args)+cmd.maxMore], cmd.synopsis()))
	}
	if c.g.timeout <= 0 {
		return c.fail(usageErrorf("--timeout must be positive, not %v", c.g.timeout))
	}
	if err := c.g.tls.setup(); err != nil {
		return c.fail(usageErrorf("%v", err))
	}
	if err := c.resolveAuth(); err != nil {
		return c.fail(err)
	}
	return c.fail(act(ctx, c, pos))
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseInterspersed parses fs's flags wherever they appear among the
// positional arguments, which it returns; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// key turns a KEY argument into a client key (a name, or a hex ID with
// --id), in the --column given.
func (c *cli) key(arg string) (client.Key, error) {
	var k client.Key
	if c.g.rawID {
		oid, err := id.Parse(arg)
		if err != nil {
			return k, usageErrorf("bad KEY for --id: %v", err)
		}
		k = client.RawKey(oid)
	} else {
		if arg == "" {
			return k, usageErrorf("empty KEY")
		}
		k = client.NewKey(arg)
	}
	return k.WithColumn(c.g.column), nil
}

// remotes returns the addresses to connect to: --remote, else
// $ELLIPTICS_REMOTE, else the default.
func (c *cli) remotes() ([]string, error) {
	if len(c.g.remotes) > 0 {
		return c.g.remotes, nil
	}
	if v, ok := c.lookupEnv(envRemote); ok && strings.TrimSpace(v) != "" {
		addrs, err := parseAddrs(v)
		if err != nil {
			return nil, usageErrorf("$%s: %v", envRemote, err)
		}
		return addrs, nil
	}
	return []string{defaultRemote}, nil
}

// newNode makes the client node of the invocation, with no remotes yet.
func (c *cli) newNode() *client.Node {
	c.node = client.NewNode(client.Config{WaitTimeout: c.g.timeout, DialTimeout: c.g.timeout, Name: "elliptics-cli",
		Proxy: c.g.proxy, Dial: c.g.tls.dial, Auth: c.g.auth.resolved})
	return c.node
}

// connect connects to the --remote nodes (at least one must answer) and
// returns their addresses.
func (c *cli) connect(ctx context.Context) ([]string, error) {
	addrs, err := c.remotes()
	if err != nil {
		return nil, err
	}
	if err := c.newNode().AddRemotes(ctx, addrs...); err != nil {
		if ctx.Err() != nil {
			return nil, &cliError{code: exitFailed, msg: "interrupted while connecting"}
		}
		if np := notPermitted(addrs, err); np != nil {
			return nil, np
		}
		why := strings.TrimPrefix(err.Error(), "no remote reachable: ")
		return nil, &cliError{code: exitUnreachable, msg: fmt.Sprintf("cannot reach %s: %s", strings.Join(addrs, ", "), why)}
	}
	return addrs, nil
}

// session connects to the cluster and returns a session set up from the
// global flags.
func (c *cli) session(ctx context.Context) (*client.Session, error) {
	addrs, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	if !c.g.groups.set && !c.g.proxy {
		// The default groups are those of the whole cluster, not only of
		// the --remote nodes: learn the other nodes first.
		if _, err := c.gather(ctx); err != nil {
			return nil, err
		}
	}
	s := client.NewSession(c.node)
	if c.g.groups.set {
		s.SetGroups(c.g.groups.groups...)
	} else {
		groups := c.node.Groups()
		if len(groups) == 0 {
			return nil, &cliError{code: exitFailed, msg: fmt.Sprintf("the nodes at %s serve no group; name some with --groups", strings.Join(addrs, ", "))}
		}
		slices.Sort(groups)
		s.SetGroups(groups...)
	}
	s.SetNamespace(c.g.namespace)
	s.SetChecker(c.g.checker)
	s.SetTimeout(c.g.timeout)
	return s, nil
}

// opFailed builds the error of a failed operation on key (what the operator
// typed; "" for none) from the client's error and the groups' entries.
func opFailed(op, key string, err error, entries []client.Entry, checker client.Checker) error {
	what := op
	if key != "" {
		what = fmt.Sprintf("%s %q", op, key)
	}
	return &opError{msg: what + ": " + failureText(err, entries, checker), err: err}
}

func failureText(err error, entries []client.Entry, checker client.Checker) string {
	var failed []client.Entry
	isEntryErr := false
	for _, e := range entries {
		if e.OK() {
			continue
		}
		failed = append(failed, e)
		if sameError(e.Err, err) {
			isEntryErr = true
		}
	}
	if len(failed) == 0 {
		return oneLine(err.Error())
	}
	allNotFound := true
	var groups []uint32
	for _, e := range failed {
		allNotFound = allNotFound && errors.Is(e.Err, status.ErrNotFound)
		groups = append(groups, e.Group)
	}
	if allNotFound && errors.Is(err, status.ErrNotFound) {
		word := "groups"
		if len(groups) == 1 {
			word = "group"
		}
		return fmt.Sprintf("not found in %s %s", word, joinGroups(groups, ", "))
	}
	parts := make([]string, len(failed))
	for i, e := range failed {
		parts[i] = fmt.Sprintf("group %d: %s", e.Group, entryError(e))
	}
	detail := strings.Join(parts, "; ")
	if isEntryErr {
		return detail
	}
	succeeded := len(entries) - len(failed)
	return fmt.Sprintf("checker %s not satisfied, %d of %d groups succeeded; %s", checker, succeeded, len(entries), detail)
}

// sameError reports whether a and b are the same error value, without
// panicking on error types that are not comparable.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

func entryError(e client.Entry) string {
	if e.Err != nil {
		return oneLine(e.Err.Error())
	}
	return e.Status.String()
}
