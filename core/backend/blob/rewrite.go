package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/vfs"
)

// Offset writes and appends to a big value are rewritten file to file, so
// that a 1-byte append to a 2 GiB value costs about two 1 MiB buffers of
// memory instead of the whole value (backend.Compose builds the new value
// in memory). The new value goes into a reserved record, as a chunked
// upload's does (upload.go), but one marked recordRewrite:
//
//  1. reserve a record of the final size (header only, the rest allocated);
//  2. stream the old value through one block buffer, verifying it as every
//     read does, put the request's bytes over it (and zeros where it grows
//     past its end), write each block in place and checksum it;
//  3. write the block table, sync, write the committed trailer, sync
//     (writeCommit, as an upload's commit);
//  4. point the index at the new record (publish), under idxMu: readers see
//     the old value or the new one, never a mix.
//
// Until step 4 the key's index entry is the old record's. A rewrite record
// whose trailer is not committed is left out of the index by replay too
// (unlike an upload's, which replaces the key's record at prepare), so a
// crash or a failed write at any step leaves the old value readable; the
// dead record is reclaimed by defragmentation like any overwritten one.
//
// The whole operation runs under the object's stripe lock, so concurrent
// writes to the key queue behind it exactly as they do behind a small
// write, and under swapMu shared, so neither a snapshot nor a
// defragmentation swap can happen between the reservation and the publish
// (a snapshot cannot cover the log past the new record while the index
// still points at the old one).

// Test hooks: run by a rewrite between filling and committing its record,
// and by defragmentation between its scan and its swap.
var testHookRewriteFilled, testHookDefragSwap func()

// DefaultRewriteThreshold is the default of Options.RewriteThreshold.
const DefaultRewriteThreshold = 1 << 20

// lockSwap takes swapMu exclusively for a snapshot or a defragmentation
// swap, once no rewrite is running. A waiting Lock blocks every new RLock,
// so taking it while a rewrite copies GiBs under its RLock would stall
// every read and write of the backend until the copy ends. A rewrite that
// starts between the wait and the Lock (its Write already held RLock)
// still delays the Lock; only that narrow window is left.
func (b *Backend) lockSwap() {
	for b.rewriting.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	b.swapMu.Lock()
}

// rewritePlan is the value an offset write or append leaves, as
// backend.Compose defines it, without the bytes.
type rewritePlan struct {
	base   uint64 // bytes of the old value kept as a base (0: none)
	off    uint64 // where the request's data goes
	size   uint64 // the new value's size
	expire time.Time
}

// planRewrite decides whether req is written by rewrite: a plain (not
// phased) offset write or append whose new value holds at least
// RewriteThreshold bytes not in the request. Anything else, and any
// request Compose refuses (so that the error is the same), takes the
// in-memory path.
func (b *Backend) planRewrite(req *backend.WriteRequest, old found, exists bool) (rewritePlan, bool) {
	if req.Phased() || !req.NeedsPrevious() {
		return rewritePlan{}, false
	}
	var p rewritePlan
	// The same base Compose takes: a visible value; an upload in progress
	// or an expired value is no base (and lends no expiry).
	if exists && old.hdr.visible(time.Now()) {
		p.base, p.expire = old.hdr.dataSize, old.hdr.expireTime()
	}
	if !req.Expire.IsZero() {
		p.expire = req.Expire
	}
	p.off = req.Offset
	if req.Append {
		p.off = p.base
	}
	end := p.off + uint64(len(req.Data))
	if end < p.off || end > MaxFileSize {
		return rewritePlan{}, false
	}
	p.size = max(end, p.base)
	if p.size-uint64(len(req.Data)) < b.opts.RewriteThreshold {
		return rewritePlan{}, false
	}
	if reservedDisk(p.size)+headerSize+uint64(len(req.Column)) > MaxFileSize {
		return rewritePlan{}, false
	}
	return p, true
}

