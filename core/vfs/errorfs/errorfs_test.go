package errorfs_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/vfs"
	"github.com/elliptics/elliptics/core/vfs/errorfs"
)

// doOp performs one operation of kind op on fsys inside dir, using a file
// "f" that exists beforehand (created through vfs.Default).
func doOp(t *testing.T, fsys vfs.FS, dir string, op errorfs.Op) error {
	t.Helper()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, []byte("hello"), 0o644))
	switch op {
	case errorfs.OpOpen:
		f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
		if err == nil {
			require.NoError(t, f.Close())
		}
		return err
	case errorfs.OpCreate:
		f, err := fsys.OpenFile(filepath.Join(dir, "new"), os.O_RDWR|os.O_CREATE, 0o644)
		if err == nil {
			require.NoError(t, f.Close())
		}
		return err
	case errorfs.OpRename:
		return fsys.Rename(name, filepath.Join(dir, "g"))
	case errorfs.OpRemove:
		return fsys.Remove(name)
	case errorfs.OpMkdir:
		return fsys.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	case errorfs.OpReadDir:
		_, err := fsys.ReadDir(dir)
		return err
	case errorfs.OpStat:
		_, err := fsys.Stat(name)
		return err
	case errorfs.OpSyncDir:
		return fsys.SyncDir(dir)
	}
	f, err := fsys.OpenFile(name, os.O_RDWR, 0)
	require.NoError(t, err)
	switch op {
	case errorfs.OpRead:
		_, err = f.Read(make([]byte, 5))
	case errorfs.OpWrite:
		_, err = f.Write([]byte("x"))
	case errorfs.OpSync:
		err = f.Sync()
	case errorfs.OpDatasync:
		err = f.Datasync()
	case errorfs.OpTruncate:
		err = f.Truncate(1)
	case errorfs.OpClose:
		return f.Close()
	default:
		t.Fatalf("unhandled op %v", op)
	}
	require.NoError(t, f.Close())
	return err
}

func TestOnOpsEveryOp(t *testing.T) {
	for _, op := range errorfs.Ops() {
		t.Run(op.String(), func(t *testing.T) {
			dir := t.TempDir()
			fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.EIO, op))
			err := doOp(t, fsys, dir, op)
			require.Error(t, err)
			require.ErrorIs(t, err, syscall.EIO)
			require.Equal(t, 1, fsys.Injected(op))
			for _, other := range errorfs.Ops() {
				if other != op {
					require.Zero(t, fsys.Injected(other), other.String())
				}
			}
			if op == errorfs.OpRename {
				var le *os.LinkError
				require.ErrorAs(t, err, &le)
				require.Equal(t, "rename", le.Op)
				require.Equal(t, filepath.Join(dir, "f"), le.Old)
				require.Equal(t, filepath.Join(dir, "g"), le.New)
			} else {
				var pe *fs.PathError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, op.String(), pe.Op)
				require.Contains(t, pe.Path, dir)
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  errorfs.Injector
	}{
		{"nil injector", nil},
		{"other path", errorfs.OnPath("nomatch", errorfs.OnOps(syscall.EIO))},
		{"disabled toggle", errorfs.NewToggle(errorfs.OnOps(syscall.EIO))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := errorfs.Wrap(vfs.Default, tc.inj)
			name := filepath.Join(dir, "sub", "f")
			require.NoError(t, fsys.MkdirAll(filepath.Dir(name), 0o755))
			f, err := vfs.Create(fsys, name)
			require.NoError(t, err)
			require.Equal(t, name, f.Name())
			_, err = f.Write([]byte("hello"))
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("J"), 0)
			require.NoError(t, err)
			require.NoError(t, f.Sync())
			n, err := f.WriteVAt([][]byte{[]byte("EL"), nil, []byte("LO!")}, 1)
			require.NoError(t, err)
			require.Equal(t, 5, n)
			require.NoError(t, f.Datasync())
			require.NoError(t, f.Truncate(4))
			st, err := f.Stat()
			require.NoError(t, err)
			require.EqualValues(t, 4, st.Size())
			_, err = f.Seek(0, io.SeekStart)
			require.NoError(t, err)
			b, err := io.ReadAll(f)
			require.NoError(t, err)
			require.Equal(t, "JELL", string(b))
			buf := make([]byte, 2)
			_, err = f.ReadAt(buf, 1)
			require.NoError(t, err)
			require.Equal(t, "EL", string(buf))
			require.NoError(t, f.Close())

			ents, err := fsys.ReadDir(filepath.Dir(name))
			require.NoError(t, err)
			require.Len(t, ents, 1)
			require.NoError(t, fsys.Rename(name, name+"2"))
			_, err = fsys.Stat(name + "2")
			require.NoError(t, err)
			require.NoError(t, fsys.SyncDir(filepath.Dir(name)))
			require.NoError(t, fsys.Remove(name+"2"))
			for _, op := range errorfs.Ops() {
				require.Zero(t, fsys.Injected(op))
			}
		})
	}
}

