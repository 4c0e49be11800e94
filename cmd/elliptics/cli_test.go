package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/server"
)

// startNode starts an in-process node serving the given groups, one mem
// backend each, on a free loopback port, and returns its address.
func startNode(t *testing.T, groups ...uint32) string {
	t.Helper()
	opts := server.Options{Listen: []string{"127.0.0.1:0"}}
	for i, g := range groups {
		opts.Backends = append(opts.Backends, server.BackendSpec{ID: int32(i), Group: g, Backend: mem.New()})
	}
	s, err := server.New(opts)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s.Addrs()[0].String()
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

type outcome struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command in-process.
func runCLI(t *testing.T, stdin []byte, args ...string) outcome {
	t.Helper()
	var in *bytes.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	} else {
		in = bytes.NewReader(nil)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, in, &out, &errb)
	o := outcome{stdout: out.String(), stderr: errb.String(), code: code}
	if code != exitOK && len(args) > 0 {
		// Every failure is one line on stderr that says what failed.
		require.True(t, strings.HasPrefix(o.stderr, "elliptics: "), "stderr %q", o.stderr)
		require.Equal(t, 1, strings.Count(o.stderr, "\n"), "one line: %q", o.stderr)
	}
	return o
}

type step struct {
	name       string
	stdin      []byte
	args       []string
	code       int
	stdout     *string  // exact stdout, if set
	outHas     []string // substrings of stdout
	errHas     []string // substrings of stderr
	emptyErr   bool     // stderr must be empty
	lines      int      // number of stdout lines, if > 0
	checkAfter func(t *testing.T, o outcome)
}

func ptr(s string) *string { return &s }

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, st := range steps {
		o := runCLI(t, st.stdin, st.args...)
		require.Equal(t, st.code, o.code, "%s: %v\nstdout: %q\nstderr: %q", st.name, st.args, o.stdout, o.stderr)
		if st.stdout != nil {
			require.Equal(t, *st.stdout, o.stdout, "%s: stdout", st.name)
		}
		for _, s := range st.outHas {
			require.Contains(t, o.stdout, s, "%s: stdout", st.name)
		}
		for _, s := range st.errHas {
			require.Contains(t, o.stderr, s, "%s: stderr", st.name)
		}
		if st.emptyErr {
			require.Empty(t, o.stderr, "%s: stderr", st.name)
		}
		if st.lines > 0 {
			require.Equal(t, st.lines, strings.Count(o.stdout, "\n"), "%s: stdout lines %q", st.name, o.stdout)
		}
		if st.checkAfter != nil {
			st.checkAfter(t, o)
		}
	}
}

