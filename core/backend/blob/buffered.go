package blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

var _ backend.BufferedReader = (*Backend)(nil)

// ReadBuffered implements backend.BufferedReader: Read, with the bytes of
// a plain record (read whole, its checksum verified) or of the blocks of a
// reserved one (each verified) read into alloc's buffer. Compressed
// records and big plain ones, which Read takes in pieces, go through Read.
func (b *Backend) ReadBuffered(ctx context.Context, key backend.Key, offset, size uint64, alloc func(n int) []byte) ([]byte, backend.Meta, error) {
	if err := b.check(ctx); err != nil {
		return nil, backend.Meta{}, err
	}
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	fd, meta, end, err := b.readable(key, offset, size)
	if err != nil {
		return nil, meta, err
	}
	var data []byte
	switch {
	case fd.hdr.reserved() && end > offset:
		data, err = b.readBlocksInto(fd, offset, end, alloc)
	case !fd.hdr.reserved() && fd.hdr.flags&recordCompressed == 0 && fd.hdr.diskSize <= 2*readPiece:
		data, err = b.readPlainInto(fd, alloc)
		if err == nil {
			data = data[offset:end:end]
		}
	default:
		data, err = b.readRange(fd, offset, end)
	}
	if err != nil {
		return nil, meta, err
	}
	return data, meta, nil
}

// readPlainInto is readData of an uncompressed plain record, into alloc's
// buffer.
func (b *Backend) readPlainInto(fd found, alloc func(int) []byte) ([]byte, error) {
	stored := alloc(int(fd.hdr.diskSize))
	if _, err := fd.file.f.ReadAt(stored, int64(fd.loc.off+fd.hdr.dataOffset())); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, status.Errorf(status.Corrupt, "blob %s: record at %d cut short", fd.file.path, fd.loc.off)
		}
		return nil, ioError(fmt.Sprintf("blob %s: read record at %d", fd.file.path, fd.loc.off), err)
	}
	if xxhash.Sum64(stored) != fd.hdr.dataCsum {
		return nil, status.Errorf(status.Corrupt, "blob %s: record at %d (key %s): data checksum mismatch",
			fd.file.path, fd.loc.off, fd.hdr.id.Short())
	}
	return stored, nil
}

// readBlocksInto is readRange of a reserved record, into alloc's buffer:
// the blocks holding [off, end), each verified against the block table.
func (b *Backend) readBlocksInto(fd found, off, end uint64, alloc func(int) []byte) ([]byte, error) {
	table, err := b.readTable(fd)
	if err != nil {
		return nil, err
	}
	b0, b1 := off>>blockShift, (end-1)>>blockShift+1
	start, stop := b0<<blockShift, min(b1<<blockShift, fd.hdr.dataSize)
	buf := alloc(int(stop - start))
	if err := b.readVerified(fd, table, start, buf); err != nil {
		return nil, err
	}
	return buf[off-start : end-start : end-start], nil
}
