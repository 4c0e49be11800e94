package blob

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
)

// Appends are combined: a writer queues its record and, if no other writer
// is appending, becomes the append leader, which writes every record queued
// at that moment with one vectored write (File.WriteVAt) under appendMu and
// then hands the lead to the first writer that queued meanwhile. A lone
// writer is its own leader and makes one write per record, so a record is
// always in the file (the kernel's page cache) before its writer returns:
// nothing is buffered in user space across a return.
//
// Records of up to smallRecord bytes are encoded into the leader's write
// buffer, larger ones are written from the caller's slice (header, data and
// padding as three buffers of the same write), so big values are not
// copied.
const (
	smallRecord = 64 << 10
	// writeChunk bounds the encoded small records of one write call.
	writeChunk = 1 << 20
)

// appendReq is one record waiting to be appended, and its outcome.
type appendReq struct {
	hdr    *header
	stored []byte
	wake   chan struct{} // the record is appended, or its writer leads next

	// Set by the leader that appends the record, before the wake-up.
	finished bool
	loc      location
	file     *dataFile
	wseq     uint64
	err      error

	head [headerSize + maxColumnLen]byte // header of a large record
}

var reqPool = sync.Pool{New: func() any { return &appendReq{wake: make(chan struct{}, 1)} }}

// appendQueue holds the records waiting for the append leader.
type appendQueue struct {
	mu      sync.Mutex
	reqs    []*appendReq
	spare   []*appendReq
	leading bool // a leader is running
}

// appendRecord writes a record at the end of the active file, rotating
// first if it would not fit, and waits for durability per the sync mode.
// The caller holds swapMu shared.
func (b *Backend) appendRecord(hdr *header, stored []byte) (location, *dataFile, error) {
	if size := hdr.size(); size > MaxFileSize {
		return location{}, nil, status.Errorf(status.TooLarge, "record of %d bytes over the largest file", size)
	}
	r := reqPool.Get().(*appendReq)
	r.hdr, r.stored = hdr, stored
	q := &b.appendQ
	q.mu.Lock()
	q.reqs = append(q.reqs, r)
	lead := !q.leading
	q.leading = true
	q.mu.Unlock()
	if !lead {
		<-r.wake
	}
	if !r.finished {
		b.leadAppends(r)
	}
	loc, f, wseq, err := r.loc, r.file, r.wseq, r.err
	*r = appendReq{wake: r.wake}
	reqPool.Put(r)
	if err == errReadOnlyNow {
		if err = b.checkWritable(); err == nil {
			err = status.Errorf(status.ReadOnly, "blob %s is read-only", b.dir)
		}
	}
	if err != nil {
		return location{}, nil, err
	}
	if b.opts.Sync == SyncAlways {
		if err := b.commit.wait(wseq); err != nil {
			err = ioError(fmt.Sprintf("blob %s: fsync", f.path), err)
			b.fail(err)
			return location{}, nil, err
		}
	}
	return loc, f, nil
}

// leadAppends appends every queued record (the leader's own among them)
// and, for a few rounds, what was queued meanwhile, then passes the lead to
// the first record still queued, if any. It wakes the writers whose records
// it appended after each round. Keeping the lead saves waking one writer
// after another when they arrive one by one.
func (b *Backend) leadAppends(self *appendReq) {
	q := &b.appendQ
	for round := 0; ; round++ {
		q.mu.Lock()
		batch := q.reqs
		q.reqs, q.spare = q.spare[:0], nil
		q.mu.Unlock()

		b.appendMu.Lock()
		b.appendBatchLocked(batch)
		failed := b.failed
		b.failed = nil
		b.appendMu.Unlock()
		if failed != nil {
			// Read-only before any writer of the batch hears of the failure.
			b.fail(failed)
		}

		q.mu.Lock()
		var next *appendReq
		more := len(q.reqs) > 0
		if more && round+1 >= maxLeadRounds {
			next = q.reqs[0]
		} else if !more {
			q.leading = false
		}
		q.mu.Unlock()
		if next != nil {
			next.wake <- struct{}{}
		}
		for i, r := range batch {
			batch[i] = nil
			if r != self {
				r.wake <- struct{}{}
			}
		}
		if cap(batch) <= 4096 {
			q.mu.Lock()
			if q.spare == nil {
				q.spare = batch[:0]
			}
			q.mu.Unlock()
		}
		if !more || next != nil {
			return
		}
	}
}

// maxLeadRounds bounds the rounds one append leader writes.
const maxLeadRounds = 4

// appendBatchLocked appends the records of batch in order, rotating the
// active file where one would not fit, and sets each one's outcome. A
// failure is left in b.failed for the caller to report once it has
// released appendMu. The caller holds appendMu; the writers of the batch
// hold swapMu shared.
func (b *Backend) appendBatchLocked(batch []*appendReq) {
	var err error
	for _, r := range batch {
		if err == nil && b.readOnly.Load() {
			err = errReadOnlyNow
		}
		if err == nil {
			err = b.stageLocked(r)
		}
		if err != nil {
			r.finished, r.err = true, err
		}
	}
	_ = b.flushStagedLocked()
}

// errReadOnlyNow marks a record refused because the backend is read-only;
// its writer asks checkWritable for the reason (roMu is not taken under
// appendMu: SetReadOnly takes them the other way round).
var errReadOnlyNow = errors.New("read-only")