func TestDataCommands(t *testing.T) {
	t.Parallel()
	addr := startNode(t, 1, 2, 3)
	r := "--remote=" + addr
	dir := t.TempDir()

	payload := []byte("hello\x00world\xff\n")
	for i := 0; i < 256; i++ {
		payload = append(payload, byte(i))
	}
	inFile := filepath.Join(dir, "in.bin")
	require.NoError(t, os.WriteFile(inFile, []byte("from\x00a file"), 0o644))
	outFile := filepath.Join(dir, "out.bin")
	sum := id.Transform(payload).String()
	size := strconv.Itoa(len(payload))
	keyID, err := id.FromKey("", "bin")
	require.NoError(t, err)

	runSteps(t, []step{
		{name: "write stdin", stdin: payload, args: []string{r, "write", "bin", "-"}, lines: 3, emptyErr: true,
			outHas: []string{"1  " + addr, "2  " + addr, "3  " + addr, " ok "},
			checkAfter: func(t *testing.T, o outcome) {
				for _, l := range strings.Split(strings.TrimSpace(o.stdout), "\n") {
					f := strings.Fields(l)
					require.Len(t, f, 5, l)
					require.Equal(t, "ok", f[2])
					require.Equal(t, size, f[3], "object size")
					_, err := time.Parse(time.RFC3339Nano, f[4])
					require.NoError(t, err)
				}
			}},
		{name: "read exact bytes", args: []string{r, "read", "bin"}, stdout: ptr(string(payload)), emptyErr: true},
		{name: "read offset size", args: []string{r, "read", "--offset", "6", "--size", "5", "bin"}, stdout: ptr("world")},
		{name: "flags after key", args: []string{r, "read", "bin", "--offset=11", "--size=2"}, stdout: ptr("\xff\n")},
		{name: "global flag after command", args: []string{"read", "bin", r, "--groups", "2"}, stdout: ptr(string(payload))},
		{name: "read to file", args: []string{r, "read", "-o", outFile, "bin"}, stdout: ptr(""), emptyErr: true,
			checkAfter: func(t *testing.T, _ outcome) {
				b, err := os.ReadFile(outFile)
				require.NoError(t, err)
				require.Equal(t, payload, b)
			}},
		{name: "read verbose", args: []string{r, "read", "--verbose", "bin"}, stdout: ptr(string(payload)),
			errHas: []string{`read "bin": ` + size + ` bytes`, "group 1"}},

		{name: "write file", args: []string{r, "write", "file", inFile}, lines: 3},
		{name: "read file", args: []string{r, "read", "file"}, stdout: ptr("from\x00a file")},
		{name: "write missing file", args: []string{r, "write", "file", filepath.Join(dir, "nope")}, code: exitUsage,
			errHas: []string{"cannot read input file", "nope"}},

		{name: "write for append", stdin: []byte("abc"), args: []string{r, "write", "app", "-"}},
		{name: "append", stdin: []byte("def"), args: []string{r, "write", "--append", "app", "-"},
			outHas: []string{" 6 "}},
		{name: "offset write", stdin: []byte("XY"), args: []string{r, "write", "--offset", "1", "app", "-"}},
		{name: "read appended", args: []string{r, "read", "app"}, stdout: ptr("aXYdef")},
		{name: "append and offset", stdin: []byte("x"), args: []string{r, "write", "--append", "--offset=2", "app", "-"},
			code: exitUsage, errHas: []string{"--offset and --append"}},

		{name: "lookup checksum", args: []string{r, "lookup", "--checksum", "bin"}, emptyErr: true,
			outHas: []string{"checksum:   " + sum, "size:       " + size, "group:      1", "address:    " + addr,
				"id:         " + keyID.String(), "user flags: 0x0", "timestamp:  20"}},
		{name: "lookup no checksum", args: []string{r, "lookup", "bin"},
			checkAfter: func(t *testing.T, o outcome) { require.NotContains(t, o.stdout, "checksum") }},
		{name: "user flags", stdin: []byte("u"), args: []string{r, "write", "--user-flags", "0x2a", "uf", "-"}},
		{name: "lookup user flags", args: []string{r, "lookup", "uf"}, outHas: []string{"user flags: 0x2a"}},

		{name: "column write", stdin: []byte("meta"), args: []string{r, "--column", "m", "write", "bin", "-"}},
		{name: "column read", args: []string{r, "--column", "m", "read", "bin"}, stdout: ptr("meta")},
		{name: "default column untouched", args: []string{r, "read", "bin"}, stdout: ptr(string(payload))},

		{name: "ping", args: []string{r, "ping"}, lines: 3, outHas: []string{"1  " + addr + "  ok"}},

		{name: "remove", args: []string{r, "remove", "bin"}, lines: 3, emptyErr: true},
		{name: "read removed", args: []string{r, "read", "bin"}, code: exitNotFound, stdout: ptr(""),
			errHas: []string{`elliptics: read "bin": not found in groups 1, 2, 3`}},
		{name: "lookup removed", args: []string{r, "lookup", "bin"}, code: exitNotFound,
			errHas: []string{`lookup "bin": not found in groups 1, 2, 3`}},
		{name: "remove removed", args: []string{r, "remove", "bin"}, code: exitNotFound,
			errHas: []string{`remove "bin": not found in groups 1, 2, 3`}},
		{name: "read removed, one group", args: []string{r, "--groups", "2", "read", "bin"}, code: exitNotFound,
			errHas: []string{"not found in group 2"}},

		{name: "groups colon form", stdin: []byte("12"), args: []string{r, "--groups", "1:2", "write", "g", "-"}, lines: 2},
		{name: "not in group 3", args: []string{r, "--groups", "3", "read", "g"}, code: exitNotFound},
		{name: "read falls through to group 2", args: []string{r, "--groups", "3,2", "read", "g"}, stdout: ptr("12")},
	})
}

