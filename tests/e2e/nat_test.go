package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
)

// The NAT topology, built only from network namespaces this test creates
// (the root namespace's links and routes are never touched):
//
//	ell-sw-ID: bridge br0 joining p1, p2, p3          node network 10.231.0.0/24
//	ell-n1-ID: eth0 10.231.0.1 (to br0), eth1 10.232.0.1 (to the client)
//	ell-n2-ID: eth0 10.231.0.2 (to br0)
//	ell-n3-ID: eth0 10.231.0.3 (to br0)
//	ell-c-ID:  eth0 10.232.0.2 (to n1 only)           client network 10.232.0.0/24
//
// The client namespace has no route to 10.231.0.0/24 (and n1 does not
// forward IP packets), so it reaches n2 and n3 only through elliptics
// forwarding on n1. Every namespace has its own port space, so each node
// listens on the same port.
const (
	natPort       = "1025"
	natNodeNet    = "10.231.0."
	natClientNet  = "10.232.0."
	natN1OnClient = natClientNet + "1:" + natPort
	natCmdTimeout = 10 * time.Second // any single ip or CLI command
)

var natSeq atomic.Int32 // unique names when the test runs more than once (-count)

// natStale matches the namespaces of this test; the number after the role
// is the pid of the test process that created them.
var natStale = regexp.MustCompile(`^ell-(sw|c|n[0-9])-([0-9]+)-[0-9]+$`)

