package main

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server"
)

// point returns the ring point whose first byte is b, the rest zero.
func point(b byte) id.ID {
	var p id.ID
	p[0] = b
	return p
}

// startServer starts an in-process node with the given backends (mem
// storage) that joins remotes; before runs ahead of Start (to replace
// handlers).
func startServer(t *testing.T, remotes []string, before func(*server.Server), specs ...server.BackendSpec) *server.Server {
	t.Helper()
	for i := range specs {
		specs[i].Backend = mem.New()
	}
	s, err := server.New(server.Options{Listen: []string{"127.0.0.1:0"}, Backends: specs, Remotes: remotes})
	require.NoError(t, err)
	if before != nil {
		before(s)
	}
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func addrOf(s *server.Server) string { return s.Addrs()[0].String() }

// startPair starts a cluster of two nodes and waits until both see all
// three backends. Node a serves group 1 (backend 0, one ring point at
// 00..., so a quarter of the ring) and group 2 (backend 1, the default 16
// random points); node b joins a and serves group 1 (backend 0, one point
// at 40..., the other three quarters).
func startPair(t *testing.T) (a, b *server.Server) {
	t.Helper()
	a = startServer(t, nil, nil,
		server.BackendSpec{ID: 0, Group: 1, Points: []id.ID{point(0x00)}},
		server.BackendSpec{ID: 1, Group: 2})
	b = startServer(t, []string{addrOf(a)}, nil, server.BackendSpec{ID: 0, Group: 1, Points: []id.ID{point(0x40)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []*server.Server{a, b} {
		require.NoError(t, s.Peers().WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == 3 }),
			"cluster did not form: %v", s.Table())
	}
	return a, b
}

// table splits tabular output into the fields of each line, header first.
func table(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	A, B := addrOf(a), addrOf(b)
	group1 := [][]string{{"1", "0", A, "1", "25.00%"}, {"1", "0", B, "1", "75.00%"}}
	if B < A {
		group1[0], group1[1] = group1[1], group1[0]
	}
	want := append([][]string{{"GROUP", "BACKEND", "ADDRESS", "POINTS", "SHARE"}}, group1...)
	want = append(want, []string{"2", "1", A, "16", "100.00%"})

	o := runCLI(t, nil, "--remote", A, "routes")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Empty(t, o.stderr)
	require.Equal(t, want, table(t, o.stdout), o.stdout)

	// Asking the other node gives the same ring: the client learns a from b.
	o2 := runCLI(t, nil, "--remote", B, "routes")
	require.Equal(t, exitOK, o2.code, o2.stderr)
	require.Equal(t, o.stdout, o2.stdout)

	o = runCLI(t, nil, "--remote", A, "--json", "routes")
	require.Equal(t, exitOK, o.code, o.stderr)
	var res jsonRoutes
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
	require.True(t, res.OK)
	require.Empty(t, res.Error)
	require.Empty(t, res.Unreachable)
	require.NotZero(t, res.Version)
	require.Len(t, res.Routes, 3)
	sums := map[uint32]float64{}
	for i, r := range res.Routes {
		require.Equal(t, want[i+1][2], r.Address)
		sums[r.Group] += r.SharePercent
		require.False(t, r.ReadOnly)
	}
	require.InDelta(t, 25.0, res.Routes[slicesIndex(res.Routes, A, 1)].SharePercent, 1e-9)
	require.InDelta(t, 100.0, sums[1], 1e-9)
	require.InDelta(t, 100.0, sums[2], 1e-9)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &raw))
	for _, f := range []string{"ok", "version", "routes", "unreachable"} {
		require.Contains(t, raw, f)
	}
	for _, f := range []string{"group", "backend", "address", "points", "share_percent", "read_only"} {
		require.Contains(t, raw["routes"].([]any)[0].(map[string]any), f)
	}

	runSteps(t, []step{
		{name: "one group", args: []string{"--remote", A, "routes", "--group", "2"}, lines: 2, emptyErr: true,
			outHas: []string{"100.00%"}},
		{name: "group before command", args: []string{"--remote", A, "routes", "--group=1"}, lines: 3,
			checkAfter: func(t *testing.T, o outcome) { require.Equal(t, want[:3], table(t, o.stdout)) }},
		{name: "unknown group", args: []string{"--remote", A, "routes", "--group", "9"}, code: exitFailed, stdout: ptr(""),
			errHas: []string{"no backend of group 9 in the route table (groups: 1, 2)"}},
		{name: "unknown group json", args: []string{"--remote", A, "--json", "routes", "--group", "9"}, code: exitFailed,
			checkAfter: func(t *testing.T, o outcome) {
				var res jsonRoutes
				require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
				require.False(t, res.OK)
				require.Contains(t, res.Error, "group 9")
				require.NotNil(t, res.Routes)
				require.Empty(t, res.Routes)
			}},
		{name: "group zero", args: []string{"--remote", A, "routes", "--group", "0"}, code: exitUsage, errHas: []string{"group", "want a group from 1"}},
		{name: "group not a number", args: []string{"--remote", A, "routes", "--group", "x"}, code: exitUsage},
		{name: "no arguments", args: []string{"--remote", A, "routes", "x"}, code: exitUsage, errHas: []string{`unexpected argument "x"`}},
		{name: "dead remote", args: []string{"--remote", deadAddr(t), "routes"}, code: exitUnreachable, errHas: []string{"cannot reach"}},
	})
}

