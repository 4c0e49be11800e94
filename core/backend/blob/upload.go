package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// Chunked uploads (prepare / plain / commit) write in place. A prepare
// appends a reserved record: its header (flags uncommitted|reserved, data
// size = the reservation) and nothing else; the rest of the record is
// allocated without writing it (fallocate where the file system has it,
// else a sparse extension of the file), so a prepare of GiBs writes a few
// hundred bytes. Its disk area is
//
//	data   reservation bytes, padded to 8     chunks are pwritten here
//	table  8 bytes per block of 1 MiB          xxhash64 of each block
//	trailer 64 bytes                          written by a commit
//
// Chunks (plain and commit) are pwritten at the record's data offset plus
// the chunk offset. A commit computes the block checksums (from the chunks
// it saw since the backend opened, reading back only the blocks it did not
// see whole), writes the table, syncs, then writes the trailer and syncs
// again. A valid trailer is what commits the record: the header is never
// rewritten, so a crash at any moment leaves either the uncommitted record
// (invisible, committable after the restart, reclaimed by defragmentation
// after its deadline) or the committed one. A torn trailer fails its own
// checksum and the record stays uncommitted; data torn under a valid
// trailer cannot happen (the table and the data are synced before the
// trailer is written), and any later damage fails the block checksums,
// which every read verifies for the blocks it reads.
//
// Trailer (64 bytes, little-endian):
//
//	 0  4 magic "EBT1"
//	 4  1 state: 1 pending (a plain write moved the deadline), 2 committed
//	 5  1 block shift (20: blocks of 1 MiB)
//	 6  2 zero
//	 8  8 the record's sequence number (ties the trailer to the record)
//	16  8 data size (committed size; the reservation while pending)
//	24  8 timestamp, Unix nanoseconds
//	32  8 user flags
//	40  8 expiry, Unix nanoseconds (0 = never)
//	48  8 xxhash64 of the block table (the blocks of the data size)
//	56  8 xxhash64 of bytes 0..55
const (
	blockShift       = 20
	blockSize        = 1 << blockShift
	trailerSize      = 64
	trailerMagic     = 0x31544245 // "EBT1"
	trailerPending   = 1
	trailerCommitted = 2
)

// nblocks is the number of checksum blocks of n bytes of data.
func nblocks(n uint64) uint64 { return (n + blockSize - 1) >> blockShift }

// reservedDisk is the disk size of a reserved record of n data bytes.
func reservedDisk(n uint64) uint64 { return alignUp(n) + 8*nblocks(n) + trailerSize }

// tableOffset and trailerOffset are relative to the record's start.
func (h *header) tableOffset() uint64 { return h.dataOffset() + alignUp(h.reservedSize) }

func (h *header) trailerOffset() uint64 { return h.tableOffset() + 8*nblocks(h.reservedSize) }

type trailer struct {
	state     uint8
	seq       uint64
	size      uint64
	timestamp int64
	userFlags uint64
	expire    int64
	tableSum  uint64
}

func (t *trailer) encode() []byte {
	b := make([]byte, trailerSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], trailerMagic)
	b[4] = t.state
	b[5] = blockShift
	le.PutUint64(b[8:], t.seq)
	le.PutUint64(b[16:], t.size)
	le.PutUint64(b[24:], uint64(t.timestamp))
	le.PutUint64(b[32:], t.userFlags)
	le.PutUint64(b[40:], uint64(t.expire))
	le.PutUint64(b[48:], t.tableSum)
	le.PutUint64(b[56:], xxhash.Sum64(b[:56]))
	return b
}

// decodeTrailer returns the trailer in b, or ok false if there is none
// (zeros: never written) or it is torn.
func decodeTrailer(b []byte, h *header) (trailer, bool) {
	le := binary.LittleEndian
	if len(b) < trailerSize || le.Uint32(b) != trailerMagic || b[5] != blockShift ||
		le.Uint64(b[56:]) != xxhash.Sum64(b[:56]) {
		return trailer{}, false
	}
	t := trailer{state: b[4], seq: le.Uint64(b[8:]), size: le.Uint64(b[16:]), timestamp: int64(le.Uint64(b[24:])),
		userFlags: le.Uint64(b[32:]), expire: int64(le.Uint64(b[40:])), tableSum: le.Uint64(b[48:])}
	if t.seq != h.seq || t.size > h.reservedSize || (t.state != trailerPending && t.state != trailerCommitted) {
		return trailer{}, false
	}
	return t, true
}

