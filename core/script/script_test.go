package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/elliptics/elliptics/core/status"
)

// runSrc compiles src and runs fn with the call filled in.
func runSrc(t testing.TB, e *Engine, src string, call Call) ([]byte, error) {
	t.Helper()
	p, err := e.Program("t", 1, []byte(src))
	require.NoError(t, err)
	if call.Host == nil {
		call.Host = newMemHost()
	}
	return e.Run(context.Background(), p, call)
}

func TestCounterReadModifyWrite(t *testing.T) {
	src := `
def incr(key, data):
    cur = read(key)
    n = 0 if cur == None else int(str(cur))
    n += int(str(data))
    write(key, str(n))
    return n
`
	h := newMemHost()
	e := New(Options{})
	for i, want := range []string{"5", "10", "15"} {
		out, err := runSrc(t, e, src, Call{Function: "incr", Key: "c", HasKey: true, Data: []byte("5"), Host: h})
		require.NoError(t, err, "call %d", i)
		require.Equal(t, want, string(out), "result is JSON of the int")
		v, _ := h.get("c")
		require.Equal(t, want, string(v))
	}
}

func TestArityAndGlobals(t *testing.T) {
	src := `
def none():
    return "k=%s d=%s" % (key, data)
def one(d):
    return d
def two(k, d):
    return [k, str(d)]
def opt(k, d, extra=3):
    return extra
def va(*args):
    return len(args)
def fanout(k, d):
    return {"key_is_none": k == None, "node": node}
`
	tests := []struct {
		fn     string
		hasKey bool
		want   string
	}{
		{"none", true, `k=K d=b"D"`},
		{"one", true, "D"},
		{"two", true, `["K","D"]`},
		{"opt", true, "3"},
		{"va", true, "2"},
		{"fanout", false, `{"key_is_none":true,"node":"127.0.0.1:1025"}`},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			call := Call{Function: tt.fn, Data: []byte("D"), Vars: map[string]string{"node": "127.0.0.1:1025"}}
			if tt.hasKey {
				call.Key, call.HasKey = "K", true
			}
			out, err := runSrc(t, e, src, call)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out))
		})
	}
}

