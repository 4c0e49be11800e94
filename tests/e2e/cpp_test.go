package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCppHeaders compiles every public header on its own, with every
// warning an error.
func TestCppHeaders(t *testing.T) {
	cxx := compiler(t, "CXX", "g++", "c++")
	root := repoRoot(t)
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
// each against three nodes (groups 1, 2 and 3) that know each other; they
// check their results and exit non-zero on a failure.
func TestCppExamples(t *testing.T) {
	cxx := compiler(t, "CXX", "g++", "c++")
	root := repoRoot(t)
	lib := nativeLib(t, root)

	addrs := joinedCluster(t)

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
