package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cppRoot is the repository's top folder (this file is tests/e2e/cpp_test.go).
func cppRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// cppLib returns a folder holding libelliptics.so: $ELLIPTICS_BIN if it has
// one, else a fresh build in a temp folder.
func cppLib(t *testing.T, root string) string {
	t.Helper()
	if dir := os.Getenv("ELLIPTICS_BIN"); dir != "" && exists(filepath.Join(dir, "libelliptics.so")) {
		abs, err := filepath.Abs(dir)
		require.NoError(t, err)
		return abs
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, "libelliptics.so"), "./capi")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build libelliptics.so:\n%s", out)
	return dir
}

// cppCompiler returns the C++ compiler, skipping the test when there is none.
func cppCompiler(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CXX"), "g++", "c++"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no C++ compiler (g++) on PATH")
	return ""
}

// TestCppHeaders compiles every public header on its own, with every
// warning an error.
func TestCppHeaders(t *testing.T) {
	cxx := cppCompiler(t)
	root := cppRoot(t)
	headers, err := filepath.Glob(filepath.Join(root, "cpp", "include", "elliptics", "*.hpp"))
	require.NoError(t, err)
	details, err := filepath.Glob(filepath.Join(root, "cpp", "include", "elliptics", "detail", "*.hpp"))
	require.NoError(t, err)
	headers = append(headers, details...)
	require.NotEmpty(t, headers)
	for _, h := range headers {
		name := strings.TrimPrefix(filepath.ToSlash(h), filepath.ToSlash(filepath.Join(root, "cpp", "include"))+"/")
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "only.cpp")
			// Twice: the include guards must hold.
			require.NoError(t, os.WriteFile(src, []byte("#include <"+name+">\n#include <"+name+">\n"), 0o644))
			cmd := exec.Command(cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
				"-I", filepath.Join(root, "cpp", "include"), "-I", filepath.Join(root, "capi"), src)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s does not compile on its own:\n%s", name, out)
		})
	}
}

// TestCppExamples builds the C++ examples against libelliptics.so and runs
// each against three nodes (groups 1, 2 and 3); they check their results
// and exit non-zero on a failure.
func TestCppExamples(t *testing.T) {
	cxx := cppCompiler(t)
	root := cppRoot(t)
	lib := cppLib(t, root)

	var addrs []string
	for g := 1; g <= 3; g++ {
		d := startDaemon(t, "", "--listen", "127.0.0.1:0", "--group", strconv.Itoa(g))
		addrs = append(addrs, d.Addr)
	}

	examples, err := filepath.Glob(filepath.Join(root, "cpp", "examples", "*.cpp"))
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	outDir := t.TempDir()
	for _, src := range examples {
		name := strings.TrimSuffix(filepath.Base(src), ".cpp")
		t.Run(name, func(t *testing.T) {
			exe := filepath.Join(outDir, name)
			build := exec.Command(cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror",
				"-I", filepath.Join(root, "cpp", "include"), "-I", filepath.Join(root, "capi"),
				src, "-o", exe, "-L"+lib, "-lelliptics", "-Wl,-rpath,"+lib, "-pthread")
			out, err := build.CombinedOutput()
			require.NoError(t, err, "compile %s:\n%s", name, out)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err = exec.CommandContext(ctx, exe, addrs...).CombinedOutput()
			require.NoError(t, err, "%s failed:\n%s", name, out)
			t.Logf("%s", out)
		})
	}
}
