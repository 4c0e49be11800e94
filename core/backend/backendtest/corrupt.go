package backendtest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// CorruptValue flips one byte in the middle of the first copy of value
// found in the files under dir (walked in lexical order), as a disk that
// rots would; the test fails if no file holds value. Callers write value
// once, with content no other record shares, so the copy found is its
// record.
func CorruptValue(t testing.TB, dir string, value []byte) {
	t.Helper()
	done := false
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || done || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		i := bytes.Index(data, value)
		if i < 0 {
			return nil
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		at := i + len(value)/2
		if _, err := f.WriteAt([]byte{data[at] ^ 0xff}, int64(at)); err != nil {
			f.Close()
			return err
		}
		done = true
		return f.Close()
	}))
	if !done {
		t.Fatalf("value not found in %s", dir)
	}
}