// TestNATClientThroughOneNode is the NAT test: a client namespace
// with a route to one node only, three nodes (groups 1, 2 and 3) in other
// namespaces, and every key readable and writable from the client with the
// real CLI, so requests for groups 2 and 3 must be forwarded by node 1.
func TestNATClientThroughOneNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) to create network namespaces")
	}
	sweepStaleNATNamespaces(t)

	id := fmt.Sprintf("%d-%d", os.Getpid(), natSeq.Add(1))
	ns := func(role string) string { return "ell-" + role + "-" + id }
	sw, cl := ns("sw"), ns("c")
	nodeNS := []string{ns("n1"), ns("n2"), ns("n3")}

	// Namespaces: the first one tells whether we may create them at all.
	// Deleting a namespace destroys the links inside it (and the peer end
	// of each veth pair); daemons are killed before, by their own cleanups
	// (registered later, so run earlier).
	for i, name := range append([]string{sw, cl}, nodeNS...) {
		if out, err := runIP("netns", "add", name); err != nil {
			if i == 0 {
				t.Skipf("cannot create network namespaces (ip netns add: %v: %s)", err, out)
			}
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() {
			if out, err := runIP("netns", "delete", name); err != nil {
				t.Errorf("cleanup: ip netns delete %s: %v: %s", name, err, out)
			}
		})
	}
	for _, name := range append([]string{sw, cl}, nodeNS...) {
		mustIP(t, "-n", name, "link", "set", "lo", "up")
	}
	// The node network: a bridge inside the switch namespace.
	if out, err := runIP("-n", sw, "link", "add", "br0", "type", "bridge"); err != nil {
		t.Skipf("cannot create a bridge in a network namespace: %v: %s", err, out)
	}
	mustIP(t, "-n", sw, "link", "set", "br0", "up")
	for i, n := range nodeNS {
		port := fmt.Sprintf("p%d", i+1)
		if out, err := runIP("-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", n); err != nil {
			if i == 0 {
				t.Skipf("cannot create veth pairs: %v: %s", err, out)
			}
			t.Fatalf("veth %s: %v: %s", port, err, out)
		}
		mustIP(t, "-n", sw, "link", "set", port, "master", "br0")
		mustIP(t, "-n", sw, "link", "set", port, "up")
		mustIP(t, "-n", n, "addr", "add", natNodeNet+strconv.Itoa(i+1)+"/24", "dev", "eth0")
		mustIP(t, "-n", n, "link", "set", "eth0", "up")
	}
	// The client network: one veth pair between n1 and the client.
	mustIP(t, "-n", nodeNS[0], "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", cl)
	mustIP(t, "-n", nodeNS[0], "addr", "add", natClientNet+"1/24", "dev", "eth1")
	mustIP(t, "-n", nodeNS[0], "link", "set", "eth1", "up")
	mustIP(t, "-n", cl, "addr", "add", natClientNet+"2/24", "dev", "eth0")
	mustIP(t, "-n", cl, "link", "set", "eth0", "up")
	out, err := runIP("-n", cl, "route", "get", natNodeNet+"2")
	require.Error(t, err, "the client namespace must have no route to the node network: %s", out)

	// Nodes: node i serves group i and listens on every address of its
	// namespace; n2 and n3 join through n1's node-network address.
	nodeAddr := func(i int) string { return natNodeNet + strconv.Itoa(i+1) + ":" + natPort }
	daemons := make([]*daemon, len(nodeNS))
	dataDirs := make([]string, len(nodeNS))
	startNode := func(i int) {
		dir := t.TempDir()
		dataDirs[i] = filepath.Join(dir, "data")
		remotes := ""
		if i > 0 {
			remotes = fmt.Sprintf("remotes = [%q]", nodeAddr(0))
		}
		conf := filepath.Join(dir, "node.toml")
		require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[node]
listen = ["0.0.0.0:%s"]
%s
data_dir = %q
log_level = "info"

[[backend]]
group = %d
type = "blob"
sync = "none"
`, natPort, remotes, dataDirs[i], i+1)), 0o644))
		daemons[i] = startDaemonIn(t, dir, []string{"ip", "netns", "exec", nodeNS[i]}, "--config", conf)
	}
	dumpLogs := func() {
		if t.Failed() {
			for i, d := range daemons {
				if d != nil {
					t.Logf("ellipticsd n%d stderr:\n%s", i+1, d.stderr)
				}
			}
		}
	}
	t.Cleanup(dumpLogs) // runs after the daemons are killed

	for i := range nodeNS {
		startNode(i) // n1 first: the others join through it
	}

	// Converged: a Go client inside n1's namespace, given n1 only, sees
	// all three groups. It learns n2 and n3 from n1's member list, which
	// lists only the nodes n1 has connected to and placed in its table.
	// (The CLI cannot tell: it acts before it has learnt other nodes.)
	natWaitRoutes(t, nodeNS[0], nodeAddr(0), 3, 20*time.Second)

	// The client cannot reach n2 (or n3) itself.
	o, e, code := natCLI(t, cl, nil, "--remote", nodeAddr(1), "--timeout", "2s", "ping")
	require.Equal(t, 4, code, "ping n2 directly from the client must fail as unreachable\nstdout:\n%s\nstderr:\n%s", o, e)
	require.Contains(t, e, "cannot reach", "stderr of the direct ping")

	viaN1 := []string{"--remote", natN1OnClient, "--groups", "1,2,3", "--checker", "all", "--timeout", "3s"}
	cliArgs := func(extra ...string) []string { return append(append([]string{}, viaN1...), extra...) }
	o, e, code = natCLI(t, cl, nil, cliArgs("ping")...)
	require.Equal(t, 0, code, "ping of every group from the client through n1\nstdout:\n%s\nstderr:\n%s", o, e)

	// Write 30 keys from the client: every group must store every key.
	const keys = 30
	key := func(i int) string { return fmt.Sprintf("nat-key-%d", i) }
	value := func(i int) []byte {
		v := []byte(fmt.Sprintf("nat-value-%d:", i))
		for b := 0; b < 64+i; b++ {
			v = append(v, byte(b*7+i)) // binary bytes, 0x00 and 0xff included
		}
		return v
	}
	n1OnNodeNet := nodeAddr(0)
	for i := 0; i < keys; i++ {
		o, e, code := natCLI(t, cl, value(i), cliArgs("--json", "write", key(i), "-")...)
		require.Equal(t, 0, code, "write %s from the client\nstdout:\n%s\nstderr:\n%s", key(i), o, e)
		var res natResult
		require.NoError(t, json.Unmarshal([]byte(o), &res), "write JSON: %s", o)
		require.True(t, res.OK, "write %s: %s", key(i), o)
		require.Len(t, res.Entries, 3, "write %s: %s", key(i), o)
		for g, en := range res.Entries {
			require.Equal(t, uint32(g+1), en.Group, "write %s: %s", key(i), o)
			require.Zero(t, en.Status, "write %s group %d: %s", key(i), en.Group, o)
		}
		if i == 0 {
			t.Logf("write %s from the client: %s", key(i), strings.TrimSpace(o))
		}
	}

	// Read every key back from each group separately (a read stops at the
	// first group that has the key), and look up where groups 2 and 3
	// keep it: on n2 and n3, which the client cannot reach.
	for i := 0; i < keys; i++ {
		for g := 1; g <= 3; g++ {
			args := append(cliArgs("--groups", strconv.Itoa(g)), "read", key(i))
			o, e, code := natCLI(t, cl, nil, args...)
			require.Equal(t, 0, code, "read %s from group %d\nstderr:\n%s", key(i), g, e)
			require.Equal(t, value(i), []byte(o), "read %s from group %d: exact bytes", key(i), g)
		}
		for g := 2; g <= 3; g++ {
			args := append(cliArgs("--groups", strconv.Itoa(g)), "--json", "lookup", key(i))
			o, e, code := natCLI(t, cl, nil, args...)
			require.Equal(t, 0, code, "lookup %s in group %d\nstdout:\n%s\nstderr:\n%s", key(i), g, o, e)
			var res natResult
			require.NoError(t, json.Unmarshal([]byte(o), &res), "lookup JSON: %s", o)
			require.True(t, res.OK, "lookup %s: %s", key(i), o)
			require.Len(t, res.Entries, 1, "lookup %s: %s", key(i), o)
			en := res.Entries[0]
			require.Equal(t, uint32(g), en.Group, "lookup %s: %s", key(i), o)
			require.Equal(t, uint64(len(value(i))), en.Size, "lookup %s: %s", key(i), o)
			// The address names the node that stores the key: a concrete
			// address, not n1's nor an unspecified one.
			host, _, err := net.SplitHostPort(en.Address)
			require.NoError(t, err, "lookup %s in group %d: address: %s", key(i), g, o)
			ip := net.ParseIP(host)
			require.False(t, host == "" || ip != nil && ip.IsUnspecified(),
				"lookup %s in group %d: unspecified address %q, the operator cannot tell which node has the key: %s", key(i), g, en.Address, o)
			require.NotContains(t, []string{natN1OnClient, n1OnNodeNet}, en.Address,
				"lookup %s in group %d names n1, not the node that stores it: %s", key(i), g, o)
			require.True(t, strings.HasPrefix(en.Path, dataDirs[g-1]+string(filepath.Separator)),
				"lookup %s in group %d: path %q not in n%d's data directory %s", key(i), g, en.Path, g, dataDirs[g-1])
			if i == 0 {
				t.Logf("lookup %s in group %d from the client: %s", key(i), g, strings.TrimSpace(o))
			}
		}
	}

	// The data really is on n2 and n3: ask them directly from the node
	// network (n1's namespace).
	for i := 1; i < len(nodeNS); i++ {
		o, e, code := natCLI(t, nodeNS[0], nil, "--remote", nodeAddr(i), "--json", "backend", "list")
		require.Equal(t, 0, code, "backend list on n%d\nstdout:\n%s\nstderr:\n%s", i+1, o, e)
		var bl struct {
			Nodes []struct {
				Backends []struct {
					Group   uint32 `json:"group"`
					Records uint64 `json:"records"`
				} `json:"backends"`
			} `json:"nodes"`
		}
		require.NoError(t, json.Unmarshal([]byte(o), &bl), "backend list JSON: %s", o)
		require.Len(t, bl.Nodes, 1, o)
		require.Len(t, bl.Nodes[0].Backends, 1, o)
		require.Equal(t, uint32(i+1), bl.Nodes[0].Backends[0].Group, o)
		require.Equal(t, uint64(keys), bl.Nodes[0].Backends[0].Records, "records on n%d: %s", i+1, o)
	}

	// ID ranges and iterators on n2 and n3 stream through n1, which
	// relays every entry (FlagRelay): counts and reads with limits, an
	// iterator, iterator control by id, a removal.
	natRange := func(g int, extra ...string) (string, string, int) {
		args := append(cliArgs("--groups", strconv.Itoa(g)), append([]string{"range"}, extra...)...)
		return natCLI(t, cl, nil, args...)
	}
	for g := 1; g <= 3; g++ {
		o, e, code := natRange(g, "count", "0", "max")
		require.Equal(t, 0, code, "range count in group %d\nstdout:\n%s\nstderr:\n%s", g, o, e)
		require.Equal(t, fmt.Sprintf("%d\n", keys), o, "range count in group %d", g)
		o, e, code = natRange(g, "read", "0", "max", "--limit-start", "5", "--limit-num", "10", "--data")
		require.Equal(t, 0, code, "range read in group %d\nstderr:\n%s", g, e)
		lines := strings.Split(strings.TrimSpace(o), "\n")
		require.Len(t, lines, 10, "range read in group %d: %s", g, o)
		for _, l := range lines {
			require.Contains(t, l, `"nat-value-`, "range read in group %d: data relayed: %s", g, l)
		}
	}
	n3 := nodeAddr(2)
	o, e, code = natCLI(t, cl, nil, cliArgs("iterate", "--address", n3, "--backend", "0", "--data")...)
	require.Equal(t, 0, code, "iterate n3 from the client\nstdout:\n%s\nstderr:\n%s", o, e)
	require.Equal(t, keys, strings.Count(o, "\n"), "iterate n3: one line per record: %s", o)
	require.Contains(t, e, "iterator ", "iterate names its iterator: %s", e)
	require.Contains(t, e, " started on "+n3+" backend 0", "iterate names its node: %s", e)
	require.Contains(t, e, fmt.Sprintf("finished, %d of %d", keys, keys), "iterate summary: %s", e)
	o, e, code = natCLI(t, cl, nil, cliArgs("iterator", "pause", n3, "987654")...)
	require.Equal(t, 3, code, "pausing an unknown iterator on n3: not found\nstdout:\n%s\nstderr:\n%s", o, e)
	require.Contains(t, e, "relay ITERATOR to "+n3, "the control went to n3 through n1: %s", e)
	require.Contains(t, e, "iterator 987654 not found", "n3's answer: %s", e)
	o, e, code = natRange(3, "remove", "0", "max", "--limit-num", "4")
	require.Equal(t, 0, code, "range remove in group 3\nstdout:\n%s\nstderr:\n%s", o, e)
	require.Equal(t, "4\n", o, "range remove in group 3")
	o, e, code = natRange(3, "count", "0", "max")
	require.Equal(t, 0, code, "range count in group 3 after the removal\nstderr:\n%s", e)
	require.Equal(t, fmt.Sprintf("%d\n", keys-4), o, "range count in group 3 after the removal")

	// A real NAT does not answer with "network unreachable": packets to
	// the nodes' private addresses vanish. Give the client a default
	// route through n1 and let n1 route IP, while n2 and n3 have no route
	// back: a SYN to n2 arrives, its SYN-ACK is dropped, and a dial hangs
	// until it times out. Requests must still go through n1 within their
	// timeout, not wait for a dial to an owner that never answers.
	mustIP(t, "-n", cl, "route", "add", "default", "via", natClientNet+"1")
	mustRun(t, "ip", "netns", "exec", nodeNS[0], "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	start := time.Now()
	o, e, code = natCLI(t, cl, nil, "--remote", nodeAddr(1), "--timeout", "1s", "ping")
	require.Equal(t, 4, code, "with a default route, n2 still must not answer the client\nstdout:\n%s\nstderr:\n%s", o, e)
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond,
		"the dial to n2 should time out (packets dropped), not fail at once: %s", e)
	const quietTimeout = 3 * time.Second
	quiet := []string{"--remote", natN1OnClient, "--checker", "all", "--timeout", quietTimeout.String()}
	for i := 0; i < 5; i++ {
		k, v := fmt.Sprintf("nat-quiet-%d", i), value(100+i)
		start := time.Now()
		o, e, code := natCLI(t, cl, v, append(quiet, "--groups", "1,2,3", "write", k, "-")...)
		took := time.Since(start)
		require.Equal(t, 0, code, "write %s when dials to n2/n3 hang\nstdout:\n%s\nstderr:\n%s", k, o, e)
		require.Less(t, took, quietTimeout, "write %s waited for a dial that cannot succeed", k)
		for g := 1; g <= 3; g++ {
			start := time.Now()
			o, e, code := natCLI(t, cl, nil, append(quiet, "--groups", strconv.Itoa(g), "range", "count", "0", "max")...)
			took := time.Since(start)
			require.Equal(t, 0, code, "range count in group %d when dials to n2/n3 hang\nstderr:\n%s", g, e)
			require.NotEqual(t, "0\n", o, "range count in group %d", g)
			require.Less(t, took, quietTimeout, "range count in group %d waited for a dial that cannot succeed", g)
			start = time.Now()
			o, e, code = natCLI(t, cl, nil, append(quiet, "--groups", strconv.Itoa(g), "read", k)...)
			took = time.Since(start)
			require.Equal(t, 0, code, "read %s from group %d when dials to n2/n3 hang\nstderr:\n%s", k, g, e)
			require.Equal(t, v, []byte(o), "read %s from group %d: exact bytes", k, g)
			require.Less(t, took, quietTimeout, "read %s from group %d waited for a dial that cannot succeed", k, g)
		}
	}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natCmdTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// natResult is the --json output of write, lookup and ping.
