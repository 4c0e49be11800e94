// Package vfs is the file system seam of the storage backends: everything a
// backend does to disk goes through an FS, so tests can swap in errorfs and
// inject ENOSPC, EIO, short writes and fsync failures (in the style of
// pebble's vfs/errorfs).
package vfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	io.Closer
	// Sync makes the file's data and metadata durable, like fsync(2).
	Sync() error
	// Datasync makes the file's data durable together with the metadata
	// needed to read it back (its size and blocks), like fdatasync(2),
	// without waiting for timestamps alone. Where the system has no such
	// call it is Sync.
	Datasync() error
	// WriteVAt writes the buffers one after another starting at offset off,
	// like pwritev(2): one system call for all of them where the system has
	// it. It returns the number of bytes written and a non-nil error when
	// that is less than their total. Do not use it on a file opened with
	// O_APPEND.
	WriteVAt(bufs [][]byte, off int64) (int, error)
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Name() string
}

// WritebackStarter is implemented by files that can start writing a range
// of dirty pages to the device without waiting for it, like
// sync_file_range(2) with SYNC_FILE_RANGE_WRITE. It is only a hint that
// lets the device work while the caller prepares more data: it makes
// nothing durable, and a caller must not depend on it being implemented.
type WritebackStarter interface {
	StartWriteback(off, n int64) error
}

// FS is the subset of the operating system's file system the backends use.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename renames a file like os.Rename.
	Rename(oldpath, newpath string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(path string, perm fs.FileMode) error
	// ReadDir lists a directory sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat describes a file.
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes a directory's entries (creates, renames, removes)
	// durable.
	SyncDir(name string) error
}

// Default is the operating system's file system.
var Default FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

// osFile is an *os.File with the File methods os does not have
// (vfs_linux.go, vfs_other.go).
type osFile struct {
	*os.File
}

// advance drops the first n bytes of bufs after a short vectored write. A
// partly written buffer is cut in a copy of the slice, so the caller's
// slice is never modified.
func advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
			continue
		}
		rest := make([][]byte, len(bufs))
		copy(rest, bufs)
		rest[0] = rest[0][n:]
		return rest
	}
	return bufs
}

// WriteVAtLoop implements File.WriteVAt with one WriteAt per buffer, for
// files that have no vectored write.
func WriteVAtLoop(w io.WriterAt, bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := w.WriteAt(b, off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (osFS) SyncDir(name string) error                    { return syncDir(name) }

func syncDir(name string) error {
	d, err := os.Open(filepath.Clean(name))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Create creates or truncates a file for writing.
func Create(fsys FS, name string) (File, error) {
	return fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

// Open opens a file for reading.
func Open(fsys FS, name string) (File, error) {
	return fsys.OpenFile(name, os.O_RDONLY, 0)
}

// WriteFileAtomic writes data to name through a temporary file, fsync and
// rename, then syncs the directory: after a crash name holds either the old
// or the new contents, never a mix.
func WriteFileAtomic(fsys FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := Create(fsys, tmp)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	return fsys.SyncDir(filepath.Dir(name))
}

// ReadFile reads a whole file.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := Open(fsys, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