func TestJSON(t *testing.T) {
	t.Parallel()
	addr := startNode(t, 1, 2, 3)
	r := "--remote=" + addr
	data := []byte("json\x00data")

	decode := func(t *testing.T, s string) jsonResult {
		t.Helper()
		var res jsonResult
		require.NoError(t, json.Unmarshal([]byte(s), &res), s)
		return res
	}

	o := runCLI(t, data, r, "--json", "write", "--user-flags", "7", "k", "-")
	require.Equal(t, exitOK, o.code, o.stderr)
	res := decode(t, o.stdout)
	require.True(t, res.OK)
	require.Len(t, res.Entries, 3)
	for i, e := range res.Entries {
		require.Equal(t, uint32(i+1), e.Group)
		require.Equal(t, addr, e.Address)
		require.Zero(t, e.Status)
		require.Empty(t, e.Error)
		require.Equal(t, uint64(len(data)), e.Size)
		require.Equal(t, uint64(7), e.UserFlags)
		_, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		require.NoError(t, err)
	}

	// The documented shape, field by field.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &raw))
	require.Equal(t, true, raw["ok"])
	entry := raw["entries"].([]any)[0].(map[string]any)
	for _, f := range []string{"group", "address", "status", "error", "size", "timestamp", "user_flags", "checksum"} {
		require.Contains(t, entry, f)
	}

	o = runCLI(t, nil, r, "--json", "lookup", "--checksum", "k")
	require.Equal(t, exitOK, o.code, o.stderr)
	res = decode(t, o.stdout)
	require.True(t, res.OK)
	require.Len(t, res.Entries, 1)
	require.Equal(t, id.Transform(data).String(), res.Entries[0].Checksum)
	require.Equal(t, uint64(len(data)), res.Entries[0].Size)

	o = runCLI(t, nil, r, "--json", "remove", "k")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.True(t, decode(t, o.stdout).OK)

	o = runCLI(t, nil, r, "--json", "remove", "k")
	require.Equal(t, exitNotFound, o.code)
	res = decode(t, o.stdout)
	require.False(t, res.OK)
	require.Contains(t, res.Error, "not found")
	require.Len(t, res.Entries, 3)
	require.Equal(t, int32(-2), res.Entries[0].Status)
	require.NotEmpty(t, res.Entries[0].Error)

	o = runCLI(t, nil, r, "--json", "lookup", "k")
	require.Equal(t, exitNotFound, o.code)
	require.False(t, decode(t, o.stdout).OK)

	o = runCLI(t, nil, r, "--json", "ping")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Len(t, decode(t, o.stdout).Entries, 3)

	o = runCLI(t, nil, "--json", "--namespace", "ns", "id", "k")
	require.Equal(t, exitOK, o.code, o.stderr)
	var idOut map[string]string
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &idOut))
	want, _ := id.FromKey("ns", "k")
	require.Equal(t, want.String(), idOut["id"])
}

func TestIDAndNamespaces(t *testing.T) {
	t.Parallel()
	addr := startNode(t, 1, 2)
	r := "--remote=" + addr

	plain, _ := id.FromKey("", "k")
	inA, _ := id.FromKey("a", "k")
	runSteps(t, []step{
		{name: "id without a node", args: []string{"--remote", deadAddr(t), "id", "k"}, stdout: ptr(plain.String() + "\n")},
		{name: "id in namespace", args: []string{"--namespace", "a", "id", "k"}, stdout: ptr(inA.String() + "\n")},
		{name: "id of hex id pads", args: []string{"--id", "id", "abc"}, stdout: ptr("abc0" + strings.Repeat("0", 124) + "\n")},

		{name: "write a", stdin: []byte("A"), args: []string{r, "--namespace", "a", "write", "k", "-"}},
		{name: "b does not see a", args: []string{r, "--namespace", "b", "read", "k"}, code: exitNotFound},
		{name: "no namespace does not see a", args: []string{r, "read", "k"}, code: exitNotFound},
		{name: "write b", stdin: []byte("B"), args: []string{r, "--namespace", "b", "write", "k", "-"}},
		{name: "read a", args: []string{r, "--namespace", "a", "read", "k"}, stdout: ptr("A")},
		{name: "read b", args: []string{r, "--namespace=b", "read", "k"}, stdout: ptr("B")},

		{name: "read by hex id", args: []string{r, "--id", "read", inA.String()}, stdout: ptr("A")},
		{name: "lookup by hex id", args: []string{r, "--id", "lookup", inA.String()}, outHas: []string{"size:       1"}},
		{name: "write by short id", stdin: []byte("raw"), args: []string{r, "--id", "write", "abcd", "-"}},
		{name: "read by padded id", args: []string{r, "--id", "read", "abcd00000"}, stdout: ptr("raw")},
		{name: "short id is not the name", args: []string{r, "read", "abcd"}, code: exitNotFound},
		{name: "bad hex id", args: []string{r, "--id", "read", "xyz"}, code: exitUsage, errHas: []string{"--id"}},
		{name: "too long id", args: []string{r, "--id", "read", strings.Repeat("a", 130)}, code: exitUsage},
	})
}

