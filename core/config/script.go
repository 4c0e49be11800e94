package config

import (
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/script"
	"github.com/elliptics/elliptics/core/server"
)

// Defaults of the [script] table.
const (
	DefaultScriptSteps       = 10_000_000
	DefaultScriptTimeout     = 5 * time.Second
	DefaultScriptReadBytes   = Size(64 * MiB)
	DefaultScriptWriteBytes  = Size(64 * MiB)
	DefaultScriptResultBytes = Size(16 * MiB)
	DefaultScriptMemory      = Size(256 * MiB)
	DefaultScriptReload      = server.DefaultScriptReload
	// MaxScriptTimeout bounds timeout: a script is a request, and a
	// request's reply must come while the caller still waits.
	MaxScriptTimeout = time.Hour
)

// Script is the [script] table: the scripts the node runs next to its
// data (EXEC, docs/scripting.md). Callers may lower every limit for a
// call, never raise it.
type Script struct {
	// Enabled lets clients run stored scripts on the node. Default true.
	Enabled bool `toml:"enabled"`
	// Steps bounds the Starlark steps of one call. Default 10000000.
	Steps int64 `toml:"steps"`
	// Timeout bounds one call's run time, 1ms..1h and at most
	// node.request_timeout. Default "5s".
	Timeout Duration `toml:"timeout"`
	// ReadBytes, WriteBytes and ResultBytes bound what one call's
	// builtins read and write, and its result. Defaults "64MiB", "64MiB",
	// "16MiB".
	ReadBytes   Size `toml:"read_bytes"`
	WriteBytes  Size `toml:"write_bytes"`
	ResultBytes Size `toml:"result_bytes"`
	// Memory bounds the heap a call may grow the process by (coarse: the
	// heap is the process's). Default "256MiB".
	Memory Size `toml:"memory"`
	// Concurrency bounds the calls running at once; 0 = 2 × the CPUs.
	// Default 0.
	Concurrency int `toml:"concurrency"`
	// Reload is how long the node trusts a loaded script before checking
	// the cluster for a newer version (puts and removes also tell every
	// node at once). Default "10s".
	Reload Duration `toml:"reload"`
	// Isolation is where scripts run: "none", in the node's process
	// (fastest; memory is a coarse guard), or "process", in worker
	// processes of ellipticsd (one per concurrent call) under an
	// memory limit of worker_memory, so a script that exhausts
	// memory kills its worker, not the node. Default "none".
	Isolation string `toml:"isolation"`
	// WorkerMemory is each worker's memory allowance beyond what
	// it maps at start. Default "1GiB".
	WorkerMemory Size `toml:"worker_memory"`
}

// ScriptIsolations are the accepted values of script.isolation.
var ScriptIsolations = []string{"none", "process"}

func defaultScript() Script {
	return Script{Enabled: true, Steps: DefaultScriptSteps, Timeout: Duration{DefaultScriptTimeout},
		ReadBytes: DefaultScriptReadBytes, WriteBytes: DefaultScriptWriteBytes, ResultBytes: DefaultScriptResultBytes,
		Memory: DefaultScriptMemory, Reload: Duration{DefaultScriptReload}, Isolation: "none",
		WorkerMemory: Size(script.DefaultWorkerMemory)}
}

// validate adds the problems of the [script] table to p.
func (s *Script) validate(p *problems, requestTimeout time.Duration) {
	if s.Steps < 1 {
		p.add("script.steps", "must be >= 1, got %d", s.Steps)
	}
	switch t := s.Timeout.Duration; {
	case t < time.Millisecond || t > MaxScriptTimeout:
		p.add("script.timeout", "must be in 1ms..%v, got %v", MaxScriptTimeout, s.Timeout)
	case t > requestTimeout:
		p.add("script.timeout", "%v is longer than node.request_timeout (%v): the call would outlive its request", t, requestTimeout)
	}
	for _, f := range []struct {
		name string
		v    Size
	}{{"script.read_bytes", s.ReadBytes}, {"script.write_bytes", s.WriteBytes}, {"script.result_bytes", s.ResultBytes}, {"script.memory", s.Memory}} {
		if f.v < 1 {
			p.add(f.name, "must be > 0, got %v", f.v)
		}
	}
	if s.Concurrency < 0 || s.Concurrency > 64*runtime.NumCPU()+1024 {
		p.add("script.concurrency", "must be in 0..%d, got %d", 64*runtime.NumCPU()+1024, s.Concurrency)
	}
	if s.Reload.Duration <= 0 {
		p.add("script.reload", "must be > 0, got %v", s.Reload)
	}
	if !slices.Contains(ScriptIsolations, s.Isolation) {
		p.add("script.isolation", "%q is not one of %s", s.Isolation, strings.Join(ScriptIsolations, ", "))
	}
	if s.WorkerMemory < 64*MiB {
		p.add("script.worker_memory", "must be >= 64MiB, got %v", s.WorkerMemory)
	}
}

// options returns the server's script options. Isolation "process"
// needs the worker command, which only the daemon knows (ellipticsd
// script-worker): it sets Workers.
func (s *Script) options() server.ScriptOptions {
	return server.ScriptOptions{
		Disabled: !s.Enabled,
		Limits: script.Limits{Steps: uint64(s.Steps), Timeout: s.Timeout.Duration, ReadBytes: int64(s.ReadBytes),
			WriteBytes: int64(s.WriteBytes), ResultBytes: int64(s.ResultBytes), Memory: int64(s.Memory)},
		Reload:       s.Reload.Duration,
		Concurrency:  s.Concurrency,
		WorkerMemory: int64(s.WorkerMemory),
	}
}
