package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/status"
)

const e2eScript = `
def incr(key, data):
    cur = read(key)
    n = 0
    if cur != None:
        n = int(str(cur))
    n += int(str(data) or "1")
    write(key, str(n))
    return n

def where():
    return node

def slow(key, data):
    # The jobs on the node named by data run long enough to be cut short.
    if node == str(data):
        for i in range(1500000):
            pass
    return group

def run(key, data):
    write(key, b"seen:" + data)
    return group
`

// TestScriptsAgainstDaemons: 2 groups × 2 ellipticsd. The CLI stores a
// script, runs it next to a key's data and on every node, and submits
// 200 jobs; then a node is SIGKILLed and the jobs whose keys it owned run
// on the other group's replica.
func TestScriptsAgainstDaemons(t *testing.T) {
	nodes := newCluster(t, 2, 2)
	startAll(t, nodes)
	sess := session(t, nodes[0].addr)
	waitTable(t, sess, 4)
	remote := []string{"--remote", nodes[0].addr}
	dir := t.TempDir()
	src := filepath.Join(dir, "counter.star")
	require.NoError(t, os.WriteFile(src, []byte(e2eScript), 0o644))

	out, errOut, code := cli(t, nil, append(remote, "script", "put", "counter", src)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "counter version 1")
	bad := filepath.Join(dir, "bad.star")
	require.NoError(t, os.WriteFile(bad, []byte("def f(:\n"), 0o644))
	_, errOut, code = cli(t, nil, append(remote, "script", "put", "bad", bad)...)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "bad:1:")
	out, _, code = cli(t, nil, append(remote, "script", "list")...)
	require.Equal(t, 0, code)
	require.Regexp(t, `counter\s+1\s+\d+`, out)
	require.NotContains(t, out, "bad")

	// Next to the data: a read-modify-write of the key on its owner.
	for want := 5; want <= 10; want += 5 {
		out, errOut, code = cli(t, nil, append(remote, "--json", "exec", "--data", "5", "counter@incr", "hits")...)
		require.Equal(t, 0, code, errOut)
		var r struct {
			Result  string `json:"result"`
			Address string `json:"address"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
		require.Equal(t, fmt.Sprint(want), r.Result)
	}
	e, err := sess.Read(context.Background(), client.NewKey("hits"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "10", string(e.Data))

	// Fan-out: one line per node, each naming itself.
	out, errOut, code = cli(t, nil, append(remote, "exec", "counter@where")...)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	for _, n := range nodes {
		require.Contains(t, out, "ok group "+fmt.Sprint(n.group)+" "+n.addr)
	}

	// Jobs: one per key, each on its owner.
	var keys []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("job-%d", i))
	}
	keyFile := filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(keyFile, []byte(strings.Join(keys, "\n")+"\n"), 0o644))
	out, errOut, code = cli(t, nil, append(remote, "--groups", "1,2", "jobs", "submit", "--keys", keyFile, "--data", "x", "counter@run")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "200 done, 0 failed of 200")
	require.Equal(t, 200, strings.Count(out, " ok group 1 "), "with every node up, group 1 runs every job")

	// A node of group 1 is SIGKILLed while jobs run on it: the jobs in
	// flight there lose their connection and run on group 2's replica.
	var victim *clusterNode
	for _, n := range nodes[1:] {
		if n.group == 1 {
			victim = n
		}
	}
	require.NotNil(t, victim)
	js := session(t, nodes[0].addr)
	waitTable(t, js, 4)
	js.SetGroups(1, 2)
	js.SetTimeout(20 * time.Second)
	killed := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		victim.d.kill()
		close(killed)
	}()
	byGroup := map[uint32]int{}
	var failed []string
	sum, err := js.RunJobs(context.Background(), "counter@slow", keys[:40], []byte(victim.addr),
		client.JobOptions{Concurrency: 40}, func(r client.ExecResult) {
			if r.Err != nil {
				failed = append(failed, r.Key+": "+r.Err.Error())
			}
			byGroup[r.Group]++
		})
	<-killed
	require.NoError(t, err)
	require.Empty(t, failed)
	require.Equal(t, client.JobSummary{Total: 40, Succeeded: 40}, sum)
	require.Positive(t, byGroup[2], "jobs of the killed node ran in group 2: %v", byGroup)
	require.Positive(t, byGroup[1], "the other jobs ran in group 1: %v", byGroup)

	// Later jobs go to the owners the cluster has left.
	out, errOut, code = cli(t, nil, append(remote, "--groups", "1,2", "jobs", "submit", "--keys", keyFile, "--data", "y", "counter@run")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "200 done, 0 failed of 200")
	require.NotContains(t, out, victim.addr)

	// remove
	_, errOut, code = cli(t, nil, append(remote, "script", "remove", "counter")...)
	require.Equal(t, 0, code, errOut)
	_, errOut, code = cli(t, nil, append(remote, "exec", "counter@where", "k")...)
	require.Equal(t, 3, code, errOut) // not found
}

// TestScriptWorkersContainMemory: with [script] isolation = "process" a
// script that grows a string without bound kills its worker (the
// address-space limit), the caller gets a clear error, and the node and
// its next scripts carry on; reads and writes of scripts in workers go
// through the node.
func TestScriptWorkersContainMemory(t *testing.T) {
	nodes := newCluster(t, 1, 1)
	f, err := os.OpenFile(nodes[0].conf, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n[script]\nisolation = \"process\"\nworker_memory = \"256MiB\"\nmemory = \"4GiB\"\nconcurrency = 2\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	startAll(t, nodes)
	ctx := context.Background()
	sess := session(t, nodes[0].addr)
	waitTable(t, sess, 1)
	_, err = sess.PutScript(ctx, "w", []byte(e2eScript+`
def hog():
    s = "x" * 1024
    for i in range(40):
        s = s + s
    return len(s)
`))
	require.NoError(t, err)

	_, err = sess.Exec(ctx, client.NewKey("k"), "w@hog", nil, client.ExecOptions{})
	require.Error(t, err)
	require.Equal(t, status.TooLarge, status.FromError(err), "%v", err)
	require.Contains(t, err.Error(), "memory")

	// The node is fine, and a new worker runs the next calls, whose
	// builtins reach the data through the node.
	for want := 1; want <= 3; want++ {
		r, err := sess.Exec(ctx, client.NewKey("n"), "w@incr", nil, client.ExecOptions{})
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(want), string(r.Data))
	}
	_, err = sess.Ping(ctx)
	require.NoError(t, err)
	res, err := sess.MonitorStat(ctx, "", stats.CategoryScripts)
	require.NoError(t, err)
	require.Equal(t, uint64(1), res[0].Stats.Scripts["w"].MemoryLimit)
}
