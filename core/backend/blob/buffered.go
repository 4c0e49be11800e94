package blob

import (
	"context"

	"github.com/elliptics/elliptics/core/backend"
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
		data, err = b.readStored(fd, alloc(int(fd.hdr.diskSize)))
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
