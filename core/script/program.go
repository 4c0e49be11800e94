package script

import (
	"errors"
	"fmt"
	"sort"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/elliptics/elliptics/core/status"
)

// MaxSource bounds a script's source.
const MaxSource = 1 << 20

// fileOptions: Python-ish code users expect (while, set, top-level if/for,
// reassigned globals) with recursion still refused; loops are bounded by
// the step budget anyway.
var fileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
}

// Program is a compiled script: name, version and its top-level functions.
// It is immutable and may be run by many goroutines at once.
type Program struct {
	Name    string
	Version uint64

	prog  *starlark.Program
	src   []byte          // kept for ProcessRunner, which compiles again in the worker
	funcs []string        // top-level def names, sorted
	free  []freeName      // names the script uses that are neither builtins nor universal
	isFn  map[string]bool // funcs as a set
}

// freeName is a name resolved as predeclared that the engine does not
// provide itself: it must come from Call.Vars.
type freeName struct {
	name string
	pos  syntax.Position
}

// builtinNames are the predeclared names every call gets.
var builtinNames = map[string]bool{
	"key": true, "data": true,
	"read": true, "write": true, "remove": true, "lookup": true, "read_range": true,
	"json": true, "struct": true,
}

// Compile parses and resolves src. Syntax and resolution errors are
// ErrCompile with line:col; a source over MaxSource is ErrCompile with the
// TooLarge code.
//
// Names that are neither builtins nor Starlark's universe are accepted
// here, since Call.Vars are only known per call; Run refuses a call whose
// Vars lack one (FreeNames lists them so an upload can warn).
func Compile(name string, version uint64, src []byte) (p *Program, err error) {
	if len(src) > MaxSource {
		e := newError(ErrCompile, nil, fmt.Sprintf("script %q: source of %d bytes exceeds %d", name, len(src), MaxSource))
		e.code = status.TooLarge
		return nil, e
	}
	defer func() {
		// The parser is fuzzed upstream, but a script must never take the
		// node down.
		if r := recover(); r != nil {
			p, err = nil, newError(ErrCompile, nil, fmt.Sprintf("script %q: compiler panic: %v", name, r))
		}
	}()
	f, prog, err := starlark.SourceProgramOptions(fileOptions, name, src, isPredeclared)
	if err != nil {
		return nil, newError(ErrCompile, err, fmt.Sprintf("script %q: %s", name, compileMessage(err)))
	}
	if prog.NumLoads() > 0 {
		_, pos := prog.Load(0)
		return nil, newError(ErrCompile, nil, fmt.Sprintf("script %q: %s: load is not available", name, pos))
	}
	p = &Program{Name: name, Version: version, prog: prog, src: append([]byte(nil), src...), isFn: map[string]bool{}}
	for _, st := range f.Stmts {
		if def, ok := st.(*syntax.DefStmt); ok && !p.isFn[def.Name.Name] {
			p.isFn[def.Name.Name] = true
			p.funcs = append(p.funcs, def.Name.Name)
		}
	}
	sort.Strings(p.funcs)
	p.free = freeNames(f)
	return p, nil
}

// isPredeclared accepts every name outside Starlark's universe (len,
// range, True...), which must keep resolving as universal.
func isPredeclared(name string) bool { return !starlark.Universe.Has(name) }

// compileMessage flattens a scanner/resolver error list into one line
// per error, each with its position.
func compileMessage(err error) string {
	var list resolve.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		msg := list[0].Error()
		if len(list) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(list)-1)
		}
		return msg
	}
	return err.Error()
}

// freeNames lists, first use first, the identifiers resolved as
// predeclared that are not engine builtins.
func freeNames(f *syntax.File) []freeName {
	var out []freeName
	seen := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		id, ok := n.(*syntax.Ident)
		if !ok {
			return true
		}
		b, ok := id.Binding.(*resolve.Binding)
		if !ok || b.Scope != resolve.Predeclared || builtinNames[id.Name] || seen[id.Name] {
			return true
		}
		seen[id.Name] = true
		out = append(out, freeName{name: id.Name, pos: id.NamePos})
		return true
	})
	return out
}

// Functions returns the top-level def names, sorted.
func (p *Program) Functions() []string { return append([]string(nil), p.funcs...) }

// FreeNames returns the names the script uses that only Call.Vars can
// provide (e.g. "node", "group"), in order of first use. A typo shows here.
func (p *Program) FreeNames() []string {
	out := make([]string, len(p.free))
	for i, f := range p.free {
		out[i] = f.name
	}
	return out
}