func slicesIndex(rs []jsonRoute, addr string, group uint32) int {
	for i, r := range rs {
		if r.Address == addr && r.Group == group {
			return i
		}
	}
	return -1
}

func TestNodes(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	A, B := addrOf(a), addrOf(b)
	for _, remote := range []string{A, B} {
		o := runCLI(t, nil, "--remote", remote, "nodes")
		require.Equal(t, exitOK, o.code, o.stderr)
		require.Empty(t, o.stderr)
		rows := table(t, o.stdout)
		require.Len(t, rows, 3, o.stdout)
		require.Equal(t, []string{"ADDRESS", "STATE", "BACKENDS", "GROUPS", "VERSION", "DIALED"}, rows[0])
		byAddr := map[string][]string{}
		for _, r := range rows[1:] {
			require.Len(t, r, 6, o.stdout)
			byAddr[r[0]] = r
			require.NotEqual(t, "-", r[4], "version")
			require.Equal(t, r[0], r[5], "a single-address node is dialed at its identity")
		}
		require.Equal(t, []string{A, "connected", "2", "1,2"}, byAddr[A][:4], o.stdout)
		require.Equal(t, []string{B, "connected", "1", "1"}, byAddr[B][:4], o.stdout)
		require.Less(t, rows[1][0], rows[2][0], "sorted by address")
	}

	o := runCLI(t, nil, "--remote", B, "--json", "nodes")
	require.Equal(t, exitOK, o.code, o.stderr)
	var res jsonNodes
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
	require.True(t, res.OK)
	require.Len(t, res.Nodes, 2)
	for _, n := range res.Nodes {
		require.Equal(t, "connected", n.State)
		require.Equal(t, n.Address, n.Dialed)
		require.NotZero(t, n.Version)
		require.Empty(t, n.Error)
		if n.Address == A {
			require.Equal(t, []uint32{1, 2}, n.Groups)
			require.Equal(t, 2, n.Backends)
		} else {
			require.Equal(t, B, n.Address)
			require.Equal(t, []uint32{1}, n.Groups)
			require.Equal(t, 1, n.Backends)
		}
	}

	// Data commands default to the groups of the whole cluster, not only
	// those of the --remote node (b serves group 1 only); with --proxy too,
	// from b's description of the cluster, and everything goes through b.
	runSteps(t, []step{
		{name: "groups of the cluster", args: []string{"--remote", B, "ping"}, lines: 2,
			outHas: []string{"1  " + A + "  ok", "2  " + A + "  ok"}}, // ping's key 00... is a's in group 1
		{name: "groups of the cluster through b with --proxy", args: []string{"--proxy", "--remote", B, "ping"}, lines: 2,
			outHas: []string{"1  " + B + "  ok", "2  " + B + "  ok"}},
	})

	o = runCLI(t, nil, "--remote", deadAddr(t), "nodes")
	require.Equal(t, exitUnreachable, o.code)
	require.Empty(t, o.stdout)
}

