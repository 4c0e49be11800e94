package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/status"
)

// stepDefrag is a mem backend whose defragmentation advances one file each
// time its progress is asked for, and ends after three files.
type stepDefrag struct {
	*mem.Backend
	failWith string
	mu       sync.Mutex
	st       backend.DefragStatus
}

func (d *stepDefrag) StartDefrag(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.Running {
		return status.ErrAlready
	}
	d.st = backend.DefragStatus{Running: true, StartedAt: time.Now(), FilesTotal: 3, BytesTotal: 300}
	return nil
}

func (d *stepDefrag) StopDefrag() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.st.Running {
		return status.ErrAlready
	}
	d.st.Running = false
	d.st.FinishedAt = time.Now()
	return nil
}

func (d *stepDefrag) DefragStatus() backend.DefragStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.Running {
		d.st.FilesDone++
		d.st.BytesDone += 100
		d.st.Reclaimed += 10
		if d.st.FilesDone == d.st.FilesTotal {
			d.st.Running = false
			d.st.FinishedAt = time.Now()
			d.st.Err = d.failWith
		}
	}
	return d.st
}

// startAdminNode starts a node with backend 0 (group 1, mem, reopenable),
// backend 1 (group 2, defragments) and backend 2 (group 3, defragmentation
// fails).
func startAdminNode(t *testing.T) string {
	t.Helper()
	s, err := server.New(server.Options{
		Listen: []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{
			{ID: 0, Group: 1, Backend: mem.New(), Open: func() (backend.Backend, error) { return mem.New(), nil }},
			{ID: 1, Group: 2, Backend: &stepDefrag{Backend: mem.New()}},
			{ID: 2, Group: 3, Backend: &stepDefrag{Backend: mem.New(), failWith: "bad sector"}},
		},
	})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s.Addrs()[0].String()
}

// tableRow returns the fields of the row of backend id in a list table.
func tableRow(t *testing.T, out, id string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == id {
			return f
		}
	}
	t.Fatalf("no row for backend %s in\n%s", id, out)
	return nil
}

func TestBackendList(t *testing.T) {
	t.Parallel()
	addr := startAdminNode(t)
	other := startNode(t, 7)
	r := "--remote=" + addr
	runSteps(t, []step{
		{name: "write", stdin: []byte("hello"), args: []string{r, "--groups", "1", "write", "k", "-"}},
		{name: "list", args: []string{r, "backend", "list"}, lines: 5, emptyErr: true,
			outHas: []string{"node " + addr + "\n", "ID  GROUP  STATE    RO  RECORDS  BYTES  DELAY  DEFRAG  LAST ERROR"},
			checkAfter: func(t *testing.T, o outcome) {
				require.Equal(t, []string{"0", "1", "enabled", "no", "1", "5", "-", "-", "-"}, tableRow(t, o.stdout, "0"))
				require.Equal(t, []string{"1", "2", "enabled", "no", "0", "0", "-", "-", "-"}, tableRow(t, o.stdout, "1"))
			}},
		{name: "status is list", args: []string{r, "backend", "status", "--backend", "1"}, lines: 3,
			checkAfter: func(t *testing.T, o outcome) {
				require.NotContains(t, o.stdout, "\n0 ")
				tableRow(t, o.stdout, "1")
			}},
		{name: "filter unknown", args: []string{r, "backend", "list", "--backend", "9"}, code: exitFailed,
			errHas: []string{"node has no backend 9"}},
		{name: "every remote", args: []string{"--remote", addr + "," + other, "backend", "list"}, lines: 9,
			outHas: []string{"node " + addr + "\n", "\n\nnode " + other + "\n"}},
		{name: "--address", args: []string{r, "backend", "list", "--address", other}, lines: 3,
			outHas: []string{"node " + other + "\n"}},
		{name: "one node down", args: []string{"--remote", addr + "," + deadAddr(t), "backend", "list"}, code: exitUnreachable,
			lines: 5, outHas: []string{"node " + addr}, errHas: []string{"backend list on 127.0.0.1:", "refused"}},
		{name: "json", args: []string{r, "--json", "backend", "list"}, emptyErr: true, checkAfter: func(t *testing.T, o outcome) {
			var res jsonBackendList
			require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
			require.True(t, res.OK)
			require.Len(t, res.Nodes, 1)
			require.Equal(t, addr, res.Nodes[0].Address)
			require.Len(t, res.Nodes[0].Backends, 3)
			b := res.Nodes[0].Backends[0]
			require.Equal(t, jsonBackend{ID: 0, Group: 1, State: "enabled", Records: 1, Bytes: 5,
				Defrag: jsonDefrag{State: "not_started"}}, b)
			var raw map[string]any
			require.NoError(t, json.Unmarshal([]byte(o.stdout), &raw))
			jb := raw["nodes"].([]any)[0].(map[string]any)["backends"].([]any)[0].(map[string]any)
			for _, f := range []string{"id", "group", "state", "read_only", "records", "bytes", "delay_ms", "defrag", "last_error"} {
				require.Contains(t, jb, f)
			}
		}},
	})
}