type natResult struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Entries []struct {
		Group   uint32 `json:"group"`
		Address string `json:"address"`
		Status  int32  `json:"status"`
		Error   string `json:"error"`
		Size    uint64 `json:"size"`
		Path    string `json:"path"`
	} `json:"entries"`
}

// runIP runs the ip command, bounded by natCmdTimeout.
func runIP(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), natCmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := runIP(args...); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// sweepStaleNATNamespaces deletes the namespaces of earlier runs of this
// test whose process is gone (killed by a go test timeout, which skips
// cleanups). Only names this test makes are considered.
func sweepStaleNATNamespaces(t *testing.T) {
	out, err := runIP("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		m := natStale.FindStringSubmatch(fields[0])
		if m == nil || m[2] == strconv.Itoa(os.Getpid()) {
			continue
		}
		if _, err := os.Stat("/proc/" + m[2]); err == nil {
			continue // its test is still running
		}
		if out, err := runIP("netns", "delete", fields[0]); err != nil {
			t.Logf("delete stale namespace %s: %v: %s", fields[0], err, out)
		}
	}
}

// natCLI runs the elliptics CLI inside network namespace ns and returns
// stdout, stderr and the exit code. A CLI that does not finish within
// natCmdTimeout fails the test.
func natCLI(t *testing.T, ns string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, filepath.Join(binDir, "elliptics")}, args...)...)
	cmd.WaitDelay = time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("elliptics %s (in %s) did not finish within %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), ns, natCmdTimeout, out.String(), errb.String())
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "run elliptics: %v", err)
		code = ee.ExitCode()
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("slow: elliptics %s (in %s) took %v", strings.Join(args, " "), ns, d.Round(time.Millisecond))
	}
	return out.String(), errb.String(), code
}

