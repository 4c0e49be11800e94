package vfs

import (
	"fmt"
	"runtime/debug"
	"syscall"
)

// Mapper is implemented by files that can be mapped into memory shared with
// the page cache (mmap(2) with MAP_SHARED), so an append can be a copy
// instead of a system call. A store of bytes into the mapping is in the page
// cache when the copy returns, like a completed write(2): it survives a kill
// of the process, and reads through the file see it.
//
// Only the part of a mapping that lies inside the file may be touched: past
// the file's end the system raises SIGBUS, which Mapping.WriteAt turns into
// an error, as it does for an I/O error while a page is brought in. Callers
// grow the file (fallocate) before they copy past its old end.
type Mapper interface {
	// Map maps the first n bytes of the file's address range for reading
	// and writing. n may exceed the file's size.
	Map(n int64) (*Mapping, error)
}

// Mapping is a shared, writable mapping of a file made by Mapper.Map.
type Mapping struct {
	name     string
	data     []byte
	populate func(p []byte) error
	release  func(p []byte) error
	unmap    func(p []byte) error
}

// Len is the length of the mapping.
func (m *Mapping) Len() int64 { return int64(len(m.data)) }

// WriteAt copies p into the mapping at off. A fault while copying (the
// page lies past the file's end, or the disk failed to bring it in) is
// returned as an error wrapping EIO, never a crash.
func (m *Mapping) WriteAt(p []byte, off int64) (err error) {
	if off < 0 || off > int64(len(m.data))-int64(len(p)) {
		return fmt.Errorf("mapping of %s: write of %d bytes at %d outside its %d bytes", m.name, len(p), off, len(m.data))
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mapping of %s: write at %d: %v: %w", m.name, off, r, syscall.EIO)
		}
	}()
	copy(m.data[off:], p)
	return nil
}

// ReadAt copies len(p) bytes of the mapping at off into p. The range must
// lie inside the file; a fault while copying is returned as an error
// wrapping EIO, never a crash.
func (m *Mapping) ReadAt(p []byte, off int64) (err error) {
	if off < 0 || off > int64(len(m.data))-int64(len(p)) {
		return fmt.Errorf("mapping of %s: read of %d bytes at %d outside its %d bytes", m.name, len(p), off, len(m.data))
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mapping of %s: read at %d: %v: %w", m.name, off, r, syscall.EIO)
		}
	}()
	copy(p, m.data[off:])
	return nil
}

// Populate brings the pages of [off, off+n) into memory ready for writing,
// so the copies that follow take no page faults. It is an optimisation:
// where the system cannot do it, it does nothing and returns nil. The range
// must lie inside the file.
func (m *Mapping) Populate(off, n int64) error {
	if off < 0 || n < 0 || off > int64(len(m.data))-n {
		return fmt.Errorf("mapping of %s: populate %d bytes at %d outside its %d bytes", m.name, n, off, len(m.data))
	}
	if m.populate == nil || n == 0 {
		return nil
	}
	return m.populate(m.data[off : off+n])
}

// Release drops [off, off+n) from the process's page tables
// (MADV_DONTNEED). For a shared file mapping nothing is lost: the pages,
// dirty or not, stay in the page cache and a later access maps them again.
// It keeps pages that will not be touched again from counting in the
// process's resident memory.
func (m *Mapping) Release(off, n int64) error {
	if off < 0 || n < 0 || off > int64(len(m.data))-n {
		return fmt.Errorf("mapping of %s: release %d bytes at %d outside its %d bytes", m.name, n, off, len(m.data))
	}
	if m.release == nil || n == 0 {
		return nil
	}
	return m.release(m.data[off : off+n])
}

// Unmap releases the mapping; it must not be used afterwards. What was
// copied into it stays in the file.
func (m *Mapping) Unmap() error {
	if m.data == nil {
		return nil
	}
	err := m.unmap(m.data)
	m.data = nil
	return err
}