// stageLocked gives r its sequence number and place in the log and adds it
// to the write being built, first writing what is staged and rotating if r
// does not fit in the active file.
func (b *Backend) stageLocked(r *appendReq) error {
	size := r.hdr.size()
	f := b.active
	pos := f.size.Load() + b.stagedBytes
	if pos > 0 && (pos+size > b.opts.BlobSize || f.records.Load()+uint64(len(b.staged)) >= b.opts.RecordsInBlob) {
		if err := b.flushStagedLocked(); err != nil {
			return err
		}
		if err := b.rotateLocked(); err != nil {
			err = ioError(fmt.Sprintf("blob %s: rotate data file", b.dir), err)
			b.failed = err
			return err
		}
		f, pos = b.active, 0
	}
	if b.stagedBytes > 0 && len(b.wbuf)+int(size) > writeChunk && size <= smallRecord {
		if err := b.flushStagedLocked(); err != nil {
			return err
		}
	}
	b.seq++
	r.hdr.seq = b.seq
	if size <= smallRecord {
		off := len(b.wbuf)
		b.wbuf = slices.Grow(b.wbuf, int(size))[:off+int(size)]
		rec := b.wbuf[off:]
		n := r.hdr.encode(rec)
		n += copy(rec[n:], r.stored)
		clear(rec[n:])
	} else {
		b.closeRunLocked()
		n := r.hdr.encode(r.head[:])
		b.addBuf(r.head[:n])
		b.addBuf(r.stored)
		if pad := size - uint64(n) - uint64(len(r.stored)); pad > 0 {
			b.addBuf(zeroPad[:pad])
		}
	}
	r.loc, r.file = location{file: f.slot, off: pos}, f
	b.staged = append(b.staged, r)
	b.stagedBytes += size
	return nil
}

var zeroPad [recordAlign]byte

// writebackPiece is the size of the pieces a large write is made in when
// it will be synced: each piece's writeback starts as soon as it is in the
// page cache, so the device writes while the next piece is copied, and the
// sync that follows waits for less.
const writebackPiece = 256 << 10

// writeInPieces writes bufs at pos in pieces of writebackPiece bytes,
// starting the writeback of each.
func writeInPieces(w vfs.File, ws vfs.WritebackStarter, bufs [][]byte, pos uint64) error {
	var piece [][]byte
	for len(bufs) > 0 {
		piece = piece[:0]
		n := 0
		for len(bufs) > 0 && n < writebackPiece {
			b := bufs[0]
			if take := writebackPiece - n; len(b) > take {
				piece = append(piece, b[:take])
				bufs[0] = b[take:]
				n += take
				break
			}
			piece = append(piece, b)
			bufs = bufs[1:]
			n += len(b)
		}
		if _, err := w.WriteVAt(piece, int64(pos)); err != nil {
			return err
		}
		// Only a hint; the sync that follows reports any I/O error.
		_ = ws.StartWriteback(int64(pos), int64(n))
		pos += uint64(n)
	}
	return nil
}

// closeRunLocked ends the run of small records encoded in wbuf since the
// last buffer of the write being built.
func (b *Backend) closeRunLocked() {
	if b.runStart < len(b.wbuf) {
		b.addBuf(b.wbuf[b.runStart:])
		b.runStart = len(b.wbuf)
	}
}

// addBuf adds p to the write being built.
func (b *Backend) addBuf(p []byte) {
	if len(p) > 0 {
		b.iov = append(b.iov, p)
	}
}

// flushStagedLocked writes the staged records to the active file with one
// vectored write. On failure the partial write is cut away, every staged
// record fails and the backend turns read-only.
func (b *Backend) flushStagedLocked() error {
	if len(b.staged) == 0 {
		return nil
	}
	b.closeRunLocked()
	f := b.active
	pos := f.size.Load()
	var err error
	if t := f.tail; t != nil && len(b.iov) == 1 && t.fits(pos, b.stagedBytes) {
		err = t.write(b.iov[0], pos)
		b.mappedAppends.Add(1)
	} else if ws, ok := f.f.(vfs.WritebackStarter); ok && b.opts.Sync != SyncNone && b.stagedBytes >= 2*writebackPiece {
		err = writeInPieces(f.f, ws, b.iov, pos)
	} else {
		_, err = f.f.WriteVAt(b.iov, int64(pos))
	}
	if err != nil {
		// Cut the partial records away so the file stays a clean log; if
		// that fails too, the checksums find them at the next start.
		_ = f.truncate(pos)
		err = ioError(fmt.Sprintf("blob %s: append record", f.path), err)
		b.failed = err
	} else {
		f.size.Store(pos + b.stagedBytes)
		if f.tail != nil {
			f.tail.advanced(pos + b.stagedBytes)
		}
		f.records.Add(uint64(len(b.staged)))
		b.appendedBytes.Add(b.stagedBytes)
	}
	for i, r := range b.staged {
		if err == nil {
			b.writeSeq++
			r.wseq = b.writeSeq
		}
		r.finished, r.err = true, err
		b.staged[i] = nil
	}
	b.appended.Store(b.writeSeq)
	clear(b.iov)
	b.staged, b.iov, b.stagedBytes = b.staged[:0], b.iov[:0], 0
	b.wbuf, b.runStart = b.wbuf[:0], 0
	if cap(b.wbuf) > 2*writeChunk {
		b.wbuf = nil
	}
	return err
}
