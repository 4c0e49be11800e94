package vfs

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// iovMax is IOV_MAX on Linux: the most buffers one pwritev takes.
const iovMax = 1024

// Datasync implements File with fdatasync(2).
func (f *osFile) Datasync() error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = ignoringEINTR(func() error { return unix.Fdatasync(int(fd)) })
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

var _ WritebackStarter = (*osFile)(nil)

// StartWriteback implements WritebackStarter with sync_file_range(2).
func (f *osFile) StartWriteback(off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = ignoringEINTR(func() error { return unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) })
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: serr}
	}
	return nil
}

// WriteVAt implements File with pwritev(2), continuing after short writes
// and splitting at IOV_MAX buffers.
func (f *osFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	if off < 0 {
		return 0, &os.PathError{Op: "pwritev", Path: f.Name(), Err: errors.New("negative offset")}
	}
	if len(bufs) == 1 { // pwrite(2) is cheaper than pwritev(2) of one buffer
		return f.File.WriteAt(bufs[0], off)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	total := 0
	var werr error
	if err := rc.Control(func(fd uintptr) {
		for len(bufs) > 0 {
			// Skip buffers already written (and empty ones).
			for len(bufs) > 0 && len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
			if len(bufs) == 0 {
				return
			}
			batch := bufs[:min(len(bufs), iovMax)]
			var n int
			werr = ignoringEINTR(func() error {
				var err error
				n, err = unix.Pwritev(int(fd), batch, off+int64(total))
				return err
			})
			if werr != nil {
				return
			}
			if n == 0 {
				werr = io.ErrUnexpectedEOF
				return
			}
			total += n
			bufs = advance(bufs, n)
		}
	}); err != nil {
		return total, err
	}
	if werr != nil {
		return total, &os.PathError{Op: "pwritev", Path: f.Name(), Err: werr}
	}
	return total, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

var _ Mapper = (*osFile)(nil)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14).
const madvPopulateWrite = 23

// Map implements Mapper with mmap(2).
func (f *osFile) Map(n int64) (*Mapping, error) {
	if n <= 0 || int64(int(n)) != n {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: syscall.EINVAL}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var data []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		data, merr = unix.Mmap(int(fd), 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}); err != nil {
		return nil, err
	}
	if merr != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: merr}
	}
	name := f.Name()
	return &Mapping{
		name: name,
		data: data,
		populate: func(p []byte) error {
			err := ignoringEINTR(func() error { return unix.Madvise(p, madvPopulateWrite) })
			if errors.Is(err, unix.EINVAL) { // an older kernel: the copies fault the pages in
				return nil
			}
			if err != nil {
				return &os.PathError{Op: "madvise", Path: name, Err: err}
			}
			return nil
		},
		release: func(p []byte) error {
			if err := unix.Madvise(p, unix.MADV_DONTNEED); err != nil {
				return &os.PathError{Op: "madvise", Path: name, Err: err}
			}
			return nil
		},
		unmap: unix.Munmap,
	}, nil
}