func TestOpenVersusCreate(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.ENOSPC, errorfs.OpCreate))
	_, err := vfs.Create(fsys, name)
	require.ErrorIs(t, err, syscall.ENOSPC)
	_, err = os.Stat(name)
	require.ErrorIs(t, err, fs.ErrNotExist, "injected create must not touch the disk")

	require.NoError(t, os.WriteFile(name, []byte("x"), 0o644))
	b, err := vfs.ReadFile(fsys, name)
	require.NoError(t, err)
	require.Equal(t, "x", string(b))
	require.Equal(t, 1, fsys.Injected(errorfs.OpCreate))
	require.Zero(t, fsys.Injected(errorfs.OpOpen))
}

func TestENOSPCDetectable(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite))
	f, err := vfs.Create(fsys, filepath.Join(dir, "f"))
	require.NoError(t, err)
	defer f.Close()
	n, err := f.WriteAt([]byte("abc"), 0)
	require.Zero(t, n)
	require.True(t, errors.Is(err, syscall.ENOSPC))
	require.False(t, errors.Is(err, syscall.EIO))
	require.Equal(t, "write "+filepath.Join(dir, "f")+": no space left on device", err.Error())
	// Still detectable after the backend wraps it further.
	wrapped := errors.Join(errors.New("blob: append"), err)
	require.ErrorIs(t, wrapped, syscall.ENOSPC)
	st, err := os.Stat(filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.Zero(t, st.Size(), "injected write must not touch the disk")
}

func TestErrInjected(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(errorfs.ErrInjected, errorfs.OpStat))
	_, err := fsys.Stat(dir)
	require.ErrorIs(t, err, errorfs.ErrInjected)
	var errno syscall.Errno
	require.False(t, errors.As(err, &errno))
}

func TestInjectedEOFNotWrapped(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(name, []byte("data"), 0o644))
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(io.EOF, errorfs.OpRead))
	b, err := vfs.ReadFile(fsys, name)
	require.NoError(t, err, "io.ReadAll compares with == io.EOF")
	require.Empty(t, b)
}

func TestShortWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		data    string
		writeAt bool
		want    string
	}{
		{"partial", 3, "abcdef", false, "abc"},
		{"zero", 0, "abcdef", false, ""},
		{"negative", -1, "abcdef", false, ""},
		{"buffer shorter", 10, "abc", false, "abc"},
		{"writeAt partial", 2, "abcdef", true, "xxab"},
		{"writeAt buffer shorter", 9, "abc", true, "xxabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "f")
			fsys := errorfs.Wrap(vfs.Default, errorfs.OnOpsShort(tc.n))
			f, err := vfs.Create(fsys, name)
			require.NoError(t, err)
			var n int
			if tc.writeAt {
				require.NoError(t, os.WriteFile(name, []byte("xx"), 0o644))
				n, err = f.WriteAt([]byte(tc.data), 2)
			} else {
				n, err = f.Write([]byte(tc.data))
			}
			require.ErrorIs(t, err, io.ErrShortWrite)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "write", pe.Op)
			require.Equal(t, name, pe.Path)
			require.NoError(t, f.Close())

			got, err := os.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			if tc.writeAt {
				require.Equal(t, len(tc.want)-2, n)
			} else {
				require.Equal(t, len(tc.want), n)
			}
			require.Equal(t, 1, fsys.Injected(errorfs.OpWrite))
		})
	}
}

