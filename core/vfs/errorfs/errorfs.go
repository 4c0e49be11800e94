// Package errorfs is a fault-injecting vfs.FS for tests, in the style of
// cockroachdb/pebble's vfs/errorfs.
//
// Wrap puts an FS around another one (normally vfs.Default on a
// t.TempDir()). Before every operation it asks an Injector whether that
// operation should fail; if so the operation is not performed on the inner
// file system and the injected error is returned wrapped with the operation
// and path:
//
//	fsys := errorfs.Wrap(vfs.Default, errorfs.OnOps(syscall.ENOSPC, errorfs.OpWrite))
//	_, err := f.Write(p) // err is *fs.PathError{Op: "write", Path: ..., Err: syscall.ENOSPC}
//	errors.Is(err, syscall.ENOSPC) // true
//
// Injectors compose: OnOps decides which operations fail and with what
// error, OnPath restricts an injector to some files, After, Once and
// Probability decide when, Any combines several, and a Toggle switches one
// on and off while the test runs (a disk that fills up and is freed again).
//
// An injector may answer ShortWrite(n) to make a Write, WriteAt or WriteVAt
// store only its first n bytes and fail with io.ErrShortWrite.
//
// FS counts the faults it injected per operation (FS.Injected) so a test can
// check that the failure it set up was actually hit.
package errorfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/elliptics/elliptics/core/vfs"
)

// Op identifies a kind of file system operation.
type Op int

const (
	// OpOpen is FS.OpenFile without os.O_CREATE.
	OpOpen Op = iota
	// OpCreate is FS.OpenFile with os.O_CREATE.
	OpCreate
	// OpRead is File.Read and File.ReadAt.
	OpRead
	// OpWrite is File.Write, File.WriteAt and File.WriteVAt.
	OpWrite
	// OpSync is File.Sync.
	OpSync
	// OpSyncDir is FS.SyncDir.
	OpSyncDir
	// OpRename is FS.Rename; the injector sees the old path.
	OpRename
	// OpRemove is FS.Remove.
	OpRemove
	// OpTruncate is File.Truncate.
	OpTruncate
	// OpMkdir is FS.MkdirAll.
	OpMkdir
	// OpReadDir is FS.ReadDir.
	OpReadDir
	// OpStat is FS.Stat and File.Stat.
	OpStat
	// OpClose is File.Close.
	OpClose
	// OpDatasync is File.Datasync.
	OpDatasync

	numOps
)

var opNames = [numOps]string{
	OpOpen:     "open",
	OpCreate:   "create",
	OpRead:     "read",
	OpWrite:    "write",
	OpSync:     "sync",
	OpSyncDir:  "syncdir",
	OpRename:   "rename",
	OpRemove:   "remove",
	OpTruncate: "truncate",
	OpMkdir:    "mkdir",
	OpReadDir:  "readdir",
	OpStat:     "stat",
	OpClose:    "close",
	OpDatasync: "datasync",
}