// The test binary doubles as a small Go client run inside a namespace
// (the test process itself stays in the root namespace): with
// natHelperEnv set to "ADDR GROUPS TIMEOUT" it connects to ADDR, waits
// until its route table has GROUPS groups, prints the table and exits.
const natHelperEnv = "ELLIPTICS_E2E_NAT_WAIT_ROUTES"

func init() {
	if spec := os.Getenv(natHelperEnv); spec != "" {
		os.Exit(natWaitRoutesHelper(spec))
	}
}

func natWaitRoutesHelper(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 3 {
		fmt.Fprintf(os.Stderr, "%s=%q: want ADDR GROUPS TIMEOUT\n", natHelperEnv, spec)
		return 2
	}
	addr := f[0]
	groups, err1 := strconv.Atoi(f[1])
	timeout, err2 := time.ParseDuration(f[2])
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", natHelperEnv, spec, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n := client.NewNode(client.Config{WaitTimeout: 2 * time.Second, DialTimeout: 2 * time.Second})
	defer n.Close()
	for {
		err := n.AddRemotes(ctx, addr)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "connect to %s: %v\n", addr, err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	err := n.WaitRoutes(ctx, func(tb *route.Table) bool { return len(tb.Groups()) == groups })
	fmt.Printf("%v, groups %v\n", n.Table(), n.Groups())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// natWaitRoutes runs the helper in namespace ns and fails the test if a
// client there, connected to addr only, does not learn groups groups.
func natWaitRoutes(t *testing.T, ns, addr string, groups int, timeout time.Duration) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", natHelperEnv, addr, groups, timeout))
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "a client in %s connected to %s did not learn %d groups: %s", ns, addr, groups, out)
	t.Logf("cluster converged, seen from %s: %s", ns, strings.TrimSpace(string(out)))
}
