package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
			outHas: []string{`"v1"`}, errHas: []string{"finished, 16 of 16"}},
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