// String returns the operation's name as used in the Op field of the
// returned *fs.PathError ("write", "sync", ...).
func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Ops lists every operation, for tests that iterate over them.
func Ops() []Op {
	ops := make([]Op, numOps)
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// ErrInjected is a generic injected error for faults that need no particular
// errno: OnOps(errorfs.ErrInjected, ...) makes errors.Is(err, ErrInjected)
// hold for the errors the operations return.
var ErrInjected = errors.New("errorfs: injected error")

// ShortWriteError is the error value an Injector returns to request a short
// write; build it with ShortWrite.
//
// When Write, WriteAt or WriteVAt receives it, errorfs writes only the first
// N bytes of the buffer (of the buffers taken one after another, for
// WriteVAt; all of it if the data is shorter, none if N <= 0) to the inner
// file and returns the number of bytes written with an
// *fs.PathError{Op: "write", Err: io.ErrShortWrite}. The error is returned
// even if the whole buffer fit, so the fault always surfaces.
//
// Any other operation that receives it fails like with any other error;
// errors.Is(err, io.ErrShortWrite) holds there too.
type ShortWriteError struct {
	N int
}

// ShortWrite returns the error an Injector answers to make a write store only
// its first n bytes and fail with io.ErrShortWrite.
func ShortWrite(n int) error { return &ShortWriteError{N: n} }

func (e *ShortWriteError) Error() string {
	return fmt.Sprintf("errorfs: injected short write of %d bytes", e.N)
}

// Unwrap returns io.ErrShortWrite.
func (e *ShortWriteError) Unwrap() error { return io.ErrShortWrite }

// Injector decides which operations fail. MaybeError is called before each
// operation with the operation and the path it works on (for file
// operations, the name the file was opened with); a nil answer lets the
// operation through, anything else is injected. Implementations must be safe
// for concurrent use.
type Injector interface {
	MaybeError(op Op, path string) error
}

// InjectorFunc adapts a function to an Injector.
type InjectorFunc func(op Op, path string) error

// MaybeError calls f(op, path).
func (f InjectorFunc) MaybeError(op Op, path string) error { return f(op, path) }

type onOps struct {
	err error
	ops [numOps]bool
}

// OnOps fails every one of the given operations with err, always. With no
// ops it fails every operation. It is the usual innermost injector that the
// others (OnPath, After, Once, Probability, Toggle) wrap.
func OnOps(err error, ops ...Op) Injector {
	if err == nil {
		panic("errorfs: OnOps with a nil error")
	}
	in := &onOps{err: err}
	for _, op := range ops {
		if op < 0 || op >= numOps {
			panic(fmt.Sprintf("errorfs: OnOps with unknown %v", op))
		}
		in.ops[op] = true
	}
	if len(ops) == 0 {
		for i := range in.ops {
			in.ops[i] = true
		}
	}
	return in
}

func (in *onOps) MaybeError(op Op, _ string) error {
	if op >= 0 && op < numOps && in.ops[op] {
		return in.err
	}
	return nil
}

// OnOpsShort is OnOps(ShortWrite(n), ops...): the given operations (OpWrite
// when none are given) write only their first n bytes and fail with
// io.ErrShortWrite.
func OnOpsShort(n int, ops ...Op) Injector {
	if len(ops) == 0 {
		ops = []Op{OpWrite}
	}
	return OnOps(ShortWrite(n), ops...)
}

type onPath struct {
	pattern string
	inj     Injector
}

// OnPath restricts inj to the paths whose base name (filepath.Base) matches
// the filepath.Match glob pattern, e.g. "*.tmp", "data-*" or "index". Other
// paths are let through without consulting inj, so they do not advance the
// counters of an After or Once inside it. For OpRename the old path is
// matched. OnPath panics if the pattern is malformed.
func OnPath(pattern string, inj Injector) Injector {
	if _, err := filepath.Match(pattern, ""); err != nil {
		panic(fmt.Sprintf("errorfs: OnPath(%q): %v", pattern, err))
	}
	return &onPath{pattern: pattern, inj: inj}
}

func (in *onPath) MaybeError(op Op, path string) error {
	if ok, _ := filepath.Match(in.pattern, filepath.Base(path)); !ok {
		return nil
	}
	return in.inj.MaybeError(op, path)
}

type after struct {
	n    int64
	seen atomic.Int64
	inj  Injector
}

// After lets the first n operations that inj would fail pass, then injects
// inj's errors. inj is consulted for every operation and only its non-nil
// answers are counted.
func After(n int, inj Injector) Injector {
	return &after{n: int64(n), inj: inj}
}

func (in *after) MaybeError(op Op, path string) error {
	err := in.inj.MaybeError(op, path)
	if err == nil {
		return nil
	}
	if in.seen.Add(1) <= in.n {
		return nil
	}
	return err
}

type once struct {
	fired atomic.Bool
	inj   Injector
}

// Once injects only the first error inj answers; after that every operation
// passes and inj is no longer consulted. Under concurrent use exactly one
// operation fails.
func Once(inj Injector) Injector { return &once{inj: inj} }

func (in *once) MaybeError(op Op, path string) error {
	if in.fired.Load() {
		return nil
	}
	err := in.inj.MaybeError(op, path)
	if err == nil || !in.fired.CompareAndSwap(false, true) {
		return nil
	}
	return err
}

type probability struct {
	p   float64
	mu  sync.Mutex
	rng *rand.Rand
	inj Injector
}

// Probability injects each error inj answers with probability p (0 never, 1
// always), drawn from a PRNG seeded with seed: with the same seed and the
// same sequence of operations the same operations fail. The PRNG advances
// only on operations inj would fail.
func Probability(p float64, seed int64, inj Injector) Injector {
	return &probability{
		p:   p,
		rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		inj: inj,
	}
}

func (in *probability) MaybeError(op Op, path string) error {
	err := in.inj.MaybeError(op, path)
	if err == nil {
		return nil
	}
	in.mu.Lock()
	x := in.rng.Float64()
	in.mu.Unlock()
	if x < in.p {
		return err
	}
	return nil
}

type anyOf []Injector

// Any consults the injectors in order and injects the first error one of
// them answers; the rest are not consulted for that operation. For example
// Any(OnOpsShort(10), OnOps(syscall.EIO, OpSync)).
func Any(injs ...Injector) Injector { return anyOf(injs) }

func (in anyOf) MaybeError(op Op, path string) error {
	for _, inj := range in {
		if err := inj.MaybeError(op, path); err != nil {
			return err
		}
	}
	return nil
}

// Toggle switches an Injector on and off at run time, e.g. to simulate a
// disk that fills up (Enable) and is freed again (Disable). The zero value
// with Injector set is disabled, as is NewToggle's result. While disabled
// every operation passes and Injector is not consulted. Enable, Disable and
// MaybeError are safe for concurrent use.
type Toggle struct {
	Injector
	on atomic.Bool
}

// NewToggle returns a disabled Toggle around inj.
func NewToggle(inj Injector) *Toggle { return &Toggle{Injector: inj} }

// Enable starts injecting.
func (t *Toggle) Enable() { t.on.Store(true) }

// Disable stops injecting.
func (t *Toggle) Disable() { t.on.Store(false) }

// Enabled reports whether t injects.
func (t *Toggle) Enabled() bool { return t.on.Load() }

// MaybeError consults the wrapped Injector if t is enabled.
func (t *Toggle) MaybeError(op Op, path string) error {
	if !t.on.Load() {
		return nil
	}
	return t.Injector.MaybeError(op, path)
}

// FS is a vfs.FS that injects faults into another one. Every File it opens
// is wrapped too. It is safe for concurrent use if the inner FS and the
// Injector are.
type FS struct {
	inner    vfs.FS
	inj      Injector
	injected [numOps]atomic.Int64
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns an FS that asks inj before each operation on inner whether to
// fail it. A nil inj never injects.
func Wrap(inner vfs.FS, inj Injector) *FS {
	return &FS{inner: inner, inj: inj}
}

// Injected returns how many faults FS has injected into operations of kind
// op so far (through itself and the files it opened).
func (e *FS) Injected(op Op) int {
	if op < 0 || op >= numOps {
		return 0
	}
	return int(e.injected[op].Load())
}

// maybeError asks the injector about op on path and, if it answers, counts
// the fault and returns the raw injected error.
func (e *FS) maybeError(op Op, path string) error {
	if e.inj == nil {
		return nil
	}
	err := e.inj.MaybeError(op, path)
	if err != nil {
		e.injected[op].Add(1)
	}
	return err
}

// check is maybeError with the error wrapped for returning.
func (e *FS) check(op Op, path string) error {
	if err := e.maybeError(op, path); err != nil {
		return wrapErr(op, path, err)
	}
	return nil
}

// wrapErr wraps an injected error in an *fs.PathError, except io.EOF, which
// readers compare with ==.
func wrapErr(op Op, path string, err error) error {
	if err == io.EOF {
		return err
	}
	return &fs.PathError{Op: op.String(), Path: path, Err: err}
}

// OpenFile implements vfs.FS; it is OpCreate with os.O_CREATE in flag and
// OpOpen without.
func (e *FS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	if err := e.check(op, name); err != nil {
		return nil, err
	}
	f, err := e.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &file{fs: e, inner: f, name: name}, nil
}

// Rename implements vfs.FS (OpRename). An injected error is returned as an
// *os.LinkError naming both paths.
func (e *FS) Rename(oldpath, newpath string) error {
	if err := e.maybeError(OpRename, oldpath); err != nil {
		return &os.LinkError{Op: OpRename.String(), Old: oldpath, New: newpath, Err: err}
	}
	return e.inner.Rename(oldpath, newpath)
}

// Remove implements vfs.FS (OpRemove).
func (e *FS) Remove(name string) error {
	if err := e.check(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

// MkdirAll implements vfs.FS (OpMkdir).
func (e *FS) MkdirAll(path string, perm fs.FileMode) error {
	if err := e.check(OpMkdir, path); err != nil {
		return err
	}
	return e.inner.MkdirAll(path, perm)
}

// ReadDir implements vfs.FS (OpReadDir).
func (e *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := e.check(OpReadDir, name); err != nil {
		return nil, err
	}
	return e.inner.ReadDir(name)
}

// Stat implements vfs.FS (OpStat).
func (e *FS) Stat(name string) (fs.FileInfo, error) {
	if err := e.check(OpStat, name); err != nil {
		return nil, err
	}
	return e.inner.Stat(name)
}

// SyncDir implements vfs.FS (OpSyncDir).
func (e *FS) SyncDir(name string) error {
	if err := e.check(OpSyncDir, name); err != nil {
		return err
	}
	return e.inner.SyncDir(name)
}

// file is a vfs.File whose operations consult its FS's injector. Seek and
// Name are never failed.
type file struct {
	fs    *FS
	inner vfs.File
	name  string
}

var _ vfs.File = (*file)(nil)

func (f *file) Read(p []byte) (int, error) {
	if err := f.fs.check(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.inner.Read(p)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *file) Write(p []byte) (int, error) {
	return f.write(p, func(b []byte) (int, error) { return f.inner.Write(b) })
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	return f.write(p, func(b []byte) (int, error) { return f.inner.WriteAt(b, off) })
}

// WriteVAt writes through the inner file's WriteVAt; a short write keeps
// the first N bytes of the buffers taken in order.
func (f *file) WriteVAt(bufs [][]byte, off int64) (int, error) {
	err := f.fs.maybeError(OpWrite, f.name)
	if err == nil {
		return f.inner.WriteVAt(bufs, off)
	}
	var sw *ShortWriteError
	if !errors.As(err, &sw) {
		return 0, wrapErr(OpWrite, f.name, err)
	}
	keep := max(sw.N, 0)
	var part [][]byte
	for _, b := range bufs {
		if keep == 0 {
			break
		}
		b = b[:min(len(b), keep)]
		keep -= len(b)
		part = append(part, b)
	}
	n := 0
	if len(part) > 0 {
		w, werr := f.inner.WriteVAt(part, off)
		if werr != nil {
			return w, werr
		}
		n = w
	}
	return n, wrapErr(OpWrite, f.name, io.ErrShortWrite)
}

// write injects into a Write or WriteAt done by do.
func (f *file) write(p []byte, do func([]byte) (int, error)) (int, error) {
	err := f.fs.maybeError(OpWrite, f.name)
	if err == nil {
		return do(p)
	}
	var sw *ShortWriteError
	if !errors.As(err, &sw) {
		return 0, wrapErr(OpWrite, f.name, err)
	}
	n := min(max(sw.N, 0), len(p))
	if n > 0 {
		w, werr := do(p[:n])
		if werr != nil {
			return w, werr
		}
		n = w
	}
	return n, wrapErr(OpWrite, f.name, io.ErrShortWrite)
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	return f.inner.Seek(offset, whence)
}

// Close closes the inner file even when a fault is injected (as close(2)
// releases the descriptor even when it fails), then returns the injected
// error.
func (f *file) Close() error {
	if err := f.fs.check(OpClose, f.name); err != nil {
		_ = f.inner.Close()
		return err
	}
	return f.inner.Close()
}

func (f *file) Sync() error {
	if err := f.fs.check(OpSync, f.name); err != nil {
		return err
	}
	return f.inner.Sync()
}

// StartWriteback forwards the hint of vfs.WritebackStarter when the inner
// file takes it; no fault is injected into a hint.
func (f *file) StartWriteback(off, n int64) error {
	if ws, ok := f.inner.(vfs.WritebackStarter); ok {
		return ws.StartWriteback(off, n)
	}
	return nil
}

func (f *file) Datasync() error {
	if err := f.fs.check(OpDatasync, f.name); err != nil {
		return err
	}
	return f.inner.Datasync()
}

func (f *file) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.name); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *file) Stat() (fs.FileInfo, error) {
	if err := f.fs.check(OpStat, f.name); err != nil {
		return nil, err
	}
	return f.inner.Stat()
}

func (f *file) Name() string { return f.inner.Name() }
