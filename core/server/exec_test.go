package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/script"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/status"
)

const counterScript = `
def incr(key, data):
    cur = read(key)
    n = 0
    if cur != None:
        n = int(str(cur))
    n += int(str(data) or "1")
    write(key, str(n))
    return {"key": key, "value": n, "node": node, "group": group}

def where():
    return node

def spin():
    while True:
        pass

def big(data):
    return "x" * int(str(data))
`

func TestExecNextToTheData(t *testing.T) {
	ctx := context.Background()
	c, cl, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	sess.SetGroups(1)
	in, err := sess.PutScript(ctx, "counter", []byte(counterScript))
	require.NoError(t, err)
	require.Equal(t, uint64(1), in.Version)

	// Read-modify-write next to the data, on the key's owner.
	for i := 1; i <= 3; i++ {
		r, err := sess.Exec(ctx, client.NewKey("hits"), "counter@incr", []byte("2"), client.ExecOptions{})
		require.NoError(t, err)
		require.JSONEq(t, fmt.Sprintf(`{"key":"hits","value":%d,"node":%q,"group":"1"}`, 2*i, r.Address), string(r.Data))
	}
	oid, err := sess.ID(client.NewKey("hits"))
	require.NoError(t, err)
	owner, ok := cl.Table().Owner(oid, 1)
	require.True(t, ok)
	e, err := sess.Read(ctx, client.NewKey("hits"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "6", string(e.Data))
	r, err := sess.Exec(ctx, client.NewKey("hits"), "counter@where", nil, client.ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, owner.Addr, string(r.Data), "the script runs on the key's owner")

	// A client that reaches only one node: the request is forwarded.
	_, viaNode := nodeOf(t, c, c.Addrs[0])
	other := client.NewNode(client.Config{Dial: c.Net.Dial, Proxy: true})
	defer other.Close()
	require.NoError(t, other.AddRemotes(ctx, c.Addrs[0]))
	os := client.NewSession(other)
	os.SetGroups(1)
	r, err = os.Exec(ctx, client.NewKey("hits"), "counter@where", nil, client.ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, owner.Addr, string(r.Data))
	if owner.Addr != c.Addrs[0] {
		require.NotZero(t, viaNode.Forwards()+viaNode.Relays())
	}

	// Fan-out: one result per node.
	all, err := sess.ExecAll(ctx, "counter@where", nil, client.ExecOptions{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i, r := range all {
		require.NoError(t, r.Err)
		require.Equal(t, r.Address, string(r.Data))
		if i > 0 {
			require.NotEqual(t, all[i-1].Address, r.Address)
		}
	}
}

func TestExecLimitsAndErrors(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true},
		Script: server.ScriptOptions{Limits: script.Limits{Steps: 1_000_000, Timeout: 2 * time.Second, ResultBytes: 1 << 20}}})
	sess.SetGroups(1)
	_, err := sess.PutScript(ctx, "counter", []byte(counterScript))
	require.NoError(t, err)
	k := client.NewKey("k")

	// Script errors cross the wire as their status code and message.
	_, err = sess.Exec(ctx, k, "counter@spin", nil, client.ExecOptions{})
	require.Equal(t, status.TooLarge, status.FromError(err))
	require.ErrorContains(t, err, "step budget of 1000000 exceeded")

	// A caller lowers the limits, never raises them.
	_, err = sess.Exec(ctx, k, "counter@spin", nil, client.ExecOptions{Limits: proto.ExecLimits{Steps: 1 << 40}})
	require.ErrorContains(t, err, "step budget of 1000000 exceeded")
	_, err = sess.Exec(ctx, k, "counter@spin", nil, client.ExecOptions{Limits: proto.ExecLimits{Steps: 1000}})
	require.ErrorContains(t, err, "step budget of 1000 exceeded")
	_, err = sess.Exec(ctx, k, "counter@big", []byte("2000000"), client.ExecOptions{})
	require.Equal(t, status.TooLarge, status.FromError(err))
	require.ErrorContains(t, err, "result")
	r, err := sess.Exec(ctx, k, "counter@big", []byte("10"), client.ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, "xxxxxxxxxx", string(r.Data))
	_, err = sess.Exec(ctx, k, "counter@big", []byte("10"), client.ExecOptions{Limits: proto.ExecLimits{ResultBytes: 5}})
	require.Equal(t, status.TooLarge, status.FromError(err))

	_, err = sess.Exec(ctx, k, "counter@nope", nil, client.ExecOptions{})
	require.Equal(t, status.Invalid, status.FromError(err))
	require.ErrorContains(t, err, "nope")
	_, err = sess.Exec(ctx, k, "missing@f", nil, client.ExecOptions{})
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = sess.PutScript(ctx, "broken", []byte("def f(:\n"))
	require.ErrorIs(t, err, script.ErrCompile)
	_, err = sess.PutScript(ctx, "typo", []byte("def f():\n    return nod\n"))
	require.ErrorContains(t, err, "undefined: nod")
	_, err = sess.Exec(ctx, k, "no-at-sign", nil, client.ExecOptions{})
	require.ErrorIs(t, err, status.ErrInvalid)

	// Statistics count calls, errors and limit hits per script.
	res, err := sess.MonitorStat(ctx, "", stats.CategoryScripts)
	require.NoError(t, err)
	sc := res[0].Stats.Scripts["counter"]
	require.Equal(t, uint64(7), sc.Calls)
	require.Equal(t, uint64(6), sc.Errors)
	require.Equal(t, uint64(3), sc.StepLimit)
	require.Equal(t, uint64(2), sc.ByteLimit)
	require.Positive(t, sc.Seconds)
	require.Nil(t, res[0].Stats.Commands, "only the asked category")
}