func TestUsage(t *testing.T) {
	t.Parallel()
	addr := startNode(t, 1)
	r := "--remote=" + addr
	runSteps(t, []step{
		{name: "help", args: []string{"help"}, outHas: []string{"write KEY FILE|-", "read KEY", "lookup KEY",
			"remove KEY", "ping", "id KEY", "Exit codes", "3  key not found", "4  timeout", "--groups", "--checker"}, emptyErr: true},
		{name: "-h", args: []string{"-h"}, outHas: []string{"Usage: elliptics", "Commands:"}},
		{name: "--help", args: []string{"--help"}, outHas: []string{"Usage: elliptics"}},
		{name: "command -h", args: []string{"write", "-h"}, outHas: []string{"--offset N", "--append", "--user-flags N"},
			checkAfter: func(t *testing.T, o outcome) { require.NotContains(t, o.stdout, "--namespace") }},
		{name: "read -h", args: []string{"read", "--help"}, outHas: []string{"-o FILE", "--size N", "--verbose"}},
		{name: "help command", args: []string{"help", "lookup"}, outHas: []string{"--checksum"}},
		{name: "help unknown", args: []string{"help", "nope"}, code: exitUsage},

		{name: "unknown command", args: []string{r, "frobnicate"}, code: exitUsage, errHas: []string{`unknown command "frobnicate"`}},
		{name: "bad global flag", args: []string{"--bogus", "ping"}, code: exitUsage, errHas: []string{"bogus"}},
		{name: "bad command flag", args: []string{r, "read", "--bogus", "k"}, code: exitUsage, errHas: []string{"read:", "bogus"}},
		{name: "bad flag value", args: []string{r, "read", "--offset", "x", "k"}, code: exitUsage},
		{name: "missing key", args: []string{r, "read"}, code: exitUsage, errHas: []string{"missing KEY"}},
		{name: "missing file", args: []string{r, "write", "k"}, code: exitUsage, errHas: []string{"missing FILE|-"}},
		{name: "missing both", args: []string{r, "write"}, code: exitUsage},
		{name: "extra argument", args: []string{r, "read", "a", "b"}, code: exitUsage, errHas: []string{`unexpected argument "b"`}},
		{name: "ping takes none", args: []string{r, "ping", "x"}, code: exitUsage},
		{name: "empty key", args: []string{r, "read", ""}, code: exitUsage},
		{name: "key after --", args: []string{r, "read", "--", "-k"}, code: exitNotFound},
		{name: "bad checker", args: []string{r, "--checker", "most", "ping"}, code: exitUsage, errHas: []string{"most"}},
		{name: "checker with dashes", args: []string{r, "--checker", "at-least-one", "ping"}},
		{name: "bad timeout", args: []string{r, "--timeout", "0s", "ping"}, code: exitUsage},
		{name: "bad remote", args: []string{"--remote", "nohost", "ping"}, code: exitUsage, errHas: []string{"nohost"}},
		{name: "bad remote port", args: []string{"--remote", "h:99999", "ping"}, code: exitUsage},
	})

	// Every command's help works: its flags do not clash with the global
	// ones (the flag package panics on a name defined twice).
	for _, cmd := range commands {
		o := runCLI(t, nil, cmd.name, "-h")
		require.Equal(t, exitOK, o.code, "%s -h: %s", cmd.name, o.stderr)
		require.Contains(t, o.stdout, cmd.name, "%s -h", cmd.name)
	}

	for _, groups := range []string{"", "1,x", "1,,2", "-1", "1,1", "1;2", "4294967296", " , "} {
		o := runCLI(t, nil, r, "--groups", groups, "ping")
		require.Equal(t, exitUsage, o.code, "--groups %q: %s", groups, o.stderr)
		require.Contains(t, o.stderr, "groups", "--groups %q", groups)
	}

	// No command prints the usage on stderr.
	var out, errb bytes.Buffer
	require.Equal(t, exitUsage, run(context.Background(), nil, nil, &out, &errb))
	require.Empty(t, out.String())
	require.Contains(t, errb.String(), "no command given")
	require.Contains(t, errb.String(), "Commands:")
}