func TestBuiltins(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"read missing is None", `return read("nope") == None`, "true"},
		{"read offset size", `return read("a", 1, 2)`, "el"},
		{"remove existing", `return [remove("a"), remove("a")]`, "[true,false]"},
		{"lookup", `i = lookup("a"); return [i.size, i.timestamp == 1700000000.5, i.user_flags, i.checksum]`, `[5,true,7,"abcd"]`},
		{"lookup missing", `return lookup("x")`, ""},
		{"read_range", `return [(i, str(d)) for i, d in read_range("a", "b", limit=10)]`, `[["a","hello"],["b","world"]]`},
		{"read_range limit", `return len(read_range("", "", 1))`, "1"},
		{"json roundtrip", `return json.decode(json.encode({"x": [1, 2]}))["x"][1]`, "2"},
		{"struct", `return struct(a=1).a`, "1"},
		{"write string", `write("s", "txt"); return read("s")`, "txt"},
		{"none result", `return None`, ""},
		{"while and set", "n = 0\n    while n < 3:\n        n += 1\n    return len(set([n, n]))", "1"},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "def f():\n    " + tt.body + "\n"
			out, err := runSrc(t, e, src, Call{Function: "f", Host: newMemHost("a", "hello", "b", "world", "c", "!")})
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out))
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		fn     string
		limits Limits
		want   error
		code   status.Code
		msg    []string
	}{
		{"steps", "def f():\n    while True:\n        pass\n", "f", Limits{Steps: 10000}, ErrSteps, status.TooLarge,
			[]string{"step budget of 10000 exceeded"}},
		{"fail", "def f():\n    fail(\"boom\")\n", "f", Limits{}, ErrFailed, status.Invalid, []string{"boom"}},
		{"type error", "def f():\n    return 1 + \"a\"\n", "f", Limits{}, ErrFailed, status.Invalid, []string{"unknown binary op"}},
		{"recursion", "def f():\n    return g(3)\ndef g(n):\n    return g(n - 1) if n else 0\n", "f", Limits{}, ErrFailed, status.Invalid,
			[]string{"called recursively"}},
		{"unknown function", "def f():\n    pass\n", "g", Limits{}, ErrNoFunction, status.Invalid, []string{`has no function "g"`}},
		{"not callable", "g = 1\ndef f():\n    pass\n", "g", Limits{}, ErrNoFunction, status.Invalid, []string{`has no function "g"`}},
		{"builtin is not a script function", "def f():\n    pass\n", "read", Limits{}, ErrNoFunction, status.Invalid, nil},
		{"read budget", "def f():\n    return read(\"big\")\n", "f", Limits{ReadBytes: 100}, ErrBudget, status.TooLarge,
			[]string{"read budget of 100 bytes", "101 more"}},
		{"read budget sized", "def f():\n    return read(\"big\", 0, 500)\n", "f", Limits{ReadBytes: 100}, ErrBudget, status.TooLarge,
			[]string{"read budget of 100 bytes", "500 more"}},
		{"range budget", "def f():\n    return read_range(\"\", \"\")\n", "f", Limits{ReadBytes: 100}, ErrBudget, status.TooLarge,
			[]string{"read budget of 100 bytes"}},
		{"write budget", "def f():\n    write(\"a\", \"x\" * 60)\n    write(\"b\", \"x\" * 60)\n", "f", Limits{WriteBytes: 100}, ErrBudget, status.TooLarge,
			[]string{"write budget of 100 bytes", "60 used", "60 more"}},
		{"result budget", "def f():\n    return \"x\" * 200\n", "f", Limits{ResultBytes: 100}, ErrBudget, status.TooLarge,
			[]string{"result budget of 100 bytes", "200 bytes"}},
		{"unencodable", "def f():\n    return f\n", "f", Limits{}, ErrFailed, status.Invalid, []string{"not JSON-encodable"}},
		{"undefined var", "def f():\n    return time.now()\n", "f", Limits{}, ErrCompile, status.Invalid, []string{"2:12", "undefined: time"}},
		{"no random", "def f():\n    return random()\n", "f", Limits{}, ErrCompile, status.Invalid, []string{"undefined: random"}},
		{"no open", "def f():\n    return open(\"/etc/passwd\")\n", "f", Limits{}, ErrCompile, status.Invalid, []string{"undefined: open"}},
		{"negative limits", "def f():\n    pass\n", "f", Limits{Memory: -1}, status.ErrInvalid, status.Invalid, []string{"negative memory"}},
		{"top level fails", "fail(\"at load\")\ndef f():\n    pass\n", "f", Limits{}, ErrFailed, status.Invalid, []string{"at load"}},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newMemHost("big", strings.Repeat("b", 1000))
			_, err := runSrc(t, e, tt.src, Call{Function: tt.fn, Limits: tt.limits, Host: h})
			require.Error(t, err)
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, tt.code, status.FromError(err))
			for _, m := range tt.msg {
				require.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	all := []error{ErrCompile, ErrNoFunction, ErrSteps, ErrTimeout, ErrBudget, ErrMemory, ErrFailed}
	for i, a := range all {
		for j, b := range all {
			require.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
	// An instance matches its sentinel and its status code, not the sibling of the same code.
	err := newError(ErrBudget, nil, "x")
	require.ErrorIs(t, err, ErrBudget)
	require.ErrorIs(t, err, status.ErrTooLarge)
	require.NotErrorIs(t, err, ErrSteps)
	require.Equal(t, "x", status.Message(err))
}

func TestCompile(t *testing.T) {
	p, err := Compile("s", 3, []byte("def b():\n    pass\ndef a(x):\n    pass\nc = 1\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, p.Functions())
	require.Equal(t, uint64(3), p.Version)

	_, err = Compile("s", 1, []byte("def f(:\n"))
	require.ErrorIs(t, err, ErrCompile)
	require.Equal(t, status.Invalid, status.FromError(err))
	require.Contains(t, err.Error(), "s:1:")

	_, err = Compile("s", 1, []byte("load(\"x.star\", \"y\")\ndef f():\n    pass\n"))
	require.ErrorIs(t, err, ErrCompile)
	require.Contains(t, err.Error(), "load is not available")

	_, err = Compile("s", 1, make([]byte, MaxSource+1))
	require.ErrorIs(t, err, ErrCompile)
	require.Equal(t, status.TooLarge, status.FromError(err))

	p, err = Compile("s", 1, []byte("def f():\n    return nodee + group\n"))
	require.NoError(t, err, "Vars are only known per call")
	require.Equal(t, []string{"nodee", "group"}, p.FreeNames())
}

func TestHostErrorKeepsCode(t *testing.T) {
	tests := []struct {
		body string
		err  error
	}{
		{`write("a", b"x")`, status.ErrReadOnly},
		{`remove("a")`, status.ErrReadOnly},
		{`write("a", b"x")`, status.ErrNoSpace},
	}
	e := New(Options{})
	for _, tt := range tests {
		h := newMemHost("a", "1")
		h.err = tt.err
		_, err := runSrc(t, e, "def f():\n    "+tt.body+"\n", Call{Function: "f", Host: h})
		require.ErrorIs(t, err, tt.err)
		require.Equal(t, status.FromError(tt.err), status.FromError(err))
		require.Contains(t, err.Error(), `"a"`)
	}
}

// panicHost panics in every call: the engine must contain it.
type panicHost struct{ memHost }

func (*panicHost) Write(context.Context, string, []byte) error { panic("disk on fire") }

func TestHostPanicContained(t *testing.T) {
	_, err := runSrc(t, New(Options{}), "def f():\n    write(\"a\", \"b\")\n", Call{Function: "f", Host: &panicHost{}})
	require.ErrorIs(t, err, ErrFailed)
	require.Contains(t, err.Error(), "disk on fire")
}

func TestTimeout(t *testing.T) {
	e := New(Options{})
	start := time.Now()
	_, err := runSrc(t, e, "def f():\n    while True:\n        pass\n", Call{Function: "f",
		Limits: Limits{Steps: 1 << 62, Timeout: 100 * time.Millisecond}})
	require.ErrorIs(t, err, ErrTimeout)
	require.Equal(t, status.Timeout, status.FromError(err))
	require.Contains(t, err.Error(), "deadline of 100ms exceeded")
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestCallerCancel(t *testing.T) {
	e := New(Options{})
	p, err := e.Program("t", 1, []byte("def f():\n    while True:\n        pass\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = e.Run(ctx, p, Call{Function: "f", Host: newMemHost(), Limits: Limits{Steps: 1 << 62}})
	require.Equal(t, status.Canceled, status.FromError(err))
}

func TestMemory(t *testing.T) {
	e := New(Options{})
	// Unchecked, this ends with a 2 GiB string (4 GiB with the one before).
	src := "def f():\n    s = \"x\" * 1024\n    for i in range(21):\n        s = s + s\n    return len(s)\n"
	_, err := runSrc(t, e, src, Call{Function: "f", Limits: Limits{Memory: 64 << 20}})
	require.ErrorIs(t, err, ErrMemory)
	require.Equal(t, status.TooLarge, status.FromError(err))
	require.Contains(t, err.Error(), "memory budget of 64 MiB")

	// The process lives on and small scripts still run under the same budget.
	out, err := runSrc(t, e, "def f():\n    return len(\"x\" * 1000)\n", Call{Function: "f", Limits: Limits{Memory: 64 << 20}})
	require.NoError(t, err)
	require.Equal(t, "1000", string(out))
}

func TestPrintGoesToLogger(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	out, err := runSrc(t, New(Options{Logger: zap.New(core)}), "def f():\n    print(\"hi\", 2)\n    return 1\n", Call{Function: "f"})
	require.NoError(t, err)
	require.Equal(t, "1", string(out))
	entries := logs.FilterField(zap.String("script", "t")).FilterField(zap.String("msg", "hi 2")).All()
	require.Len(t, entries, 1)
	require.Equal(t, zap.DebugLevel, entries[0].Level)
}

func TestLimitsCapValidate(t *testing.T) {
	d := DefaultLimits()
	require.NoError(t, d.Validate())
	c := d.Cap(Limits{Steps: 10, Timeout: time.Second, ReadBytes: 1, Memory: 1 << 40, ResultBytes: -5})
	require.Equal(t, uint64(10), c.Steps)
	require.Equal(t, time.Second, c.Timeout)
	require.Equal(t, int64(1), c.ReadBytes)
	require.Equal(t, d.WriteBytes, c.WriteBytes, "zero is no override")
	require.Equal(t, d.Memory, c.Memory, "never raised")
	require.Equal(t, d.ResultBytes, c.ResultBytes, "negative is no override")
	require.Equal(t, d, d.Cap(Limits{Steps: 1 << 40, Timeout: time.Hour}))

	for _, l := range []Limits{{Timeout: -1}, {ReadBytes: -1}, {WriteBytes: -1}, {ResultBytes: -1}, {Memory: -1}} {
		require.ErrorIs(t, l.Validate(), status.ErrInvalid, "%+v", l)
	}
}

func TestProgramCache(t *testing.T) {
	e := New(Options{CacheSize: 2})
	src := []byte("def f():\n    return 1\n")
	p1, err := e.Program("a", 1, src)
	require.NoError(t, err)
	p2, err := e.Program("a", 1, src)
	require.NoError(t, err)
	require.Same(t, p1, p2)

	p3, err := e.Program("a", 1, []byte("def f():\n    return 2\n"))
	require.NoError(t, err)
	require.NotSame(t, p1, p3, "changed source recompiles")
	p4, err := e.Program("a", 2, src)
	require.NoError(t, err)
	require.NotSame(t, p1, p4, "version is part of the key")

	// Cache of 2: p1 was evicted by p3 and p4.
	p5, err := e.Program("a", 1, src)
	require.NoError(t, err)
	require.NotSame(t, p1, p5)
}

func TestConcurrentRuns(t *testing.T) {
	e := New(Options{})
	h := newMemHost()
	src := []byte("def f(key, data):\n    write(key, data)\n    t = 0\n    for i in range(1000):\n        t += i\n    return [key, str(read(key)), t]\n")
	p, err := e.Program("c", 1, src)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	outs := make([]string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprint("k", i)
			var out []byte
			for range 20 {
				out, errs[i] = e.Run(context.Background(), p, Call{Function: "f", Key: k, HasKey: true, Data: []byte(k), Host: h})
				if errs[i] != nil {
					return
				}
			}
			outs[i] = string(out)
		}()
	}
	wg.Wait()
	for i := range 8 {
		require.NoError(t, errs[i])
		require.Equal(t, fmt.Sprintf(`["k%d","k%d",499500]`, i, i), outs[i])
	}
	require.Equal(t, uint64(160), e.Stats()["c"].Calls)
}

func TestStats(t *testing.T) {
	e := New(Options{})
	src := "def ok():\n    return 1\ndef spin():\n    while True:\n        pass\ndef big():\n    return \"x\" * 100\ndef bad():\n    fail(\"x\")\n"
	calls := []struct {
		fn     string
		limits Limits
	}{
		{"ok", Limits{}}, {"ok", Limits{}},
		{"spin", Limits{Steps: 1000}},
		{"spin", Limits{Steps: 1 << 62, Timeout: 20 * time.Millisecond}},
		{"big", Limits{ResultBytes: 10}},
		{"bad", Limits{}},
	}
	for _, c := range calls {
		_, _ = runSrc(t, e, src, Call{Function: c.fn, Limits: c.limits})
	}
	s := e.Stats()["t"]
	require.Equal(t, uint64(6), s.Calls)
	require.Equal(t, uint64(4), s.Errors)
	require.Equal(t, uint64(1), s.StepLimit)
	require.Equal(t, uint64(1), s.TimeLimit)
	require.Equal(t, uint64(1), s.ByteLimit)
	require.Equal(t, uint64(0), s.MemoryLimit)
	require.GreaterOrEqual(t, s.MaxLatency, 20*time.Millisecond)
	require.GreaterOrEqual(t, s.Latency, s.MaxLatency)
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"def f():\n    return 1\n",
		"def f(k, d):\n    while True:\n        d = d + d\n",
		"x = [i for i in range(10)]\ndef f(d):\n    return x[int(str(d) or '0')]\n",
		"def f(:\n",
		"load('a', 'b')\n",
	} {
		f.Add([]byte(s))
	}
	e := New(Options{})
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile("fuzz", 1, src)
		if err != nil {
			require.ErrorIs(t, err, ErrCompile)
			return
		}
		vars := map[string]string{}
		for _, n := range p.FreeNames() {
			vars[n] = "v"
		}
		for _, fn := range append(p.Functions(), "f") {
			_, _ = e.Run(context.Background(), p, Call{Function: fn, Data: []byte("1"), Host: newMemHost("a", "b"), Vars: vars,
				Limits: Limits{Steps: 10000, Timeout: time.Second, Memory: 64 << 20, ReadBytes: 1 << 20, WriteBytes: 1 << 20}})
		}
	})
}

// slowHost blocks every read until the call's context ends.
type slowHost struct{ memHost }

func (*slowHost) Read(ctx context.Context, _ string, _, _ uint64) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestTimeoutInsideHostCall(t *testing.T) {
	// The deadline reaches the host through ctx; the call must report
	// ErrTimeout, not the host's wrapped context error. (Which of the host
	// and the AfterFunc sees the deadline first is a narrow race; the
	// loop makes the first more likely, both must give ErrTimeout.)
	for range 20 {
		_, err := runSrc(t, New(Options{}), "def f():\n    return read(\"a\")\n", Call{Function: "f", Host: &slowHost{},
			Limits: Limits{Timeout: 10 * time.Millisecond}})
		require.ErrorIs(t, err, ErrTimeout)
		require.Equal(t, status.Timeout, status.FromError(err))
	}
}

func TestVarsDoNotShadowBuiltins(t *testing.T) {
	out, err := runSrc(t, New(Options{}), "def f():\n    return [str(read(\"a\")), group]\n", Call{Function: "f",
		Host: newMemHost("a", "v"), Vars: map[string]string{"read": "oops", "group": "1"}})
	require.NoError(t, err)
	require.Equal(t, `["v","1"]`, string(out))
}