func TestShortWriteVAt(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"inside the first buffer", 2, "xxab"},
		{"across buffers", 5, "xxabcde"},
		{"at a buffer boundary", 3, "xxabc"},
		{"zero", 0, "xx"},
		{"all of it", 100, "xxabcdefgh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "f")
			require.NoError(t, os.WriteFile(name, []byte("xx"), 0o644))
			fsys := errorfs.Wrap(vfs.Default, errorfs.OnOpsShort(tc.n))
			f, err := fsys.OpenFile(name, os.O_RDWR, 0)
			require.NoError(t, err)
			n, err := f.WriteVAt([][]byte{[]byte("abc"), {}, []byte("defgh")}, 2)
			require.ErrorIs(t, err, io.ErrShortWrite)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "write", pe.Op)
			require.Equal(t, len(tc.want)-2, n)
			require.NoError(t, f.Close())
			got, err := os.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			require.Equal(t, 1, fsys.Injected(errorfs.OpWrite))
		})
	}
	// Other errors write nothing.
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite))
	f, err := vfs.Create(fsys, filepath.Join(dir, "g"))
	require.NoError(t, err)
	n, err := f.WriteVAt([][]byte{[]byte("abc")}, 0)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Zero(t, n)
	require.NoError(t, f.Close())
	st, err := os.Stat(filepath.Join(dir, "g"))
	require.NoError(t, err)
	require.Zero(t, st.Size())
}

func TestShortWriteOnOtherOp(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOpsShort(1, errorfs.OpSyncDir))
	err := fsys.SyncDir(dir)
	require.ErrorIs(t, err, io.ErrShortWrite)
	var sw *errorfs.ShortWriteError
	require.ErrorAs(t, err, &sw)
	require.Equal(t, 1, sw.N)
}

func TestOnPath(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		file    string
		hit     bool
	}{
		{"*.tmp", "meta.tmp", true},
		{"*.tmp", "meta", false},
		{"data-*", "data-0001", true},
		{"data-*", "index-0001", false},
		{"index", "index", true},
		{"ind", "index", false}, // a glob, not a substring
		{"sub", "x", false},     // only the base name is matched
	} {
		t.Run(tc.pattern+"/"+tc.file, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sub")
			fsys := errorfs.Wrap(vfs.Default,
				errorfs.OnPath(tc.pattern, errorfs.OnOps(syscall.EIO, errorfs.OpCreate)))
			f, err := vfs.Create(fsys, filepath.Join(dir, tc.file))
			if tc.hit {
				require.ErrorIs(t, err, syscall.EIO)
				require.Equal(t, 1, fsys.Injected(errorfs.OpCreate))
				return
			}
			// Not injected: the real error (missing directory) comes through.
			require.ErrorIs(t, err, fs.ErrNotExist)
			require.Nil(t, f)
			require.Zero(t, fsys.Injected(errorfs.OpCreate))
		})
	}
	require.Panics(t, func() { errorfs.OnPath("[", errorfs.OnOps(syscall.EIO)) })
}

func TestOnPathDoesNotAdvanceInner(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default,
		errorfs.OnPath("b", errorfs.Once(errorfs.OnOps(syscall.EIO, errorfs.OpStat))))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b"), nil, 0o644))
	for range 3 {
		_, err := fsys.Stat(filepath.Join(dir, "a"))
		require.NoError(t, err)
	}
	_, err := fsys.Stat(filepath.Join(dir, "b"))
	require.ErrorIs(t, err, syscall.EIO)
	_, err = fsys.Stat(filepath.Join(dir, "b"))
	require.NoError(t, err)
}