// With --proxy the client talks to the --remote nodes only: the others are
// unreachable to it, and its requests reach them through the remotes.
func TestProxy(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	A, B := addrOf(a), addrOf(b)

	o := runCLI(t, nil, "--proxy", "--remote", A, "nodes")
	require.Equal(t, exitOK, o.code, o.stderr)
	rows := table(t, o.stdout)
	require.Len(t, rows, 3, o.stdout)
	byAddr := map[string][]string{rows[1][0]: rows[1], rows[2][0]: rows[2]}
	require.Equal(t, []string{A, "connected", "2", "1,2"}, byAddr[A][:4], o.stdout)
	require.Equal(t, []string{B, "unreachable", "-", "-"}, byAddr[B][:4], o.stdout)
	require.NotEqual(t, "-", byAddr[B][4], "the version comes from a's member list")

	o = runCLI(t, nil, "--json", "nodes", "--proxy", "--remote", A)
	require.Equal(t, exitOK, o.code, o.stderr)
	var res jsonNodes
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
	require.Len(t, res.Nodes, 2)
	for _, n := range res.Nodes {
		if n.Address == B {
			require.Equal(t, "unreachable", n.State)
			require.Contains(t, n.Error, "--proxy")
			require.Empty(t, n.Groups)
			require.NotNil(t, n.Groups)
		}
	}

	// The ring holds every node: b's backends come from a's description of
	// the cluster, so the shares are the real ones.
	o = runCLI(t, nil, "--proxy", "--remote", A, "routes")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Equal(t, [][]string{
		{"GROUP", "BACKEND", "ADDRESS", "POINTS", "SHARE"},
		{"1", "0", B, "1", "75.00%"},
		{"1", "0", A, "1", "25.00%"},
		{"2", "1", A, "16", "100.00%"},
	}[1:], sortRows(table(t, o.stdout)[1:]))
	require.Empty(t, o.stderr)

	// A key b owns in group 1 is written through a, which forwards it.
	before := a.Forwards()
	o = runCLI(t, []byte("via a"), "--proxy", "--remote", A, "--groups", "1", "--id", "write", "80", "-")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Equal(t, []string{"1", B, "ok"}, table(t, o.stdout)[0][:3], "the owner reports where it stored: %s", o.stdout)
	require.Greater(t, a.Forwards(), before, "a forwarded the write to b")
	o = runCLI(t, nil, "--remote", B, "--groups", "1", "--id", "read", "80")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Equal(t, "via a", o.stdout)
}

// A node named in a member list that the client cannot connect to is
// unreachable.
func TestNodesUnreachable(t *testing.T) {
	t.Parallel()
	dead := deadAddr(t)
	a := startServer(t, nil, func(s *server.Server) {
		s.Handle(proto.CmdRouteList, func(context.Context, *server.Request, server.Replier) ([][]byte, error) {
			ms := append(s.Peers().Members(false), proto.Member{Addr: dead, Version: 7})
			return [][]byte{proto.AppendMembers(nil, ms)}, nil
		}, server.HandlerOptions{})
	}, server.BackendSpec{ID: 3, Group: 5})
	A := addrOf(a)

	o := runCLI(t, nil, "--remote", A, "nodes")
	require.Equal(t, exitOK, o.code, o.stderr)
	rows := table(t, o.stdout)
	require.Len(t, rows, 3, o.stdout)
	byAddr := map[string][]string{rows[1][0]: rows[1], rows[2][0]: rows[2]}
	require.Equal(t, []string{A, "connected", "1", "5"}, byAddr[A][:4], o.stdout)
	require.Equal(t, []string{dead, "unreachable", "-", "-", "7", "-"}, byAddr[dead], o.stdout)

	o = runCLI(t, nil, "--remote", A, "--json", "nodes")
	require.Equal(t, exitOK, o.code, o.stderr)
	var res jsonNodes
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
	require.Len(t, res.Nodes, 2)
	found := false
	for _, n := range res.Nodes {
		if n.Address == dead {
			found = true
			require.Equal(t, "unreachable", n.State)
			require.Equal(t, uint64(7), n.Version)
			require.Contains(t, n.Error, "refused")
		}
	}
	require.True(t, found, o.stdout)

	o = runCLI(t, nil, "--remote", A, "routes")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Equal(t, [][]string{{"GROUP", "BACKEND", "ADDRESS", "POINTS", "SHARE"}, {"5", "3", A, "16", "100.00%"}},
		table(t, o.stdout))
	require.Contains(t, o.stderr, "unreachable: "+dead)

	o = runCLI(t, nil, "--remote", A, "--json", "routes")
	require.Equal(t, exitOK, o.code, o.stderr)
	var rr jsonRoutes
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &rr), o.stdout)
	require.Equal(t, []string{dead}, rr.Unreachable)
}

func TestClusterUsage(t *testing.T) {
	t.Parallel()
	runSteps(t, []step{
		{name: "help lists the commands", args: []string{"help"}, outHas: []string{"  routes ", "  nodes ", "--proxy"}},
		{name: "routes -h", args: []string{"routes", "-h"}, outHas: []string{"--group N", "SHARE", "--proxy"}},
		{name: "nodes -h", args: []string{"help", "nodes"}, outHas: []string{"unreachable", "connected"},
			checkAfter: func(t *testing.T, o outcome) { require.NotContains(t, o.stdout, "\nFlags:") }},
	})
}

// sortRows orders table rows as routes prints them for equal groups: the
// addresses of the test's two nodes are random ports, so compare sets.
func sortRows(rows [][]string) [][]string {
	out := append([][]string(nil), rows...)
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][4] > out[j][4]
	})
	return out
}
