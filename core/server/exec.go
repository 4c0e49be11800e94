package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/script"
	"github.com/elliptics/elliptics/core/status"
)

// ScriptOptions configure the scripts a node runs (EXEC).
type ScriptOptions struct {
	// Disabled refuses every EXEC with status.Unsupported.
	Disabled bool
	// Limits bound every call; a request may only lower them. Zero
	// fields take script.DefaultLimits.
	Limits script.Limits
	// Reload is how long a loaded script is trusted before the node
	// checks the cluster for a newer version (default 10s). A put or
	// remove also tells every node at once; this catches a node that
	// missed it.
	Reload time.Duration
	// Concurrency bounds the scripts running at once on the node
	// (default 2 × GOMAXPROCS); more wait for a slot until their deadline.
	Concurrency int
	// Workers, when set, runs scripts in worker processes started with
	// this command (e.g. {ellipticsd, "script-worker"}), Concurrency of
	// them, each under a memory limit (RLIMIT_DATA) of WorkerMemory beyond its
	// start (script.ProcessRunner): a script that exhausts memory kills
	// its worker, not the node. Empty: scripts run in the node's process,
	// where Limits.Memory is a coarse guard.
	Workers []string
	// WorkerMemory is each worker's allowance (default
	// script.DefaultWorkerMemory).
	WorkerMemory int64
}

// scriptRunner runs a compiled script: in the node's process
// (script.Engine) or in worker processes (script.ProcessRunner).
type scriptRunner interface {
	Run(ctx context.Context, p *script.Program, call script.Call) ([]byte, error)
	Stats() map[string]script.ScriptStats
}

// DefaultScriptReload is ScriptOptions.Reload's default.
const DefaultScriptReload = 10 * time.Second