// statResults stats dir count times through an FS built on inj and reports
// which attempts failed.
func statResults(t *testing.T, inj errorfs.Injector, count int) []bool {
	t.Helper()
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default, inj)
	out := make([]bool, count)
	failed := 0
	for i := range out {
		_, err := fsys.Stat(dir)
		if err != nil {
			require.ErrorIs(t, err, syscall.EIO)
			out[i] = true
			failed++
		}
		// Other ops never reach the Stat injector.
		require.NoError(t, fsys.SyncDir(dir))
	}
	require.Equal(t, failed, fsys.Injected(errorfs.OpStat))
	return out
}

func TestAfterOnce(t *testing.T) {
	stat := func() errorfs.Injector { return errorfs.OnOps(syscall.EIO, errorfs.OpStat) }
	F, T := false, true
	for _, tc := range []struct {
		name string
		inj  errorfs.Injector
		want []bool
	}{
		{"always", stat(), []bool{T, T, T, T, T}},
		{"after 0", errorfs.After(0, stat()), []bool{T, T, T, T, T}},
		{"after 2", errorfs.After(2, stat()), []bool{F, F, T, T, T}},
		{"after 9", errorfs.After(9, stat()), []bool{F, F, F, F, F}},
		{"once", errorfs.Once(stat()), []bool{T, F, F, F, F}},
		{"once after 3", errorfs.Once(errorfs.After(3, stat())), []bool{F, F, F, T, F}},
		{"after 1 once", errorfs.After(1, errorfs.Once(stat())), []bool{F, F, F, F, F}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, statResults(t, tc.inj, len(tc.want)))
		})
	}
}

func TestProbability(t *testing.T) {
	stat := func() errorfs.Injector { return errorfs.OnOps(syscall.EIO, errorfs.OpStat) }
	const count = 400
	countTrue := func(b []bool) int {
		n := 0
		for _, x := range b {
			if x {
				n++
			}
		}
		return n
	}
	require.Zero(t, countTrue(statResults(t, errorfs.Probability(0, 1, stat()), count)))
	require.Equal(t, count, countTrue(statResults(t, errorfs.Probability(1, 1, stat()), count)))

	a := statResults(t, errorfs.Probability(0.5, 42, stat()), count)
	b := statResults(t, errorfs.Probability(0.5, 42, stat()), count)
	c := statResults(t, errorfs.Probability(0.5, 43, stat()), count)
	require.Equal(t, a, b, "same seed, same faults")
	require.NotEqual(t, a, c, "different seed, different faults")
	require.InDelta(t, count/2, countTrue(a), count/5)
}

func TestAny(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	fsys := errorfs.Wrap(vfs.Default, errorfs.Any(
		errorfs.OnOpsShort(2),
		errorfs.OnOps(syscall.EIO, errorfs.OpSync, errorfs.OpWrite), // shadowed for OpWrite
	))
	f, err := vfs.Create(fsys, name)
	require.NoError(t, err)
	n, err := f.Write([]byte("abcd"))
	require.Equal(t, 2, n)
	require.ErrorIs(t, err, io.ErrShortWrite)
	require.ErrorIs(t, f.Sync(), syscall.EIO)
	require.NoError(t, f.Close())
	require.Equal(t, 1, fsys.Injected(errorfs.OpWrite))
	require.Equal(t, 1, fsys.Injected(errorfs.OpSync))
}

func TestToggleDiskFull(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	full := errorfs.NewToggle(errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite, errorfs.OpCreate))
	fsys := errorfs.Wrap(vfs.Default, full)
	require.False(t, full.Enabled())

	f, err := vfs.Create(fsys, name)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("one"))
	require.NoError(t, err)

	full.Enable()
	require.True(t, full.Enabled())
	_, err = f.Write([]byte("two"))
	require.ErrorIs(t, err, syscall.ENOSPC)
	_, err = vfs.Create(fsys, name+"2")
	require.ErrorIs(t, err, syscall.ENOSPC)

	full.Disable()
	_, err = f.Write([]byte("three"))
	require.NoError(t, err)
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, "onethree", string(got))
	require.Equal(t, 1, fsys.Injected(errorfs.OpWrite))
	require.Equal(t, 1, fsys.Injected(errorfs.OpCreate))

	// The zero value with an Injector is disabled too.
	z := &errorfs.Toggle{Injector: errorfs.OnOps(syscall.EIO)}
	require.NoError(t, z.MaybeError(errorfs.OpStat, "x"))
	z.Enable()
	require.ErrorIs(t, z.MaybeError(errorfs.OpStat, "x"), syscall.EIO)
}