// overlay reads the trailer of a reserved record and applies it to hdr:
// a committed trailer makes the record visible with its final size and
// metadata; a pending one carries a moved deadline.
func (b *Backend) overlay(f *dataFile, off uint64, hdr *header) error {
	var tb [trailerSize]byte
	if _, err := f.f.ReadAt(tb[:], int64(off+hdr.trailerOffset())); err != nil && !errors.Is(err, io.EOF) {
		return ioError(fmt.Sprintf("blob %s: read trailer at %d", f.path, off), err)
	}
	t, ok := decodeTrailer(tb[:], hdr)
	if !ok {
		return nil
	}
	hdr.trailer = t.state
	hdr.timestamp, hdr.userFlags, hdr.expire = t.timestamp, t.userFlags, t.expire
	if t.state == trailerCommitted {
		hdr.flags &^= recordUncommitted
		hdr.dataSize, hdr.tableSum = t.size, t.tableSum
	}
	return nil
}

// uploadState is what the backend remembers of an upload in progress:
// the checksums of the blocks chunks covered whole, so a commit reads back
// only the others. It is lost at a restart (the commit then reads every
// block back).
type uploadState struct {
	sums  []uint64
	valid []bool
}

type uploads struct {
	mu sync.Mutex
	m  map[location]*uploadState
}

func (u *uploads) forget(l location) {
	u.mu.Lock()
	delete(u.m, l)
	u.mu.Unlock()
}

// note records the checksums of the blocks that [off, off+len(data))
// covers whole, and invalidates the ones it covers in part.
func (u *uploads) note(l location, reserved, off uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	end := off + uint64(len(data))
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[location]*uploadState{}
	}
	st := u.m[l]
	if st == nil {
		n := nblocks(reserved)
		st = &uploadState{sums: make([]uint64, n), valid: make([]bool, n)}
		u.m[l] = st
	}
	for i := off >> blockShift; i < uint64(len(st.sums)) && i<<blockShift < end; i++ {
		bs, be := i<<blockShift, (i+1)<<blockShift
		if bs >= off && be <= end {
			st.sums[i], st.valid[i] = xxhash.Sum64(data[bs-off:be-off]), true
		} else {
			st.valid[i] = false
		}
	}
}

// sums returns a copy of the known block sums of l (nil if none).
func (u *uploads) sums(l location) *uploadState {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.m[l]
	if st == nil {
		return nil
	}
	return &uploadState{sums: append([]uint64(nil), st.sums...), valid: append([]bool(nil), st.valid...)}
}

// fdFile is implemented by operating system files, which allocate can
// fallocate (allocate_linux.go).
type fdFile interface{ Fd() uintptr }

// reserveRecord appends the header of a reserved record and allocates the
// rest of it without writing it. With durable (and SyncAlways) it returns
// once the header is synced; a caller that syncs the record's file itself
// before anything depends on the header passes false. The caller holds
// swapMu shared.
func (b *Backend) reserveRecord(hdr *header, durable bool) (location, *dataFile, error) {
	size := hdr.size()
	if size > MaxFileSize {
		return location{}, nil, status.Errorf(status.TooLarge, "record of %d bytes over the largest file", size)
	}
	b.appendMu.Lock()
	if b.readOnly.Load() {
		b.appendMu.Unlock()
		if err := b.checkWritable(); err != nil {
			return location{}, nil, err
		}
		return location{}, nil, status.Errorf(status.ReadOnly, "blob %s is read-only", b.dir)
	}
	f := b.active
	pos := f.size.Load()
	if pos > 0 && (pos+size > b.opts.BlobSize || f.records.Load() >= b.opts.RecordsInBlob) {
		if err := b.rotateLocked(); err != nil {
			b.appendMu.Unlock()
			err = ioError(fmt.Sprintf("blob %s: rotate data file", b.dir), err)
			b.fail(err)
			return location{}, nil, err
		}
		f, pos = b.active, 0
	}
	b.seq++
	hdr.seq = b.seq
	head := make([]byte, headerSize+len(hdr.column))
	hdr.encode(head)
	err := allocate(f.f, int64(pos+uint64(len(head))), int64(size-uint64(len(head))))
	if err == nil {
		_, err = f.f.WriteAt(head, int64(pos))
	}
	if err != nil {
		_ = f.truncate(pos)
		b.seq--
		b.appendMu.Unlock()
		if errors.Is(err, errNoSpaceReserve) {
			return location{}, nil, status.Errorf(status.NoSpace, "blob %s: reserve %d bytes: no space left", b.dir, size)
		}
		err = ioError(fmt.Sprintf("blob %s: reserve record", f.path), err)
		b.fail(err)
		return location{}, nil, err
	}
	f.size.Store(pos + size)
	if f.tail != nil {
		f.tail.advanced(pos + size)
	}
	f.records.Add(1)
	b.appendedBytes.Add(uint64(len(head)))
	b.writeSeq++
	wseq := b.writeSeq
	b.appended.Store(wseq)
	b.appendMu.Unlock()
	if durable && b.opts.Sync == SyncAlways {
		if err := b.commit.wait(wseq); err != nil {
			err = ioError(fmt.Sprintf("blob %s: fsync", f.path), err)
			b.fail(err)
			return location{}, nil, err
		}
	}
	return location{file: f.slot, off: pos}, f, nil
}

