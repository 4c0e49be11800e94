package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/stats"
)

func TestStats(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	A, B := addrOf(a), addrOf(b)
	const n = 6
	for i := range n {
		o := runCLI(t, []byte("some data"), "--remote", A, "write", fmt.Sprintf("stats-%d", i), "-")
		require.Equal(t, exitOK, o.code, o.stderr)
	}

	// A line per node; the objects add up to the writes in every group.
	o := runCLI(t, nil, "--remote", A, "stats")
	require.Equal(t, exitOK, o.code, o.stderr)
	rows := table(t, o.stdout)
	require.Len(t, rows, 3, o.stdout)
	require.Equal(t, []string{"NODE", "REQ/S", "P50", "P99", "ERRORS", "OBJECTS", "BYTES", "LOAD", "RSS", "DISK", "FREE"}, rows[0])
	objects := 0
	for _, r := range sortRows(rows[1:]) {
		require.Contains(t, []string{A, B}, r[0])
		var k int
		_, err := fmt.Sscan(r[5], &k)
		require.NoError(t, err, o.stdout)
		objects += k
	}
	require.Equal(t, 2*n, objects, "two groups: each key stored twice\n%s", o.stdout)

	// --top: the most requested keys of the cluster, each written to both
	// groups.
	o = runCLI(t, nil, "--remote", A, "stats", "--top", "3")
	require.Equal(t, exitOK, o.code, o.stderr)
	parts := strings.SplitN(o.stdout, "\n\n", 2)
	require.Len(t, parts, 2, o.stdout)
	keys := table(t, parts[1])
	require.Equal(t, []string{"KEY", "REQUESTS", "BYTES", "NODES"}, keys[0])
	require.Len(t, keys, 4, o.stdout)
	for _, k := range keys[1:] {
		require.Len(t, k[0], 128, "a full ID")
		require.Equal(t, "2", k[1], "written in groups 1 and 2: %v", k)
	}

	// --commands: every command summed over the nodes.
	o = runCLI(t, nil, "--remote", A, "stats", "--commands")
	require.Equal(t, exitOK, o.code, o.stderr)
	parts = strings.SplitN(o.stdout, "\n\n", 2)
	require.Len(t, parts, 2, o.stdout)
	var writes []string
	for _, r := range table(t, parts[1]) {
		if r[0] == "WRITE" && r[1] == "storage" {
			writes = r
		}
	}
	require.NotNil(t, writes, o.stdout)
	require.Equal(t, strconv.Itoa(2*n), writes[2], "each write stored in two groups")
	require.Equal(t, "0", writes[3])

	// --json: the nodes' statistics as sent, of the categories asked.
	o = runCLI(t, nil, "--json", "--remote", A, "stats", "--address", A, "--categories", "commands")
	require.Equal(t, exitOK, o.code, o.stderr)
	var res []struct {
		Address string         `json:"address"`
		Stats   stats.Snapshot `json:"stats"`
	}
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
	require.Len(t, res, 1)
	require.Equal(t, A, res[0].Address)
	require.Equal(t, stats.CategoryCommands, res[0].Stats.Categories)
	require.NotZero(t, res[0].Stats.Commands["WRITE"].Storage.Count)
	require.Nil(t, res[0].Stats.Backends)

	// Through a only: a relays the request for b.
	o = runCLI(t, nil, "--proxy", "--remote", A, "stats")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Len(t, table(t, o.stdout), 3, o.stdout)
	require.NotContains(t, o.stdout, "unreachable")

	o = runCLI(t, nil, "--remote", A, "stats", "--categories", "nope")
	require.Equal(t, exitUsage, o.code)

	// --watch refreshes until interrupted; the second table's rates are
	// over the interval.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"--remote", A, "stats", "--address", B, "--watch", "--interval", "100ms"}, bytes.NewReader(nil), &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	require.GreaterOrEqual(t, strings.Count(out.String(), "NODE"), 2, out.String())
	require.NotContains(t, out.String(), A)
}
