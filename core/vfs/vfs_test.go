package vfs_test

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomicSuccess(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  *string
	}{
		{"new file", nil},
		{"overwrite", ptr("old contents")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "meta")
			if tc.old != nil {
				require.NoError(t, os.WriteFile(name, []byte(*tc.old), 0o644))
			}
			fsys := errorfs.Wrap(vfs.Default, nil)
			require.NoError(t, vfs.WriteFileAtomic(fsys, name, []byte("new")))
			got, err := vfs.ReadFile(fsys, name)
			require.NoError(t, err)
			require.Equal(t, "new", string(got))
			require.Equal(t, []string{"meta"}, dirNames(t, dir))
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestWriteFileAtomicFailureKeepsOld(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  errorfs.Injector
		op   errorfs.Op
		err  error
	}{
		{"sync EIO", errorfs.OnOps(syscall.EIO, errorfs.OpSync), errorfs.OpSync, syscall.EIO},
		{"sync ENOSPC", errorfs.OnOps(syscall.ENOSPC, errorfs.OpSync), errorfs.OpSync, syscall.ENOSPC},
		{"rename", errorfs.OnOps(syscall.EIO, errorfs.OpRename), errorfs.OpRename, syscall.EIO},
		{"rename injected", errorfs.OnOps(errorfs.ErrInjected, errorfs.OpRename), errorfs.OpRename, errorfs.ErrInjected},
		{"write ENOSPC", errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite), errorfs.OpWrite, syscall.ENOSPC},
		{"short write", errorfs.OnOpsShort(2), errorfs.OpWrite, io.ErrShortWrite},
		{"close", errorfs.OnOps(syscall.EIO, errorfs.OpClose), errorfs.OpClose, syscall.EIO},
		{"create", errorfs.OnOps(syscall.ENOSPC, errorfs.OpCreate), errorfs.OpCreate, syscall.ENOSPC},
		{"only tmp file", errorfs.OnPath("*.tmp", errorfs.OnOps(syscall.EIO, errorfs.OpSync)), errorfs.OpSync, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "meta")
			require.NoError(t, os.WriteFile(name, []byte("old contents"), 0o644))
			fsys := errorfs.Wrap(vfs.Default, tc.inj)

			err := vfs.WriteFileAtomic(fsys, name, []byte("new contents"))
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, 1, fsys.Injected(tc.op))

			got, err := os.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, "old contents", string(got))
			require.Equal(t, []string{"meta"}, dirNames(t, dir), "no .tmp file left behind")
		})
	}
}

func TestWriteFileAtomicSyncDirFailure(t *testing.T) {
	// The rename has happened when the directory sync fails: the error is
	// reported, and the new contents are in place (though maybe not durable).
	dir := t.TempDir()
	name := filepath.Join(dir, "meta")
	require.NoError(t, os.WriteFile(name, []byte("old"), 0o644))
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.EIO, errorfs.OpSyncDir))
	require.ErrorIs(t, vfs.WriteFileAtomic(fsys, name, []byte("new")), syscall.EIO)
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, "new", string(got))
	require.Equal(t, []string{"meta"}, dirNames(t, dir))
}

func TestWriteFileAtomicRecoversAfterToggle(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "meta")
	full := errorfs.NewToggle(errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite))
	fsys := errorfs.Wrap(vfs.Default, full)

	require.NoError(t, vfs.WriteFileAtomic(fsys, name, []byte("v1")))
	full.Enable()
	require.ErrorIs(t, vfs.WriteFileAtomic(fsys, name, []byte("v2")), syscall.ENOSPC)
	full.Disable()
	require.NoError(t, vfs.WriteFileAtomic(fsys, name, []byte("v3")))

	got, err := vfs.ReadFile(fsys, name)
	require.NoError(t, err)
	require.Equal(t, "v3", string(got))
	require.Equal(t, []string{"meta"}, dirNames(t, dir))
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, []byte("data"), 0o644))

	got, err := vfs.ReadFile(vfs.Default, name)
	require.NoError(t, err)
	require.Equal(t, "data", string(got))

	_, err = vfs.ReadFile(vfs.Default, filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)

	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.EIO, errorfs.OpRead))
	_, err = vfs.ReadFile(fsys, name)
	require.ErrorIs(t, err, syscall.EIO)

	fsys = errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.EACCES, errorfs.OpOpen))
	_, err = vfs.ReadFile(fsys, name)
	require.ErrorIs(t, err, os.ErrPermission)
}

// WriteVAt writes every buffer in order, including more buffers than one
// pwritev takes, and agrees with WriteVAtLoop.
func TestWriteVAt(t *testing.T) {
	dir := t.TempDir()
	var bufs [][]byte
	var want []byte
	for i := range 3000 {
		b := make([]byte, i%7) // some empty
		for j := range b {
			b[j] = byte(i + j)
		}
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	for _, tc := range []struct {
		name  string
		write func(f vfs.File) (int, error)
	}{
		{"WriteVAt", func(f vfs.File) (int, error) { return f.WriteVAt(bufs, 3) }},
		{"WriteVAtLoop", func(f vfs.File) (int, error) { return vfs.WriteVAtLoop(f, bufs, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := filepath.Join(dir, tc.name)
			f, err := vfs.Create(vfs.Default, name)
			require.NoError(t, err)
			_, err = f.Write([]byte("abc"))
			require.NoError(t, err)
			n, err := tc.write(f)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
			require.NoError(t, f.Datasync())
			require.NoError(t, f.Close())
			got, err := os.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, append([]byte("abc"), want...), got)
		})
	}
	f, err := vfs.Create(vfs.Default, filepath.Join(dir, "neg"))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteVAt([][]byte{[]byte("x")}, -1)
	require.Error(t, err)
	n, err := f.WriteVAt(nil, 0)
	require.NoError(t, err)
	require.Zero(t, n)
}

// Datasync and WriteVAt on a closed file fail like the other methods.
func TestClosedFile(t *testing.T) {
	f, err := vfs.Create(vfs.Default, filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Error(t, f.Datasync())
	_, err = f.WriteVAt([][]byte{[]byte("x")}, 0)
	require.Error(t, err)
}
