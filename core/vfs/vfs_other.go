//go:build !linux

package vfs

// Datasync implements File; without fdatasync it is a full Sync.
func (f *osFile) Datasync() error { return f.Sync() }

// WriteVAt implements File with one WriteAt per buffer.
func (f *osFile) WriteVAt(bufs [][]byte, off int64) (int, error) {
	return WriteVAtLoop(f.File, bufs, off)
}