// errNoSpaceReserve is a reservation the file system has no room for: the
// backend stays writable (smaller writes may fit).
var errNoSpaceReserve = errors.New("no space for the reservation")

// writePhased is Write for a step of a chunked upload. The caller holds
// the object's stripe and swapMu shared; old is the column's record.
func (b *Backend) writePhased(req *backend.WriteRequest, h uint64, old found, exists bool) (backend.Meta, error) {
	now := time.Now()
	live := exists && !old.hdr.expired(now)
	var prev backend.Previous
	if live {
		prev = backend.Previous{Exists: true, Pending: old.hdr.uncommitted(), Expire: old.hdr.expireTime()}
	}
	u, err := backend.PlanUpload(prev, old.hdr.reservedSize, req, MaxFileSize)
	if err != nil {
		return backend.Meta{}, err
	}
	ts := req.Timestamp
	if ts.IsZero() {
		ts = now
	}
	fd := old
	if req.Prepare {
		hdr := header{id: req.ID, column: req.Column, flags: recordUncommitted | recordReserved,
			timestamp: ts.UnixNano(), userFlags: req.UserFlags, dataSize: u.Reserve, diskSize: reservedDisk(u.Reserve)}
		hdr.expire = unixExpire(u.Expire)
		hdr.reservedSize = u.Reserve
		loc, f, err := b.reserveRecord(&hdr, true)
		if err != nil {
			return backend.Meta{}, err
		}
		b.publish(h, old, exists, loc, f, &hdr)
		fd = found{loc: loc, file: f, hdr: hdr}
	}
	meta := backend.Meta{Size: fd.hdr.reservedSize, Timestamp: ts.UTC(), UserFlags: req.UserFlags, Expire: u.Expire}
	if len(req.Data) > 0 {
		pos := fd.loc.off + fd.hdr.dataOffset() + req.Offset
		if _, err := fd.file.f.WriteAt(req.Data, int64(pos)); err != nil {
			// The log is intact (the write was inside a reserved record):
			// the chunk fails, the backend stays writable.
			return backend.Meta{}, ioError(fmt.Sprintf("blob %s: write chunk at %d", fd.file.path, pos), err)
		}
		b.ups.note(fd.loc, fd.hdr.reservedSize, req.Offset, req.Data)
	}
	switch {
	case u.Commit:
		if err := b.commitUpload(fd, u.Size, ts, req.UserFlags, u.Expire); err != nil {
			return backend.Meta{}, err
		}
		meta.Size = u.Size
		b.ups.forget(fd.loc)
		return meta, nil
	case u.ExpireChanged:
		t := trailer{state: trailerPending, seq: fd.hdr.seq, size: fd.hdr.reservedSize, timestamp: ts.UnixNano(),
			userFlags: req.UserFlags, expire: unixExpire(u.Expire)}
		if _, err := fd.file.f.WriteAt(t.encode(), int64(fd.loc.off+fd.hdr.trailerOffset())); err != nil {
			return backend.Meta{}, ioError(fmt.Sprintf("blob %s: write trailer", fd.file.path), err)
		}
	}
	if b.opts.Sync == SyncAlways && (len(req.Data) > 0 || u.ExpireChanged) {
		if err := fd.file.f.Datasync(); err != nil {
			return backend.Meta{}, ioError(fmt.Sprintf("blob %s: fsync chunk", fd.file.path), err)
		}
	}
	return meta, nil
}

func unixExpire(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1) // 0 would mean never
}