func TestExecSpinDoesNotBlockTheNode(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true},
		Script: server.ScriptOptions{Limits: script.Limits{Steps: 1 << 40, Timeout: 3 * time.Second}}})
	sess.SetGroups(1)
	_, err := sess.PutScript(ctx, "counter", []byte(counterScript))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := sess.Exec(ctx, client.NewKey("k"), "counter@spin", nil, client.ExecOptions{})
		done <- err
	}()
	// While the loop spins, the node serves other requests (the whole
	// loop takes the full timeout, these take a fraction of it).
	for i := range 50 {
		_, err := sess.Write(ctx, client.NewKey("other"+strconv.Itoa(i)), []byte("v"))
		require.NoError(t, err)
	}
	select {
	case err := <-done:
		t.Fatalf("the spinning script ended before the writes did: %v", err)
	default:
	}
	err = <-done
	require.Equal(t, status.Timeout, status.FromError(err), "%v", err)
}

func TestScriptVersionsAndInvalidation(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{Manual: true},
		Script: server.ScriptOptions{Reload: time.Hour}})
	v1, err := sess.PutScript(ctx, "ver", []byte("def f():\n    return 'one'\n"))
	require.NoError(t, err)
	res, err := sess.ExecAll(ctx, "ver@f", nil, client.ExecOptions{})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, "one", string(r.Data))
	}
	// With an hour's reload, only the invalidation makes nodes see v2.
	v2, err := sess.PutScript(ctx, "ver", []byte("def f():\n    return 'two'\n"))
	require.NoError(t, err)
	require.Equal(t, v1.Version+1, v2.Version)
	res, err = sess.ExecAll(ctx, "ver@f", nil, client.ExecOptions{})
	require.NoError(t, err)
	require.Len(t, res, 2)
	for _, r := range res {
		require.Equal(t, "two", string(r.Data), r.Address)
	}
	list, err := sess.ListScripts(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "ver", list[0].Name)
	require.Equal(t, v2.Version, list[0].Version)
	old, err := sess.Script(ctx, "ver", 1)
	require.NoError(t, err)
	require.Contains(t, old.Source, "one")

	// Concurrent puts get distinct versions.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			_, err := sess.PutScript(ctx, "ver", []byte("def f():\n    return 'n'\n"))
			require.NoError(t, err)
		})
	}
	wg.Wait()
	cur, err := sess.Script(ctx, "ver", 0)
	require.NoError(t, err)
	require.Equal(t, v2.Version+4, cur.Version)

	require.NoError(t, sess.RemoveScript(ctx, "ver"))
	_, err = sess.ExecAll(ctx, "ver@f", nil, client.ExecOptions{})
	require.ErrorIs(t, err, status.ErrNotFound)
	list, err = sess.ListScripts(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestJobsSpreadOverOwners(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 3, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	sess.SetGroups(1)
	_, err := sess.PutScript(ctx, "job", []byte("def run(key, data):\n    write(key, data + b'!')\n    return node\n"))
	require.NoError(t, err)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "job-" + strconv.Itoa(i)
	}
	byNode := map[string]int{}
	progress := 0
	sum, err := sess.RunJobs(ctx, "job@run", keys, []byte("done"), client.JobOptions{Concurrency: 32,
		Progress: func(done, total int) { progress = done }}, func(r client.ExecResult) {
		require.NoError(t, r.Err, r.Key)
		require.Equal(t, r.Address, string(r.Data))
		byNode[r.Address]++
	})
	require.NoError(t, err)
	require.Equal(t, client.JobSummary{Total: 1000, Succeeded: 1000}, sum)
	require.Equal(t, 1000, progress)
	require.Len(t, byNode, 3, "jobs ran on every node: %v", byNode)
	for _, k := range []string{keys[0], keys[999]} {
		e, err := sess.Read(ctx, client.NewKey(k), 0, 0)
		require.NoError(t, err)
		require.Equal(t, "done!", string(e.Data))
	}
}

func TestExecDisabled(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true},
		Script: server.ScriptOptions{Disabled: true}})
	sess.SetGroups(1)
	_, err := sess.PutScript(ctx, "s", []byte("def f():\n    return 1\n"))
	require.NoError(t, err, "storing scripts is a write like any other")
	_, err = sess.Exec(ctx, client.NewKey("k"), "s@f", nil, client.ExecOptions{})
	require.Equal(t, status.Unsupported, status.FromError(err), "%v", err)
	require.ErrorContains(t, err, "enabled = false")
}

