package blob

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/elliptics/elliptics/core/vfs"
)

// allocate makes [off, off+n) of f part of the file without writing it:
// fallocate(2), which reserves the blocks (so the chunks written later do
// not run out of space) and reads as zeros, where the file system has it,
// else a sparse extension (ftruncate). Either way nothing is written, so a
// reservation of GiBs costs no I/O.
func allocate(f vfs.File, off, n int64) error {
	if fd, ok := f.(fdFile); ok && n > 0 {
		err := unix.Fallocate(int(fd.Fd()), 0, off, n)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.ENOSPC):
			return errNoSpaceReserve
		case !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS):
			return err
		}
	}
	return f.Truncate(off + n)
}

// release gives the blocks of [off, off+n) of f back to the file system
// (fallocate with FALLOC_FL_PUNCH_HOLE), leaving the file's size alone; the
// range reads as zeros afterwards. Only whole pages inside the range are
// freed. It is a hint: where the file system cannot, nothing happens.
func release(f vfs.File, off, n int64) {
	const page = 4096
	start, end := (off+page-1)&^(page-1), (off+n)&^(page-1)
	if fd, ok := f.(fdFile); ok && end > start {
		_ = unix.Fallocate(int(fd.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, start, end-start)
	}
}
