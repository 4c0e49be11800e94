package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/server"
)

func TestRangeAndIterateCommands(t *testing.T) {
	addr := startNode(t, 1, 2)
	r := "--remote=" + addr
	var steps []step
	for i := range 16 {
		steps = append(steps, step{name: "write", stdin: []byte(fmt.Sprintf("v%d", i)),
			args: []string{r, "--groups=1", "write", fmt.Sprintf("k%d", i), "-"}})
	}
	steps = append(steps,
		step{name: "count", args: []string{r, "range", "count", "0", "max"}, stdout: ptr("16\n")},
		step{name: "count in group 2", args: []string{r, "range", "count", "0", "max", "--group", "2"}, stdout: ptr("0\n")},
		step{name: "read limits", args: []string{r, "range", "read", "0", "max", "--limit-start", "3", "--limit-num", "14"}, lines: 13},
		step{name: "read json with data", args: []string{r, "--json", "range", "read", "0", "max", "--limit-num", "1"},
			lines: 1, outHas: []string{`"data":"`, `"column":""`}},
		step{name: "bad action", args: []string{r, "range", "list", "0", "max"}, code: exitUsage, errHas: []string{"unknown action"}},
		step{name: "start after end", args: []string{r, "range", "count", "max", "0"}, code: exitUsage, errHas: []string{"after END"}},
		step{name: "bad id", args: []string{r, "range", "count", "xyz", "max"}, code: exitUsage},
		step{name: "iterate by key", args: []string{r, "--groups=1", "iterate", "--key", "k1", "--data"}, lines: 16,
			outHas: []string{`"v1"`}, errHas: []string{"started on " + addr + " backend 0\n", "finished, 16 of 16"}},
		step{name: "iterate needs a target", args: []string{r, "iterate"}, code: exitUsage},
		step{name: "iterate time window", args: []string{r, "iterate", "--address", addr, "--backend", "0", "--until", "2000-01-01T00:00:00Z"},
			stdout: ptr(""), errHas: []string{"finished, 16 of 16"}},
		step{name: "copy to group 2", args: []string{r, "iterate", "--address", addr, "--backend", "0", "--copy-to", "2"}, lines: 16},
		step{name: "copy again: same timestamps pass", args: []string{r, "iterate", "--address", addr, "--backend", "0", "--copy-to", "2"}, lines: 16},
		step{name: "count group 2", args: []string{r, "range", "count", "0", "max", "--group", "2"}, stdout: ptr("16\n")},
		step{name: "remove", args: []string{r, "range", "remove", "0", "max", "--limit-num", "6"}, stdout: ptr("6\n")},
		step{name: "remove rest", args: []string{r, "--json", "range", "remove", "0", "max"}, stdout: ptr("{\"removed\":10}\n")},
		step{name: "remove again", args: []string{r, "range", "remove", "0", "max"}, stdout: ptr("0\n")},
	)
	runSteps(t, steps)
	o := runCLI(t, nil, r, "range", "-h")
	require.Equal(t, exitOK, o.code)
	require.True(t, strings.Contains(o.stdout, "--limit-start"), o.stdout)
}

// slowIterate takes 5ms per record iterated, so an iterator runs long
// enough for the CLI to act on it.
type slowIterate struct{ backend.Backend }

func (b slowIterate) Iterate(ctx context.Context, o backend.IterateOptions, fn func(backend.Record) error) error {
	return b.Backend.Iterate(ctx, o, func(r backend.Record) error {
		time.Sleep(5 * time.Millisecond)
		return fn(r)
	})
}