// commitUpload computes and writes the block table of the first size bytes
// of fd's data, syncs, then writes the committed trailer and syncs again.
func (b *Backend) commitUpload(fd found, size uint64, ts time.Time, userFlags uint64, expire time.Time) error {
	n := nblocks(size)
	table := make([]byte, 8*n)
	known := b.ups.sums(fd.loc)
	data := fd.loc.off + fd.hdr.dataOffset()
	var buf []byte
	for i := uint64(0); i < n; i++ {
		bs, be := i<<blockShift, min((i+1)<<blockShift, size)
		var sum uint64
		if known != nil && known.valid[i] && be-bs == blockSize {
			sum = known.sums[i]
		} else {
			if buf == nil {
				buf = make([]byte, blockSize)
			}
			p := buf[:be-bs]
			if _, err := fd.file.f.ReadAt(p, int64(data+bs)); err != nil {
				return ioError(fmt.Sprintf("blob %s: commit: read back block %d", fd.file.path, i), err)
			}
			sum = xxhash.Sum64(p)
		}
		binary.LittleEndian.PutUint64(table[8*i:], sum)
	}
	if err := b.writeCommit(fd, table, size, ts, userFlags, expire); err != nil {
		return err
	}
	// The reservation past the committed size is never read again: give
	// its blocks back now rather than when the key is rewritten.
	if size < fd.hdr.reservedSize {
		release(fd.file.f, int64(data+size), int64(fd.hdr.reservedSize-size))
	}
	b.idxMu.Lock()
	b.liveBytes.Add(int64(size) - int64(fd.hdr.reservedSize))
	b.idxMu.Unlock()
	return nil
}

// writeCommit writes the block table of a reserved record, syncs, then
// writes the committed trailer and syncs again, so a valid trailer never
// covers data or a table that did not reach the disk.
func (b *Backend) writeCommit(fd found, table []byte, size uint64, ts time.Time, userFlags uint64, expire time.Time) error {
	if _, err := fd.file.f.WriteAt(table, int64(fd.loc.off+fd.hdr.tableOffset())); err != nil {
		return ioError(fmt.Sprintf("blob %s: commit: write block table", fd.file.path), err)
	}
	sync := func() error {
		if b.opts.Sync == SyncNone {
			return nil
		}
		if err := fd.file.f.Datasync(); err != nil {
			return syncFailed{ioError(fmt.Sprintf("blob %s: commit: fsync", fd.file.path), err)}
		}
		return nil
	}
	if err := sync(); err != nil {
		return err
	}
	t := trailer{state: trailerCommitted, seq: fd.hdr.seq, size: size, timestamp: ts.UnixNano(), userFlags: userFlags,
		expire: unixExpire(expire), tableSum: xxhash.Sum64(table)}
	if _, err := fd.file.f.WriteAt(t.encode(), int64(fd.loc.off+fd.hdr.trailerOffset())); err != nil {
		return ioError(fmt.Sprintf("blob %s: commit: write trailer", fd.file.path), err)
	}
	return sync()
}

// syncFailed marks the error of a failed fsync: after one, nothing written
// to the file since the last good sync is known to be on the disk, and a
// later sync of the same file may report success regardless.
type syncFailed struct{ error }

func (e syncFailed) Unwrap() error { return e.error }

// readTable reads and verifies the block table of a committed reserved
// record.
func (b *Backend) readTable(fd found) ([]byte, error) {
	table := make([]byte, 8*nblocks(fd.hdr.dataSize))
	if _, err := fd.file.f.ReadAt(table, int64(fd.loc.off+fd.hdr.tableOffset())); err != nil {
		return nil, ioError(fmt.Sprintf("blob %s: read block table at %d", fd.file.path, fd.loc.off), err)
	}
	if xxhash.Sum64(table) != fd.hdr.tableSum {
		return nil, status.Errorf(status.Corrupt, "blob %s: record at %d (key %s): block table checksum mismatch",
			fd.file.path, fd.loc.off, fd.hdr.id.Short())
	}
	return table, nil
}

