package route

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
	"github.com/stretchr/testify/require"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestLoadOrCreatePoints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "backend0") // created on demand
	first, err := LoadOrCreatePoints(dir, DefaultPoints)
	require.NoError(t, err)
	require.Len(t, first, DefaultPoints)
	require.True(t, slices.IsSortedFunc(first, comparePoints))
	require.False(t, hasAdjacentDup(first))
	require.Equal(t, []string{IDsFileName}, dirNames(t, dir), "no temporary file may remain")

	data, err := os.ReadFile(filepath.Join(dir, IDsFileName))
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	require.Equal(t, "elliptics-ids v1", lines[0])
	require.Len(t, lines, DefaultPoints+2) // header, points, "" after the final newline
	require.Equal(t, first[0].String(), lines[1])

	// Later starts read the same points back, whatever count says.
	for _, count := range []int{DefaultPoints, 1, MaxPoints} {
		again, err := LoadOrCreatePoints(dir, count)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}

	// Another backend gets other points.
	other, err := LoadOrCreatePoints(filepath.Join(t.TempDir(), "b1"), 3)
	require.NoError(t, err)
	require.Len(t, other, 3)
	require.NotEqual(t, first[:3], other)

	// Bad counts are refused.
	for _, count := range []int{0, -1, MaxPoints + 1} {
		_, err := LoadOrCreatePoints(t.TempDir(), count)
		require.ErrorIs(t, err, ErrInvalid, "count %d", count)
	}
}

func TestParsePointsAnyOrder(t *testing.T) {
	a, b := strings.Repeat("ab", id.Size), strings.Repeat("01", id.Size)
	got, err := ParsePoints("x", []byte("elliptics-ids v1\n"+a+"\n"+b+"\n"))
	require.NoError(t, err)
	require.Equal(t, []id.ID{pt(b), pt(a)}, got)
	// FormatPoints and ParsePoints agree.
	rnd, err := RandomPoints(50)
	require.NoError(t, err)
	back, err := ParsePoints("x", FormatPoints(rnd))
	require.NoError(t, err)
	require.Equal(t, rnd, back)
}

func TestLoadPointsDamaged(t *testing.T) {
	good := strings.Repeat("0f", id.Size)
	other := strings.Repeat("1e", id.Size)
	for _, tc := range []struct {
		name, contents, msg string
	}{
		{"empty", "", "empty"},
		{"no final newline", "elliptics-ids v1\n" + good, "no newline at the end"},
		{"wrong header", "elliptics-ids v2\n" + good + "\n", `line 1: header "elliptics-ids v2"`},
		{"original binary format", string(make([]byte, 64)) + "\n", "line 1: header"},
		{"no points", "elliptics-ids v1\n", "no points"},
		{"short line", "elliptics-ids v1\n" + good + "\n" + good[:127] + "\n", "line 3: 127 characters, want 128"},
		{"long line", "elliptics-ids v1\n" + good + "0\n", "line 2: 129 characters"},
		{"blank line", "elliptics-ids v1\n" + good + "\n\n", "line 3: 0 characters"},
		{"uppercase", "elliptics-ids v1\n" + strings.ToUpper(strings.Repeat("ab", id.Size)) + "\n", `line 2: character 1 is 'A'`},
		{"garbage", "elliptics-ids v1\n" + good[:10] + "zz" + good[12:] + "\n", `line 2: character 11 is 'z'`},
		{"crlf", "elliptics-ids v1\r\n" + good + "\r\n", "line 1: header"},
		{"duplicate", "elliptics-ids v1\n" + good + "\n" + other + "\n" + good + "\n", "line 4: point 0f0f0f0f0f0f already on line 2"},
		{"too many points", "elliptics-ids v1\n" + strings.Repeat("0\n", MaxPoints+1), "4097 points, at most 4096"},
		{"huge", "elliptics-ids v1\n" + strings.Repeat(good+"\n", MaxPoints+10), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, IDsFileName)
			require.NoError(t, os.WriteFile(path, []byte(tc.contents), 0o644))
			_, err := LoadOrCreatePoints(dir, DefaultPoints)
			require.ErrorIs(t, err, ErrIDsFile)
			require.ErrorIs(t, err, status.ErrCorrupt)
			require.Contains(t, err.Error(), path, "the error names the file")
			require.Contains(t, err.Error(), tc.msg)
			// Never regenerated: the damaged file is left as it was.
			data, rerr := os.ReadFile(path)
			require.NoError(t, rerr)
			require.Equal(t, tc.contents, string(data))
			require.Equal(t, []string{IDsFileName}, dirNames(t, dir))
		})
	}
}

func TestLoadPointsIOErrors(t *testing.T) {
	for _, op := range []errorfs.Op{errorfs.OpCreate, errorfs.OpWrite, errorfs.OpSync, errorfs.OpRename, errorfs.OpMkdir} {
		t.Run(op.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.EIO, op))
			_, err := LoadOrCreatePointsFS(fsys, dir, 4)
			require.ErrorIs(t, err, syscall.EIO)
			require.Equal(t, 1, fsys.Injected(op))
			// Nothing half-written stays behind, and a later start works.
			if _, serr := os.Stat(dir); serr == nil {
				require.Empty(t, dirNames(t, dir))
			}
			got, err := LoadOrCreatePoints(dir, 4)
			require.NoError(t, err)
			require.Len(t, got, 4)
		})
	}
	// A read error other than "no such file" is reported, not taken as a
	// first start.
	dir := t.TempDir()
	want, err := LoadOrCreatePoints(dir, 2)
	require.NoError(t, err)
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.EIO, errorfs.OpRead))
	_, err = LoadOrCreatePointsFS(fsys, dir, 2)
	require.ErrorIs(t, err, syscall.EIO)
	got, err := LoadOrCreatePoints(dir, 2)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