func TestIteratorCommand(t *testing.T) {
	srv, err := server.New(server.Options{Listen: []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: slowIterate{mem.New()}}}})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	addr := srv.Addrs()[0].String()
	r := "--remote=" + addr
	for i := range 200 {
		o := runCLI(t, []byte("v"), r, "--groups=1", "write", fmt.Sprintf("k%d", i), "-")
		require.Equal(t, exitOK, o.code, o.stderr)
	}

	// An iterator another client runs: 200 records at 5ms each.
	n := client.NewNode(client.Config{})
	t.Cleanup(func() { n.Close() })
	require.NoError(t, n.AddRemotes(context.Background(), addr))
	s := client.NewSession(n)
	s.SetGroups(1)
	it, err := s.StartIterator(context.Background(), client.IteratorOptions{Address: addr, Backend: 0, Buffer: 1})
	require.NoError(t, err)
	defer it.Close()
	<-it.Entries()
	iterID := strconv.FormatUint(it.ID(), 10)

	runSteps(t, []step{
		{name: "list every node", args: []string{r, "iterator", "list"}, lines: 1, emptyErr: true,
			outHas: []string{addr + " iterator " + iterID + " backend 0 (group 1): running, network, ", " of 200 records visited, started "}},
		{name: "list json", args: []string{r, "--json", "iterator", "list", addr}, lines: 1,
			outHas: []string{`{"iterators":[{"address":"` + addr + `","iterator":` + iterID + `,"backend":0,"group":1,"state":"running","type":"network",`}},
		{name: "list bad address", args: []string{r, "iterator", "list", "nowhere"}, code: exitUsage, errHas: []string{"host:port"}},
		{name: "list extra argument", args: []string{r, "iterator", "list", addr, "7"}, code: exitUsage, errHas: []string{"unexpected argument"}},
		{name: "pause", args: []string{r, "iterator", "pause", addr, iterID},
			outHas: []string{"iterator " + iterID + " on " + addr + ": paused, "}, lines: 1, emptyErr: true},
		{name: "pause again", args: []string{r, "--json", "iterator", "pause", addr, iterID},
			outHas: []string{`"iterator":` + iterID, `"state":"paused"`, `"total":200`}, lines: 1},
		{name: "list paused", args: []string{r, "iterator", "list", addr}, outHas: []string{"(group 1): paused, "}},
		{name: "continue", args: []string{r, "iterator", "continue", addr, iterID}, outHas: []string{": running, "}},
		{name: "cancel", args: []string{r, "iterator", "cancel", addr, iterID}, outHas: []string{": canceled, "}},
	})
	for range it.Entries() {
	}
	require.NoError(t, it.Err())
	require.Equal(t, proto.IterCanceled, it.State(), "the CLI's cancel ended the client's iterator")
	runSteps(t, []step{
		{name: "list after the end", args: []string{r, "iterator", "list"}, stdout: ptr(""), emptyErr: true},
		{name: "list json after the end", args: []string{r, "--json", "iterator", "list"}, stdout: ptr("{\"iterators\":[]}\n")},
		{name: "gone after cancel", args: []string{r, "iterator", "pause", addr, iterID}, code: exitNotFound,
			errHas: []string{"iterator pause: ", "iterator " + iterID + " not found"}},
		{name: "unknown id", args: []string{r, "iterator", "cancel", addr, "987654"}, code: exitNotFound,
			errHas: []string{"not found"}},
		{name: "bad action", args: []string{r, "iterator", "stop", addr, iterID}, code: exitUsage,
			errHas: []string{"unknown action \"stop\""}},
		{name: "bad id", args: []string{r, "iterator", "pause", addr, "x"}, code: exitUsage, errHas: []string{"ITERATOR_ID"}},
		{name: "bad address", args: []string{r, "iterator", "pause", "nowhere", iterID}, code: exitUsage, errHas: []string{"host:port"}},
		{name: "missing id", args: []string{r, "iterator", "pause", addr}, code: exitUsage, errHas: []string{"missing ITERATOR_ID"}},
		{name: "missing address", args: []string{r, "iterator", "cancel"}, code: exitUsage, errHas: []string{"missing ADDR"}},
	})

	// iterate names its iterator on stderr when it starts, before the
	// records, so another shell can control it.
	o := runCLI(t, nil, r, "iterate", "--address", addr, "--backend", "0")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Regexp(t, `^iterator \d+ started on `+regexp.QuoteMeta(addr)+` backend 0\n`, o.stderr)
	require.Equal(t, 200, strings.Count(o.stdout, "\n"))
}