func TestBackendControlCLI(t *testing.T) {
	t.Parallel()
	addr := startAdminNode(t)
	r := "--remote=" + addr
	dead := deadAddr(t)
	row0 := func(want ...string) func(t *testing.T, o outcome) {
		return func(t *testing.T, _ outcome) {
			o := runCLI(t, nil, r, "backend", "list")
			require.Equal(t, want, tableRow(t, o.stdout, "0")[:len(want)])
		}
	}
	runSteps(t, []step{
		{name: "write", stdin: []byte("v"), args: []string{r, "--groups", "1", "write", "k", "-"}},
		{name: "disable", args: []string{r, "backend", "disable", "--backend", "0"}, emptyErr: true,
			stdout: ptr("backend 0 (group 1) on " + addr + ": disabled\n"), checkAfter: row0("0", "1", "disabled", "no", "-", "-")},
		{name: "disable again", args: []string{r, "backend", "disable", "--backend", "0"}, code: exitFailed,
			errHas: []string{"elliptics: backend 0 is already disabled (" + addr + ")\n"}},
		{name: "write to disabled", stdin: []byte("v"), args: []string{r, "--groups", "1", "write", "k", "-"}, code: exitFailed},
		{name: "enable", args: []string{r, "backend", "enable", "--backend=0"},
			stdout: ptr("backend 0 (group 1) on " + addr + ": enabled\n"), checkAfter: row0("0", "1", "enabled", "no", "0")},
		{name: "enable again", args: []string{"backend", "--address", addr, "enable", "--backend", "0"}, code: exitFailed,
			errHas: []string{"backend 0 is already enabled"}},
		{name: "reopened mem is empty", args: []string{r, "--groups", "1", "read", "k"}, code: exitNotFound},
		{name: "ro", args: []string{r, "backend", "ro", "--backend", "0"}, stdout: ptr("backend 0 (group 1) on " + addr + ": read-only\n"),
			checkAfter: row0("0", "1", "enabled", "yes")},
		{name: "ro again", args: []string{r, "backend", "ro", "--backend", "0"}, code: exitFailed, errHas: []string{"backend 0 is already read-only"}},
		{name: "write to ro", stdin: []byte("v"), args: []string{r, "--groups", "1", "write", "k", "-"}, code: exitFailed,
			errHas: []string{"read-only"}},
		{name: "rw", args: []string{r, "backend", "rw", "--backend", "0"}, stdout: ptr("backend 0 (group 1) on " + addr + ": writable\n"),
			checkAfter: row0("0", "1", "enabled", "no")},
		{name: "rw again", args: []string{r, "backend", "rw", "--backend", "0"}, code: exitFailed, errHas: []string{"backend 0 is already writable"}},
		{name: "write again", stdin: []byte("v"), args: []string{r, "--groups", "1", "write", "k", "-"}},
		{name: "defrag on mem", args: []string{r, "backend", "defrag", "--backend", "0"}, code: exitFailed,
			errHas: []string{"backend defrag --backend 0 on " + addr + ": backend type does not support defragmentation"}},
		{name: "defrag wait", args: []string{r, "backend", "defrag", "--backend", "1", "--wait"}, emptyErr: true,
			outHas: []string{"backend 1 (group 2) on " + addr + ": defragmentation started\n",
				"defrag: files 1/3, bytes 100/300, reclaimed 10, ",
				"defrag: files 2/3, bytes 200/300, reclaimed 20, ",
				"defrag: files 3/3, bytes 300/300, reclaimed 30, ",
				"defragmentation finished: files 3/3, bytes 300/300, reclaimed 30, ", " MB/s\n"}},
		{name: "list after defrag", args: []string{r, "backend", "list", "--backend", "1"},
			outHas: []string{"done files 3/3, bytes 300/300, reclaimed 30"}},
		{name: "stop when none runs", args: []string{r, "backend", "stop-defrag", "--backend", "1"}, code: exitFailed,
			errHas: []string{"backend 1: no defragmentation is running"}},
		{name: "defrag", args: []string{r, "backend", "defrag", "--backend", "1"},
			stdout: ptr("backend 1 (group 2) on " + addr + ": defragmentation started\n")},
		{name: "list while running", args: []string{r, "backend", "list", "--backend", "1"},
			outHas: []string{"running files 2/3"}},
		{name: "stop defrag", args: []string{r, "backend", "stop-defrag", "--backend", "1"},
			stdout: ptr("backend 1 (group 2) on " + addr + ": defragmentation stop requested\n")},
		{name: "defrag fails", args: []string{r, "backend", "defrag", "--backend", "2", "--wait"}, code: exitFailed,
			outHas: []string{"defrag: files 3/3"}, errHas: []string{"defragmentation of backend 2 on " + addr + " failed: bad sector"}},
		{name: "json", args: []string{r, "--json", "backend", "ro", "--backend", "2"}, checkAfter: func(t *testing.T, o outcome) {
			var res jsonControl
			require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
			require.True(t, res.OK)
			require.Equal(t, addr, res.Address)
			require.True(t, res.Backend.ReadOnly)
			require.Equal(t, "bad sector", res.Backend.Defrag.Error)
		}},
		{name: "json already", args: []string{r, "--json", "backend", "ro", "--backend", "2"}, code: exitFailed,
			checkAfter: func(t *testing.T, o outcome) {
				var res jsonControl
				require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
				require.False(t, res.OK)
				require.Contains(t, res.Error, "backend 2 is already read-only")
				require.Nil(t, res.Backend)
			}},
		{name: "unknown backend", args: []string{r, "backend", "enable", "--backend", "9"}, code: exitFailed,
			errHas: []string{"node has no backend 9"}},
		{name: "first remote", args: []string{"--remote", addr + "," + dead, "backend", "rw", "--backend", "2"}},
		{name: "dead address", args: []string{r, "backend", "enable", "--address", dead, "--backend", "0"}, code: exitUnreachable,
			errHas: []string{"on " + dead + ": "}},

		{name: "missing action", args: []string{r, "backend"}, code: exitUsage, errHas: []string{"missing ACTION"}},
		{name: "unknown action", args: []string{r, "backend", "explode"}, code: exitUsage, errHas: []string{`unknown ACTION "explode"`}},
		{name: "missing --backend", args: []string{r, "backend", "enable"}, code: exitUsage, errHas: []string{"missing --backend"}},
		{name: "negative --backend", args: []string{r, "backend", "enable", "--backend", "-1"}, code: exitUsage},
		{name: "--wait elsewhere", args: []string{r, "backend", "enable", "--backend", "0", "--wait"}, code: exitUsage,
			errHas: []string{"--wait only applies to defrag"}},
		{name: "help", args: []string{"backend", "-h"}, outHas: []string{"list (status)", "stop-defrag", "--backend ID", "--wait"}},
	})
}