// readRange returns bytes [off, end) of a record's data, verified. A
// reserved record reads and verifies only the blocks of the range; any
// other record is read (and its one checksum verified) in pieces, so
// memory stays at the range plus a piece.
func (b *Backend) readRange(fd found, off, end uint64) ([]byte, error) {
	if fd.hdr.reserved() {
		if end <= off {
			return []byte{}, nil
		}
		table, err := b.readTable(fd)
		if err != nil {
			return nil, err
		}
		b0, b1 := off>>blockShift, (end-1)>>blockShift+1
		start, stop := b0<<blockShift, min(b1<<blockShift, fd.hdr.dataSize)
		buf := make([]byte, stop-start)
		if err := b.readVerified(fd, table, start, buf); err != nil {
			return nil, err
		}
		return buf[off-start : end-start : end-start], nil
	}
	if fd.hdr.flags&recordCompressed != 0 || fd.hdr.diskSize <= 2*readPiece {
		data, err := b.readData(fd)
		if err != nil {
			return nil, err
		}
		return data[off:end:end], nil
	}
	out := make([]byte, end-off)
	err := b.eachPiece(fd, func(pos uint64, p []byte) error {
		if pe := pos + uint64(len(p)); pe > off && pos < end {
			lo, hi := max(pos, off), min(pe, end)
			copy(out[lo-off:], p[lo-pos:hi-pos])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readVerified reads buf at data offset start (a block boundary) of a
// reserved record and verifies every block it holds against table.
func (b *Backend) readVerified(fd found, table []byte, start uint64, buf []byte) error {
	pos := fd.loc.off + fd.hdr.dataOffset() + start
	if _, err := fd.file.f.ReadAt(buf, int64(pos)); err != nil {
		if errors.Is(err, io.EOF) {
			return status.Errorf(status.Corrupt, "blob %s: record at %d cut short", fd.file.path, fd.loc.off)
		}
		return ioError(fmt.Sprintf("blob %s: read record at %d", fd.file.path, fd.loc.off), err)
	}
	for p := uint64(0); p < uint64(len(buf)); p += blockSize {
		i := (start + p) >> blockShift
		q := buf[p:min(p+blockSize, uint64(len(buf)))]
		if xxhash.Sum64(q) != binary.LittleEndian.Uint64(table[8*i:]) {
			return status.Errorf(status.Corrupt, "blob %s: record at %d (key %s): block %d checksum mismatch",
				fd.file.path, fd.loc.off, fd.hdr.id.Short(), i)
		}
	}
	return nil
}

// readPiece is the size of the pieces a big record is read in.
const readPiece = blockSize

// eachPiece calls fn with the data of a record in order, piece by piece
// (pos is the piece's data offset). A reserved record's pieces are
// verified before fn sees them; any other record's checksum covers the
// whole, so a mismatch is reported after the last piece and the caller
// must discard what it built. A compressed record is one piece.
func (b *Backend) eachPiece(fd found, fn func(pos uint64, p []byte) error) error {
	if fd.hdr.flags&recordCompressed != 0 {
		data, err := b.readData(fd)
		if err != nil {
			return err
		}
		return fn(0, data)
	}
	size := fd.hdr.dataSize
	buf := make([]byte, min(size, readPiece))
	if fd.hdr.reserved() {
		table, err := b.readTable(fd)
		if err != nil {
			return err
		}
		for pos := uint64(0); pos < size; pos += readPiece {
			p := buf[:min(readPiece, size-pos)]
			if err := b.readVerified(fd, table, pos, p); err != nil {
				return err
			}
			if err := fn(pos, p); err != nil {
				return err
			}
		}
		return nil
	}
	d := xxhash.New()
	base := int64(fd.loc.off + fd.hdr.dataOffset())
	for pos := uint64(0); pos < size; pos += readPiece {
		p := buf[:min(readPiece, size-pos)]
		if _, err := fd.file.f.ReadAt(p, base+int64(pos)); err != nil {
			if errors.Is(err, io.EOF) {
				return status.Errorf(status.Corrupt, "blob %s: record at %d cut short", fd.file.path, fd.loc.off)
			}
			return ioError(fmt.Sprintf("blob %s: read record at %d", fd.file.path, fd.loc.off), err)
		}
		d.Write(p)
		if err := fn(pos, p); err != nil {
			return err
		}
	}
	if d.Sum64() != fd.hdr.dataCsum {
		return status.Errorf(status.Corrupt, "blob %s: record at %d (key %s): data checksum mismatch",
			fd.file.path, fd.loc.off, fd.hdr.id.Short())
	}
	return nil
}

// checkStored verifies the stored bytes of a record at off of f during
// replay, in pieces: a reserved record has no checksum over its data (its
// blocks are checked by reads), any other its data checksum.
func checkStored(f *dataFile, off uint64, hdr *header, buf []byte) (bool, error) {
	if hdr.reserved() {
		return true, nil
	}
	d := xxhash.New()
	base := int64(off + hdr.dataOffset())
	for pos := uint64(0); pos < hdr.diskSize; pos += uint64(len(buf)) {
		p := buf[:min(uint64(len(buf)), hdr.diskSize-pos)]
		if _, err := f.f.ReadAt(p, base+int64(pos)); err != nil {
			return false, err
		}
		d.Write(p)
	}
	return d.Sum64() == hdr.dataCsum, nil
}
