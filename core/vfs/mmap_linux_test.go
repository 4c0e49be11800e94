package vfs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := Create(Default, path)
	require.NoError(t, err)
	defer f.Close()
	const page = 4096
	require.NoError(t, f.Truncate(2*page))

	m, err := f.(Mapper).Map(16 * page)
	require.NoError(t, err)
	require.Equal(t, int64(16*page), m.Len())
	require.NoError(t, m.Populate(0, 2*page))

	// A copy is in the file at once, for reads through the descriptor.
	require.NoError(t, m.WriteAt([]byte("hello"), page-2))
	got := make([]byte, 5)
	_, err = f.ReadAt(got, page-2)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))

	// Past the file's end: an error wrapping EIO, not a crash.
	err = m.WriteAt([]byte("x"), 5*page)
	require.ErrorIs(t, err, syscall.EIO)
	// Outside the mapping: refused before touching memory.
	require.Error(t, m.WriteAt([]byte("xy"), 16*page-1))
	require.Error(t, m.WriteAt([]byte("x"), -1))
	require.Error(t, m.Populate(15*page, 2*page))

	require.NoError(t, m.Unmap())
	require.NoError(t, m.Unmap(), "a second Unmap does nothing")
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(2*page), st.Size(), "mapping does not change the size")
}