func (o *ScriptOptions) setDefaults() {
	if o.Reload == 0 {
		o.Reload = DefaultScriptReload
	}
	if o.Concurrency == 0 {
		o.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	o.Limits = o.Limits.WithDefaults()
}

// scriptState is a node's script engine and its cache of loaded scripts.
type scriptState struct {
	engine  *script.Engine // compiles (and caches) programs; runs them unless workers do
	runner  scriptRunner
	workers *script.ProcessRunner // nil: scripts run in the node's process
	slots   chan struct{}

	mu     sync.Mutex
	loaded map[string]*loadedScript
}

// loadedScript is a script as last read from the cluster.
type loadedScript struct {
	mu      sync.Mutex // one load at a time per script
	prog    *script.Program
	checked time.Time
}

func (s *Server) initScripts() {
	s.scripts.engine = script.New(script.Options{Logger: s.log.Named("script")})
	s.scripts.runner = s.scripts.engine
	if o := s.opts.Script; len(o.Workers) > 0 {
		s.scripts.workers = script.NewProcessRunner(script.ProcessOptions{Command: o.Workers, MemoryLimit: o.WorkerMemory,
			Workers: o.Concurrency, Logger: s.log.Named("script-worker")})
		s.scripts.runner = s.scripts.workers
	}
	s.scripts.slots = make(chan struct{}, s.opts.Script.Concurrency)
	s.scripts.loaded = map[string]*loadedScript{}
}

// handleExec serves EXEC: it runs a stored script's function on the
// owner of the key (forwarding the request there when that is another
// node), or with ExecNoKey here, and replies with the function's result.
// Not Ordered: a script may write its own key, through the per-key queue.
func (s *Server) handleExec(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	if s.opts.Script.Disabled {
		return nil, status.Errorf(status.Unsupported, "scripts are disabled on this node ([script] enabled = false)")
	}
	er, err := proto.DecodeExecRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	if er.Flags&proto.ExecInvalidate != 0 {
		s.scripts.mu.Lock()
		delete(s.scripts.loaded, er.Script)
		s.scripts.mu.Unlock()
		return nil, nil
	}
	h := req.Header
	group := h.Group
	if er.Flags&proto.ExecNoKey == 0 {
		owner, remote := s.route(&h)
		if remote {
			return s.forward(ctx, owner, h, req.Payload)
		}
		if len(s.byGroup[h.Group]) == 0 {
			return nil, status.Errorf(status.NoRoute, "exec %s@%s: this node serves no backend of group %d", er.Script, er.Function, h.Group)
		}
	} else if len(s.backends) > 0 {
		group = s.backends[0].Group
	}
	prog, err := s.loadScript(ctx, er.Script)
	if err != nil {
		return nil, err
	}
	select {
	case s.scripts.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, status.Errorf(status.Overloaded, "exec %s@%s: no free script slot (%d running) before the deadline",
			er.Script, er.Function, cap(s.scripts.slots))
	}
	defer func() { <-s.scripts.slots }()

	lim := s.opts.Script.Limits.Cap(script.Limits{
		Steps: er.Limits.Steps, Timeout: er.Limits.Timeout,
		ReadBytes: clampInt64(er.Limits.ReadBytes), WriteBytes: clampInt64(er.Limits.WriteBytes),
		ResultBytes: clampInt64(er.Limits.ResultBytes), Memory: clampInt64(er.Limits.Memory),
	})
	groups := er.Groups
	if len(groups) == 0 {
		groups = []uint32{group}
	}
	host := &execHost{s: s, ls: s.execSession(er.Namespace, group, groups), group: group}
	start := time.Now()
	out, err := s.scripts.runner.Run(ctx, prog, script.Call{
		Function: er.Function, Key: er.Key, HasKey: er.Flags&proto.ExecNoKey == 0, Data: er.Data,
		Host: host, Limits: lim,
		Vars: map[string]string{"node": s.address(), "group": strconv.FormatUint(uint64(group), 10)},
	})
	if err != nil {
		return nil, fmt.Errorf("exec %s@%s: %w", er.Script, er.Function, err)
	}
	rep := proto.ExecReply{Address: s.replyAddress(req), Group: group, Duration: time.Since(start)}
	return [][]byte{rep.AppendHead(nil), out}, nil
}

func clampInt64(v uint64) int64 { return int64(min(v, 1<<62)) }

// execSession is what a script's builtins use: the exec's namespace, its
// group first, then the caller's other groups.
func (s *Server) execSession(ns string, group uint32, groups []uint32) *localSession {
	ordered := append(make([]uint32, 0, len(groups)+1), group)
	for _, g := range groups {
		if g != group {
			ordered = append(ordered, g)
		}
	}
	return &localSession{s: s, ns: ns, groups: ordered}
}

// loadScript returns the compiled latest version of script name, from the
// cache while it is fresh, else from the cluster.
func (s *Server) loadScript(ctx context.Context, name string) (*script.Program, error) {
	s.scripts.mu.Lock()
	ls := s.scripts.loaded[name]
	if ls == nil {
		ls = &loadedScript{}
		s.scripts.loaded[name] = ls
	}
	s.scripts.mu.Unlock()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.prog != nil && time.Since(ls.checked) < s.opts.Script.Reload {
		return ls.prog, nil
	}
	rec, err := s.fetchScript(ctx, name)
	if err != nil {
		if errors.Is(err, status.ErrNotFound) {
			s.scripts.mu.Lock()
			if s.scripts.loaded[name] == ls {
				delete(s.scripts.loaded, name)
			}
			s.scripts.mu.Unlock()
		}
		return nil, err
	}
	prog, err := s.scripts.engine.Program(rec.Name, rec.Version, []byte(rec.Source))
	if err != nil {
		return nil, err
	}
	if ls.prog == nil || ls.prog.Version != prog.Version {
		s.log.Info("script loaded", zap.String("script", name), zap.Uint64("version", prog.Version))
	}
	ls.prog, ls.checked = prog, time.Now()
	return prog, nil
}

// fetchScript reads the latest version of script name from the first
// group of the route table that has it.
func (s *Server) fetchScript(ctx context.Context, name string) (client.ScriptRecord, error) {
	groups := s.Table().Groups()
	if len(groups) == 0 {
		for g := range s.byGroup {
			groups = append(groups, g)
		}
	}
	ls := &localSession{s: s, ns: client.ScriptNamespace, groups: groups}
	_, data, err := ls.read(ctx, client.ScriptKey(name, 0).Name, proto.IOAttr{})
	if errors.Is(err, status.ErrNotFound) {
		return client.ScriptRecord{}, status.Errorf(status.NotFound, "script %s: no such script", name)
	}
	if err != nil {
		return client.ScriptRecord{}, fmt.Errorf("script %s: %w", name, err)
	}
	rec, err := client.DecodeScriptRecord(name, data)
	if err != nil {
		return rec, err
	}
	return rec, s.checkScriptSigner(&rec)
}

// checkScriptSigner refuses, on a node that authenticates, a script that
// no admin key (nor the cluster secret) signed: write permission on the
// scripts' keys must not be enough to make the nodes run code.
func (s *Server) checkScriptSigner(rec *client.ScriptRecord) error {
	if !s.auth.on {
		return nil
	}
	var secret []byte
	switch rec.Signer {
	case "":
		return status.Errorf(status.NotPermitted, "script %s: version %d is not signed; this node runs only scripts stored with an admin key", rec.Name, rec.Version)
	case client.ScriptSignerCluster:
		secret = []byte(s.opts.Auth.ClusterSecret)
	default:
		k, ok := s.auth.keys.Lookup(rec.Signer)
		if !ok || !k.Perms.Has(auth.Admin) {
			return status.Errorf(status.NotPermitted, "script %s: version %d was stored with key %q, which is not an admin key of this node", rec.Name, rec.Version, rec.Signer)
		}
		secret = []byte(k.Secret)
	}
	sig, err := hex.DecodeString(rec.Signature)
	if err != nil || len(secret) == 0 || !auth.VerifyScript(secret, rec.Name, rec.Version, []byte(rec.Source), sig) {
		return status.Errorf(status.NotPermitted, "script %s: version %d has a bad signature for %q", rec.Name, rec.Version, rec.Signer)
	}
	return nil
}

// execHost is what a running script's builtins reach: keys through the
// node itself, each on its owner (here, in the key's order, or forwarded),
// reads in the exec's group first, writes and removes in every group of
// the caller; ranges over this node's backends of the exec's group.
type execHost struct {
	s     *Server
	ls    *localSession
	group uint32
}

func (h *execHost) Read(ctx context.Context, key string, offset, size uint64) ([]byte, error) {
	_, data, err := h.ls.read(ctx, key, proto.IOAttr{Offset: offset, Size: size})
	return data, err
}

func (h *execHost) Write(ctx context.Context, key string, data []byte) error {
	a := proto.IOAttr{Size: uint64(len(data)), Timestamp: time.Now().UTC()}
	return h.ls.all(ctx, proto.CmdWrite, key, a.Append(nil), data)
}

func (h *execHost) Remove(ctx context.Context, key string) error {
	a := proto.IOAttr{Timestamp: time.Now().UTC()}
	return h.ls.all(ctx, proto.CmdRemove, key, a.Append(nil))
}

func (h *execHost) Lookup(ctx context.Context, key string) (script.Info, error) {
	li, err := h.ls.lookup(ctx, key)
	if err != nil {
		return script.Info{}, err
	}
	in := script.Info{Size: li.TotalSize, Timestamp: li.Timestamp, UserFlags: li.UserFlags}
	if !li.Checksum.IsZero() {
		in.Checksum = li.Checksum.String()
	}
	return in, nil
}

func (h *execHost) ReadRange(ctx context.Context, start, end string, limit int) ([]script.Record, error) {
	lo, hi := id.Zero, id.Max
	var err error
	if start != "" {
		if lo, err = id.Parse(start); err != nil {
			return nil, status.Errorf(status.Invalid, "read_range: start %q: %v", start, err)
		}
	}
	if end != "" {
		if hi, err = id.Parse(end); err != nil {
			return nil, status.Errorf(status.Invalid, "read_range: end %q: %v", end, err)
		}
		if hi.IsZero() {
			return nil, nil
		}
		hi = hi.Prev() // [start, end)
	}
	var out []script.Record
	for _, b := range h.s.byGroup[h.group] {
		st, err := b.acquire()
		if err != nil {
			continue // a disabled backend serves nothing
		}
		err = st.Iterate(ctx, backend.IterateOptions{Start: lo, End: hi}, func(rec backend.Record) error {
			if backend.Reserved(rec.Column) || rec.Column != "" {
				return nil
			}
			if limit > 0 && len(out) >= limit {
				return errLimit
			}
			data, _, err := st.Read(ctx, rec.Key, 0, 0)
			if errors.Is(err, status.ErrNotFound) {
				return nil // removed or expired since the scan
			}
			if err != nil {
				return err
			}
			out = append(out, script.Record{ID: rec.ID.String(), Data: data})
			return nil
		})
		b.release()
		if err != nil && !errors.Is(err, errLimit) {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b script.Record) int { return strings.Compare(a.ID, b.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