func TestBackendDelayCLI(t *testing.T) {
	t.Parallel()
	addr := startAdminNode(t)
	r := "--remote=" + addr
	delayOf := func(id, want string) func(t *testing.T, o outcome) {
		return func(t *testing.T, _ outcome) {
			o := runCLI(t, nil, r, "backend", "list")
			require.Equal(t, want, tableRow(t, o.stdout, id)[6])
		}
	}
	runSteps(t, []step{
		{name: "write", stdin: []byte("v"), args: []string{r, "--groups", "1", "write", "k", "-"}},
		{name: "delay ADDR BACKEND DURATION", args: []string{"backend", "delay", addr, "0", "50ms"}, emptyErr: true,
			stdout: ptr("backend 0 (group 1) on " + addr + ": delay 50ms\n"), checkAfter: delayOf("0", "50ms")},
		{name: "reads wait", args: []string{r, "--groups", "1", "read", "k"}, checkAfter: func(t *testing.T, _ outcome) {
			start := time.Now()
			runCLI(t, nil, r, "--groups", "1", "read", "k")
			require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
		}},
		{name: "read --by-latency", args: []string{r, "--groups", "1,2", "read", "--by-latency", "k"}, stdout: ptr("v")},
		{name: "delay with flags", args: []string{r, "backend", "delay", "--backend", "1", "1.5s"},
			stdout: ptr("backend 1 (group 2) on " + addr + ": delay 1.5s\n"), checkAfter: delayOf("1", "1.5s")},
		{name: "json", args: []string{"--json", "backend", "delay", addr, "1", "20ms"}, checkAfter: func(t *testing.T, o outcome) {
			var res jsonControl
			require.NoError(t, json.Unmarshal([]byte(o.stdout), &res), o.stdout)
			require.True(t, res.OK)
			require.Equal(t, uint64(20), res.Backend.DelayMS)
		}},
		{name: "zero removes it", args: []string{"backend", "delay", addr, "0", "0"},
			stdout: ptr("backend 0 (group 1) on " + addr + ": delay 0s\n"), checkAfter: delayOf("0", "-")},
		{name: "unknown backend", args: []string{"backend", "delay", addr, "9", "1ms"}, code: exitFailed,
			errHas: []string{"node has no backend 9"}},
		{name: "bad duration", args: []string{"backend", "delay", addr, "0", "soon"}, code: exitUsage,
			errHas: []string{`bad DURATION "soon"`}},
		{name: "negative duration", args: []string{"backend", "delay", addr, "0", "--", "-1s"}, code: exitUsage,
			errHas: []string{"bad DURATION"}},
		{name: "bad backend", args: []string{"backend", "delay", addr, "x", "1s"}, code: exitUsage,
			errHas: []string{`bad BACKEND "x"`}},
		{name: "arguments and flags", args: []string{"backend", "delay", "--backend", "0", addr, "0", "1s"}, code: exitUsage,
			errHas: []string{"either as arguments or as --address and --backend"}},
		{name: "missing --backend", args: []string{r, "backend", "delay", "1s"}, code: exitUsage,
			errHas: []string{"missing --backend"}},
		{name: "two arguments", args: []string{"backend", "delay", addr, "1s"}, code: exitUsage,
			errHas: []string{"want ADDR BACKEND DURATION"}},
		{name: "too many arguments", args: []string{"backend", "delay", addr, "0", "1s", "x"}, code: exitUsage,
			errHas: []string{`unexpected argument "x"`}},
		{name: "arguments elsewhere", args: []string{r, "backend", "enable", "--backend", "0", "x"}, code: exitUsage,
			errHas: []string{`backend enable: unexpected argument "x"`}},
		{name: "help", args: []string{"backend", "-h"}, outHas: []string{"delay ADDR BACKEND DURATION"}},
	})
}
