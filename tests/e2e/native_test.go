package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// The helpers of the tests that build native code against libelliptics
// (the C test program, the C++ examples).

// repoRoot is the repository's top folder (this file is tests/e2e/native_test.go).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// nativeLib returns a folder holding libelliptics.so and the generated
// libelliptics.h: $ELLIPTICS_BIN when `make capi` put them there, else a
// fresh build in a temp folder (so `go test ./tests/e2e/` works alone).
func nativeLib(t *testing.T, root string) string {
	t.Helper()
	if dir := os.Getenv("ELLIPTICS_BIN"); dir != "" &&
		exists(filepath.Join(dir, "libelliptics.so")) && exists(filepath.Join(dir, "libelliptics.h")) {
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

// compiler returns the compiler named by the environment variable env, else
// the first of names on PATH, skipping the test when there is none.
func compiler(t *testing.T, env string, names ...string) string {
	t.Helper()
	for _, name := range append([]string{os.Getenv(env)}, names...) {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skipf("no compiler (%s or %v) on PATH", env, names)
	return ""
}