// TestExecRunsOnlyAdminScripts: on nodes that authenticate, a client with
// write permission can store a script's keys, but the nodes run only
// versions an admin key signed.
func TestExecRunsOnlyAdminScripts(t *testing.T) {
	ctx := context.Background()
	c, err := clustertest.Start(clustertest.Options{Nodes: 2, Groups: 1, Recovery: server.RecoveryOptions{Manual: true},
		// Nodes check the stored version on every call: the forged write
		// below tells no node.
		Script: server.ScriptOptions{Reload: time.Nanosecond},
		Auth: server.AuthOptions{ClusterSecret: "cluster-secret-0123456789", Keys: []auth.Key{
			{ID: "app", Secret: "app-secret-0123456789", Perms: auth.Read | auth.Write},
			{ID: "ops", Secret: "ops-secret-0123456789", Perms: auth.Read | auth.Write | auth.Admin},
		}}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.WaitConverged(ctx))
	session := func(id, secret string) *client.Session {
		n, err := c.Client(ctx, client.Config{Auth: client.AuthConfig{KeyID: id, KeySecret: secret}})
		require.NoError(t, err)
		t.Cleanup(func() { n.Close() })
		s := client.NewSession(n)
		s.SetGroups(1)
		return s
	}
	app, ops := session("app", "app-secret-0123456789"), session("ops", "ops-secret-0123456789")

	_, err = app.PutScript(ctx, "s", []byte("def f():\n    return 'app'\n"))
	require.NoError(t, err, "storing is a write")
	_, err = app.Exec(ctx, client.NewKey("k"), "s@f", nil, client.ExecOptions{})
	require.Equal(t, status.NotPermitted, status.FromError(err), "%v", err)
	require.ErrorContains(t, err, `stored with key "app", which is not an admin key`)

	_, err = ops.PutScript(ctx, "s", []byte("def f():\n    return 'ops'\n"))
	require.NoError(t, err)
	r, err := app.Exec(ctx, client.NewKey("k"), "s@f", nil, client.ExecOptions{})
	require.NoError(t, err, "an admin's script runs for any caller allowed to exec")
	require.Equal(t, "ops", string(r.Data))

	// A record changed by hand (the source, keeping the admin's
	// signature) is refused.
	rec, err := ops.Script(ctx, "s", 0)
	require.NoError(t, err)
	rec.Source = "def f():\n    return 'forged'\n"
	rec.Version++
	body, err := json.Marshal(rec)
	require.NoError(t, err)
	sc := app.Clone()
	sc.SetNamespace(client.ScriptNamespace)
	_, err = sc.Write(ctx, client.ScriptKey("s", 0), body)
	require.NoError(t, err)
	_, err = app.Exec(ctx, client.NewKey("k"), "s@f", nil, client.ExecOptions{})
	require.ErrorContains(t, err, "bad signature")
}

// TestExecRangeAndLookup: the node's read_range walks its own backends of
// the exec's group, in ID order; lookup reports a key's size.
func TestExecRangeAndLookup(t *testing.T) {
	ctx := context.Background()
	_, _, sess := startCluster(t, clustertest.Options{Nodes: 1, Groups: 1, Recovery: server.RecoveryOptions{Manual: true}})
	sess.SetGroups(1)
	for i := range 5 {
		_, err := sess.Write(ctx, client.NewKey("r"+strconv.Itoa(i)), []byte("value-"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	_, err := sess.PutScript(ctx, "scan", []byte(`
def scan():
    recs = read_range("", "", 3)
    return {"n": len(recs), "ids": [r[0] for r in recs], "first": str(recs[0][1])}

def all():
    # The backend also holds the script's own keys (every group).
    return len([r for r in read_range("", "") if str(r[1]).startswith("value-")])

def size(key, data):
    info = lookup(key)
    return [info.size, lookup("missing") == None]
`))
	require.NoError(t, err)
	r, err := sess.Exec(ctx, client.NewKey("k"), "scan@scan", nil, client.ExecOptions{})
	require.NoError(t, err)
	var got struct {
		N     int
		IDs   []string
		First string
	}
	require.NoError(t, json.Unmarshal(r.Data, &got))
	require.Equal(t, 3, got.N, "the limit caps the records")
	require.True(t, slices.IsSorted(got.IDs), "in ID order: %v", got.IDs)
	require.NotEmpty(t, got.First)
	r, err = sess.Exec(ctx, client.NewKey("k"), "scan@all", nil, client.ExecOptions{})
	require.NoError(t, err)
	require.Equal(t, "5", string(r.Data))
	r, err = sess.Exec(ctx, client.NewKey("r1"), "scan@size", nil, client.ExecOptions{})
	require.NoError(t, err)
	require.JSONEq(t, `[7, true]`, string(r.Data))
}