func TestGroupWithoutNode(t *testing.T) {
	t.Parallel()
	addr := startNode(t, 1, 2)
	r := "--remote=" + addr
	runSteps(t, []step{
		{name: "checker all fails", stdin: []byte("v"), args: []string{r, "--groups", "1,2,3", "--checker", "all", "write", "k", "-"},
			code: exitFailed, lines: 3, outHas: []string{"3  -", "failed"},
			errHas: []string{`write "k": checker all not satisfied, 2 of 3 groups succeeded; group 3: `, "serves group 3"}},
		{name: "at_least_one passes", stdin: []byte("v"), args: []string{r, "--groups", "1,2,3", "--checker", "at_least_one", "write", "k", "-"},
			lines: 3, emptyErr: true, outHas: []string{"1  " + addr + "  ok", "3  -", "failed"}},
		{name: "default checker passes", stdin: []byte("v"), args: []string{r, "--groups", "3,1", "write", "k", "-"}},
		{name: "quorum passes", stdin: []byte("v"), args: []string{r, "--groups", "1,2,3", "--checker", "quorum", "write", "k", "-"}},
		{name: "quorum fails", stdin: []byte("v"), args: []string{r, "--groups", "1,3,4", "--checker", "quorum", "write", "k", "-"},
			code: exitFailed},
		{name: "only missing group", stdin: []byte("v"), args: []string{r, "--groups", "7", "--checker", "all", "write", "x", "-"},
			code: exitFailed, errHas: []string{`write "x": group 7: `}},
		{name: "read skips missing group", args: []string{r, "--groups", "3,2", "read", "k"}, stdout: ptr("v")},
		{name: "read only missing group", args: []string{r, "--groups", "3", "read", "k"}, code: exitFailed,
			errHas: []string{`read "k": group 3: `}},
		{name: "ping missing group", args: []string{r, "--groups", "1,3", "ping"}, code: exitFailed, lines: 2},
		{name: "remove all fails", args: []string{r, "--groups", "1,2,3", "--checker", "all", "remove", "k"}, code: exitFailed},
		{name: "json failure", stdin: []byte("v"), args: []string{r, "--json", "--groups", "1,2,3", "--checker", "all", "write", "k", "-"},
			code: exitFailed, checkAfter: func(t *testing.T, o outcome) {
				var res jsonResult
				require.NoError(t, json.Unmarshal([]byte(o.stdout), &res))
				require.False(t, res.OK)
				require.Len(t, res.Entries, 3)
				require.Zero(t, res.Entries[0].Status)
				require.Equal(t, int32(-6), res.Entries[2].Status)
				require.Contains(t, res.Entries[2].Error, "group 3")
			}},
	})
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	dead := deadAddr(t)
	for _, args := range [][]string{
		{"--remote", dead, "read", "k"},
		{"--remote", dead, "write", "k", "-"},
		{"--remote=" + dead, "--json", "lookup", "k"},
		{"--remote", dead, "ping"},
	} {
		o := runCLI(t, []byte("v"), args...)
		require.Equal(t, exitUnreachable, o.code, "%v: %s", args, o.stderr)
		require.Contains(t, o.stderr, "elliptics: cannot reach "+dead+": ")
		require.Contains(t, o.stderr, "refused")
		require.Empty(t, o.stdout)
	}

	// Usage errors win over connecting.
	o := runCLI(t, nil, "--remote", dead, "write", "k", filepath.Join(t.TempDir(), "missing"))
	require.Equal(t, exitUsage, o.code)

	// A node that accepts but never answers: a timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	start := time.Now()
	o = runCLI(t, nil, "--remote", ln.Addr().String(), "--timeout", "200ms", "ping")
	require.Equal(t, exitUnreachable, o.code, o.stderr)
	require.Contains(t, o.stderr, "timed out")
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestSeveralRemotes(t *testing.T) {
	a12 := startNode(t, 1, 2)
	a3 := startNode(t, 3)
	dead := deadAddr(t)
	runSteps(t, []step{
		{name: "comma list", stdin: []byte("v"), args: []string{"--remote", a12 + "," + a3, "--checker", "all", "write", "k", "-"},
			lines: 3, outHas: []string{"3  " + a3 + "  ok"}},
		{name: "repeated, one dead", args: []string{"--remote", dead, "--remote", a3, "--groups", "3", "read", "k"}, stdout: ptr("v")},
		{name: "default groups of every node", args: []string{"--remote", a3 + ", " + a12, "ping"}, lines: 3,
			outHas: []string{"1  " + a12, "3  " + a3}},
	})

	// $ELLIPTICS_REMOTE stands in for --remote; the flag wins.
	t.Setenv(envRemote, a12)
	runSteps(t, []step{
		{name: "env remote", args: []string{"read", "k"}, stdout: ptr("v")},
		{name: "flag beats env", args: []string{"--remote", dead, "read", "k"}, code: exitUnreachable},
	})
	t.Setenv(envRemote, "bad")
	runSteps(t, []step{
		{name: "bad env remote", args: []string{"read", "k"}, code: exitUsage, errHas: []string{envRemote}},
		{name: "id ignores env", args: []string{"id", "k"}},
	})
}
