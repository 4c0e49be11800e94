package e2e

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// headerFuncs lists the functions declared in elliptics.h: every
// "ell_name(" that starts a declaration (a return type before it on the
// line), which leaves out the ell_callback typedef.
func headerFuncs(t *testing.T, root string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "capi", "elliptics.h"))
	require.NoError(t, err)
	decl := regexp.MustCompile(`(?m)^[a-z][a-z0-9_ ]*[ *](ell_[a-z0-9_]+)\(`)
	var names []string
	for _, m := range decl.FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	sort.Strings(names)
	return names
}

// TestCapiExports checks that libelliptics.so defines every function of
// elliptics.h, and that the cgo-generated header, which redeclares each
// export with the types of its Go signature, compiles together with
// elliptics.h: a parameter or return type that differs is a "conflicting
// types" error.
func TestCapiExports(t *testing.T) {
	cc := compiler(t, "CC", "gcc", "cc") // cgo needs it too: without one, skip rather than fail the build
	root := repoRoot(t)
	lib := nativeLib(t, root)
	names := headerFuncs(t, root)
	require.Greater(t, len(names), 40, "parsed too few declarations: %v", names)

	f, err := elf.Open(filepath.Join(lib, "libelliptics.so"))
	require.NoError(t, err)
	defer f.Close()
	syms, err := f.DynamicSymbols()
	require.NoError(t, err)
	defined := map[string]bool{}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			defined[s.Name] = true
		}
	}
	for _, n := range names {
		require.True(t, defined[n], "libelliptics.so does not export %s", n)
	}

	src := filepath.Join(t.TempDir(), "header_check.c")
	require.NoError(t, os.WriteFile(src, []byte("#include \"libelliptics.h\"\nint main(void) { return 0; }\n"), 0o644))
	// -Wno-array-parameter: cgo writes `uint8_t out[ELL_ID_SIZE]` as
	// `uint8_t*`, the same type, which gcc notes as a style warning.
	out, err := exec.Command(cc, "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-array-parameter",
		"-I", filepath.Join(root, "capi"), "-I", lib, src).CombinedOutput()
	require.NoError(t, err, "the generated header disagrees with elliptics.h:\n%s", out)
}

// joinedCluster starts three nodes, one per group (1, 2, 3), that know
// each other (server-send and copy iterators write from one node to
// another), and returns their addresses in group order.
func joinedCluster(t *testing.T) []string {
	t.Helper()
	nodes := newCluster(t, 3, 1)
	startAll(t, nodes)
	for _, n := range nodes {
		waitTable(t, session(t, n.addr), 3)
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
	}
	return addrs
}

// TestCapiProgram builds tests/c/capi_test.c against libelliptics and runs
// it against three nodes, one per group, joined in a cluster.
func TestCapiProgram(t *testing.T) {
	cc := compiler(t, "CC", "gcc", "cc")
	root := repoRoot(t)
	lib := nativeLib(t, root)
	exe := filepath.Join(t.TempDir(), "capi_test")
	out, err := exec.Command(cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join(root, "capi"),
		"-o", exe, filepath.Join(root, "tests", "c", "capi_test.c"),
		"-L"+lib, "-lelliptics", "-Wl,-rpath,"+lib, "-lpthread").CombinedOutput()
	require.NoError(t, err, "compile capi_test.c:\n%s", out)

	addrs := joinedCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, addrs...)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "capi_test %s failed:\n%s", strings.Join(addrs, " "), out)
	require.Contains(t, string(out), "ok")
}