func TestToggleDoesNotAdvanceInner(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.After(1, errorfs.OnOps(syscall.EIO, errorfs.OpStat)))
	for range 5 {
		require.NoError(t, tog.MaybeError(errorfs.OpStat, "x"))
	}
	tog.Enable()
	require.NoError(t, tog.MaybeError(errorfs.OpStat, "x"))
	require.Error(t, tog.MaybeError(errorfs.OpStat, "x"))
}

func TestCloseInjectedStillCloses(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default, errorfs.Once(errorfs.OnOps(syscall.EIO, errorfs.OpClose)))
	f, err := vfs.Create(fsys, filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.ErrorIs(t, f.Close(), syscall.EIO)
	// The inner file was closed anyway.
	require.ErrorIs(t, f.Close(), os.ErrClosed)
}

func TestOpString(t *testing.T) {
	require.Equal(t, "sync", errorfs.OpSync.String())
	require.Equal(t, "syncdir", errorfs.OpSyncDir.String())
	require.Equal(t, "Op(99)", errorfs.Op(99).String())
	require.Equal(t, "datasync", errorfs.OpDatasync.String())
	require.Len(t, errorfs.Ops(), 14)
	require.Zero(t, errorfs.Wrap(vfs.Default, nil).Injected(errorfs.Op(99)))
	require.Panics(t, func() { errorfs.OnOps(nil, errorfs.OpSync) })
	require.Panics(t, func() { errorfs.OnOps(syscall.EIO, errorfs.Op(-1)) })
}

func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	const (
		workers = 8
		writes  = 200
		after   = 50
	)
	toggle := errorfs.NewToggle(errorfs.OnOps(syscall.ENOSPC, errorfs.OpSync))
	onceStat := errorfs.Once(errorfs.OnOps(syscall.EIO, errorfs.OpStat))
	fsys := errorfs.Wrap(vfs.Default, errorfs.Any(
		errorfs.After(after, errorfs.OnOps(syscall.EIO, errorfs.OpWrite)),
		errorfs.Probability(0.3, 7, errorfs.OnOps(errorfs.ErrInjected, errorfs.OpRead)),
		onceStat,
		toggle,
	))

	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		writeFails, statErr int
		readFails, syncErrs int
	)
	for w := range workers {
		wg.Go(func() {
			f, err := vfs.Create(fsys, filepath.Join(dir, string(rune('a'+w))))
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for i := range writes {
				if i%50 == 0 {
					toggle.Enable()
				} else if i%50 == 25 {
					toggle.Disable()
				}
				_, werr := f.WriteAt([]byte{byte(i)}, int64(i))
				_, rerr := f.ReadAt(make([]byte, 1), 0)
				_, serr := fsys.Stat(dir)
				yerr := f.Sync()
				mu.Lock()
				if errors.Is(werr, syscall.EIO) {
					writeFails++
				} else if werr != nil {
					t.Error(werr)
				}
				if errors.Is(rerr, errorfs.ErrInjected) {
					readFails++
				}
				if errors.Is(serr, syscall.EIO) {
					statErr++
				} else if serr != nil {
					t.Error(serr)
				}
				if errors.Is(yerr, syscall.ENOSPC) {
					syncErrs++
				} else if yerr != nil {
					t.Error(yerr)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, workers*writes-after, writeFails)
	require.Equal(t, writeFails, fsys.Injected(errorfs.OpWrite))
	require.Equal(t, 1, statErr)
	require.Equal(t, 1, fsys.Injected(errorfs.OpStat))
	require.Equal(t, readFails, fsys.Injected(errorfs.OpRead))
	require.Equal(t, syncErrs, fsys.Injected(errorfs.OpSync))
	require.Positive(t, readFails)
}
