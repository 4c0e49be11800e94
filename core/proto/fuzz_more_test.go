package proto

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/elliptics/elliptics/core/status"
)

// FuzzMoreDecoders covers the decoders decodeAll does not: relay targets,
// member lists, error payloads and EXEC event names.
func FuzzMoreDecoders(f *testing.F) {
	f.Add(AppendRelay(nil, "10.0.0.1:1025"), "s@f")
	f.Add(AppendMembers(nil, []Member{{Addr: "a:1", Version: 2}}), "script.star@main")
	f.Add(ErrorPayload(status.Errorf(status.NotFound, "no such key")), "@")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, b []byte, event string) {
		if addr, rest, err := DecodeRelay(b); err == nil {
			a2, r2, err := DecodeRelay(append(AppendRelay(nil, addr), rest...))
			if err != nil || a2 != addr || !bytes.Equal(r2, rest) {
				t.Fatalf("relay target does not round-trip: %v", err)
			}
		}
		if ms, _, err := DecodeMembers(b); err == nil {
			ms2, _, err := DecodeMembers(AppendMembers(nil, ms))
			if err != nil || !reflect.DeepEqual(ms, ms2) && len(ms) > 0 {
				t.Fatalf("member list does not round-trip: %v", err)
			}
		}
		for _, st := range []status.Code{status.OK, status.NotFound, status.Protocol, -1 << 31} {
			if err := DecodeError(st, b); (err == nil) != (st == status.OK) {
				t.Fatalf("status %d decoded to %v", st, err)
			}
		}
		if s, fn, err := ParseEvent(event); err == nil {
			if s+"@"+fn != event && !strings.HasPrefix(event, s+"@") {
				t.Fatalf("event %q parsed to %q @ %q", event, s, fn)
			}
		}
		decodeAll(b)
	})
}

// TestEveryDecoderFuzzed: every Decode* and Parse* function of the package
// (each takes bytes from the wire) is called from a file that holds a fuzz
// target, so a new decoder without one fails here.
func TestEveryDecoderFuzzed(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decoders := map[string]bool{}
	called := map[string]bool{}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		isTest := strings.HasSuffix(name, "_test.go")
		if !isTest {
			for _, d := range file.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.IsExported() &&
					(strings.HasPrefix(fd.Name.Name, "Decode") || strings.HasPrefix(fd.Name.Name, "Parse")) {
					decoders[fd.Name.Name] = true
				}
			}
			continue
		}
		if !bytes.Contains(src, []byte("\nfunc Fuzz")) && name != "fuzz_test.go" {
			continue
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if id, ok := c.Fun.(*ast.Ident); ok {
					called[id.Name] = true
				}
			}
			return true
		})
	}
	if len(decoders) < 10 {
		t.Fatalf("found only %d decoders", len(decoders))
	}
	for d := range decoders {
		if !called[d] {
			t.Errorf("%s is not called from any fuzz target's file", d)
		}
	}
}
