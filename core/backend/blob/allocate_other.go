//go:build !linux

package blob

import "github.com/elliptics/elliptics/core/vfs"

// allocate makes [off, off+n) of f part of the file without writing it (a
// sparse extension).
func allocate(f vfs.File, off, n int64) error { return f.Truncate(off + n) }

// release would give the blocks of [off, off+n) back; elsewhere than Linux
// it does nothing.
func release(vfs.File, int64, int64) {}