// rewrite writes the value p describes into a new reserved record and
// publishes it. The caller holds the object's stripe and swapMu shared;
// old is the column's record.
func (b *Backend) rewrite(req *backend.WriteRequest, h uint64, old found, exists bool, p rewritePlan) (backend.Meta, error) {
	b.rewriting.Add(1)
	defer b.rewriting.Add(-1)
	ts := req.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	hdr := header{id: req.ID, column: req.Column, flags: recordUncommitted | recordReserved | recordRewrite,
		timestamp: ts.UnixNano(), userFlags: req.UserFlags, dataSize: p.size, diskSize: reservedDisk(p.size),
		expire: unixExpire(p.expire), reservedSize: p.size}
	// The header needs no sync of its own: nothing refers to the record
	// before the commit, whose syncs of the record's file cover it.
	loc, f, err := b.reserveRecord(&hdr, false)
	if err != nil {
		return backend.Meta{}, err
	}
	fd := found{loc: loc, file: f, hdr: hdr}
	table, err := b.fillRewrite(fd, old, p, req.Data)
	if err != nil {
		return backend.Meta{}, fmt.Errorf("blob %s: rewrite of key %s: %w", b.dir, req.ID.Short(), err)
	}
	if testHookRewriteFilled != nil {
		testHookRewriteFilled()
	}
	if err := b.writeCommit(fd, table, p.size, ts, req.UserFlags, p.expire); err != nil {
		// The trailer may have reached the file before a failed sync; a
		// restart would then take the new value although this write
		// failed. Best effort: wipe it, so the record stays dead.
		_, _ = f.f.WriteAt(make([]byte, trailerSize), int64(loc.off+hdr.trailerOffset()))
		if errors.As(err, new(syncFailed)) {
			// Other writers' records in the file may be lost too, and the
			// committer's next sync could succeed regardless: as after any
			// failed sync, the backend turns read-only.
			b.fail(err)
		}
		return backend.Meta{}, fmt.Errorf("blob %s: rewrite of key %s: %w", b.dir, req.ID.Short(), err)
	}
	hdr.flags &^= recordUncommitted
	hdr.trailer, hdr.tableSum = trailerCommitted, xxhash.Sum64(table)
	b.publish(h, old, exists, loc, f, &hdr)
	f.rewrites.Add(1)
	return metaOf(&hdr), nil
}

// fillRewrite writes the data area of the reserved record fd: the first
// p.base bytes of old's value, zeros up to p.size, and data at p.off over
// both. It returns the block table. Memory: one block buffer here and the
// piece buffer of eachPiece (a compressed old record is decoded whole).
func (b *Backend) fillRewrite(fd found, old found, p rewritePlan, data []byte) ([]byte, error) {
	size := p.size
	table := make([]byte, 8*nblocks(size))
	dst := fd.loc.off + fd.hdr.dataOffset()
	ws, _ := fd.file.f.(vfs.WritebackStarter)
	if b.opts.Sync == SyncNone {
		ws = nil
	}
	var work []byte
	block := func() []byte {
		if work == nil {
			work = make([]byte, blockSize)
		}
		return work
	}
	// emit puts data over the block of the new value at pos (whole: it
	// ends at the next block boundary or at size), writes and checksums
	// it. blk may be overwritten.
	emit := func(pos uint64, blk []byte) error {
		if end := p.off + uint64(len(data)); p.off < pos+uint64(len(blk)) && end > pos {
			lo, hi := max(pos, p.off), min(pos+uint64(len(blk)), end)
			copy(blk[lo-pos:hi-pos], data[lo-p.off:hi-p.off])
		}
		if _, err := fd.file.f.WriteAt(blk, int64(dst+pos)); err != nil {
			return ioError(fmt.Sprintf("blob %s: rewrite: write block at %d", fd.file.path, dst+pos), err)
		}
		if ws != nil {
			// Only a hint; the commit's sync reports any I/O error.
			_ = ws.StartWriteback(int64(dst+pos), int64(len(blk)))
		}
		binary.LittleEndian.PutUint64(table[8*(pos>>blockShift):], xxhash.Sum64(blk))
		return nil
	}
	blockLen := func(pos uint64) uint64 { return min(blockSize, size-pos) }
	if p.base > 0 {
		// Pieces start at block boundaries (a compressed record is one
		// piece at 0); the old value's last block is filled up with zeros
		// when the new value goes on past it.
		err := b.eachPiece(old, func(pos uint64, piece []byte) error {
			for len(piece) > 0 {
				n := blockLen(pos)
				q := piece[:min(uint64(len(piece)), n)]
				piece = piece[len(q):]
				blk := q
				if uint64(len(q)) < n {
					blk = block()[:n]
					clear(blk[copy(blk, q):])
				}
				if err := emit(pos, blk); err != nil {
					return err
				}
				pos += n
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for pos := nblocks(p.base) << blockShift; pos < size; pos += blockSize {
		// Past the old value: zeros, written rather than left as a hole,
		// so the new value does not depend on what the file held there.
		blk := block()[:blockLen(pos)]
		clear(blk)
		if err := emit(pos, blk); err != nil {
			return nil, err
		}
	}
	return table, nil
}
