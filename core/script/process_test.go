package script

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/status"
)

const workerEnv = "ELLIPTICS_SCRIPT_TEST_WORKER"

// TestMain turns the test binary into a script worker when a
// ProcessRunner of these tests starts it.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := WorkerMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newTestRunner(t *testing.T, o ProcessOptions) *ProcessRunner {
	t.Helper()
	if raceEnabled && o.MemoryLimit == 0 {
		o.MemoryLimit = -1 // see ProcessOptions.MemoryLimit
	}
	o.Command = []string{os.Args[0], "-test.run=^$"}
	o.Env = []string{workerEnv + "=1"}
	pr := NewProcessRunner(o)
	t.Cleanup(func() { _ = pr.Close() })
	return pr
}

func TestProcessRunner(t *testing.T) {
	pr := newTestRunner(t, ProcessOptions{})
	h := newMemHost("a", "hello")
	src := `
def incr(key, data):
    cur = read(key)
    n = 0 if cur == None else int(str(cur))
    write(key, str(n + 1))
    return {"n": n + 1, "node": node, "a": lookup("a").size, "range": len(read_range("", "")), "gone": remove("zz")}
def spin():
    while True:
        pass
def ro():
    write("a", "x")
def boom():
    fail("boom")
def none():
    return None
`
	p, err := Compile("proc", 1, []byte(src))
	require.NoError(t, err)
	vars := map[string]string{"node": "n1"}
	for i := 1; i <= 3; i++ {
		out, err := pr.Run(context.Background(), p, Call{Function: "incr", Key: "c", HasKey: true, Host: h, Vars: vars})
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf(`{"a":5,"gone":false,"n":%d,"node":"n1","range":2}`, i), string(out))
	}
	v, _ := h.get("c")
	require.Equal(t, "3", string(v))

	out, err := pr.Run(context.Background(), p, Call{Function: "none", Host: h, Vars: vars})
	require.NoError(t, err)
	require.Equal(t, []byte{}, out)

	tests := []struct {
		fn     string
		limits Limits
		host   *memHost
		want   error
		code   status.Code
	}{
		{"spin", Limits{Steps: 10000}, h, ErrSteps, status.TooLarge},
		{"boom", Limits{}, h, ErrFailed, status.Invalid},
		{"nope", Limits{}, h, ErrNoFunction, status.Invalid},
		{"ro", Limits{}, &memHost{m: map[string][]byte{}, err: status.ErrReadOnly}, status.ErrReadOnly, status.ReadOnly},
	}
	for _, tt := range tests {
		_, err := pr.Run(context.Background(), p, Call{Function: tt.fn, Host: tt.host, Limits: tt.limits, Vars: vars})
		require.ErrorIs(t, err, tt.want, tt.fn)
		require.Equal(t, tt.code, status.FromError(err), tt.fn)
	}
	_, err = pr.Run(context.Background(), p, Call{Function: "boom", Host: h, Vars: vars})
	require.Contains(t, err.Error(), "boom")
	require.Equal(t, uint64(9), pr.Stats()["proc"].Calls)
}

func TestProcessRunnerMemoryKillsWorker(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's allocator cannot run under a memory limit; run without -race")
	}
	pr := newTestRunner(t, ProcessOptions{MemoryLimit: 256 << 20})
	// One operation of 512 MiB: the in-worker heap guard (given a huge
	// budget here) cannot stop it; the memory limit does.
	p, err := Compile("mem", 1, []byte("def f():\n    return len(\"x\" * (1 << 29))\ndef ok():\n    return 1\n"))
	require.NoError(t, err)
	_, err = pr.Run(context.Background(), p, Call{Function: "f", Host: newMemHost(), Limits: Limits{Memory: 8 << 30}})
	require.ErrorIs(t, err, ErrMemory)
	require.Equal(t, status.TooLarge, status.FromError(err))
	require.Contains(t, err.Error(), "restarted")

	out, err := pr.Run(context.Background(), p, Call{Function: "ok", Host: newMemHost()})
	require.NoError(t, err, "a fresh worker serves the next call")
	require.Equal(t, "1", string(out))
}

func TestProcessRunnerTimeoutAndConcurrency(t *testing.T) {
	pr := newTestRunner(t, ProcessOptions{Workers: 2})
	p, err := Compile("t", 1, []byte("def spin():\n    while True:\n        pass\ndef f(k, d):\n    return d\n"))
	require.NoError(t, err)
	start := time.Now()
	_, err = pr.Run(context.Background(), p, Call{Function: "spin", Host: newMemHost(),
		Limits: Limits{Steps: 1 << 62, Timeout: 100 * time.Millisecond}})
	require.ErrorIs(t, err, ErrTimeout)
	require.Less(t, time.Since(start), 5*time.Second)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := fmt.Sprint("d", i)
			out, err := pr.Run(context.Background(), p, Call{Function: "f", Data: []byte(d), Host: newMemHost()})
			if err == nil && string(out) != d {
				err = fmt.Errorf("got %q, want %q", out, d)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
