package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Defragmentation rewrites closed data files one at a time, oldest first,
// into the next generation of the same file number, keeping only live
// records; so it needs at most one data file of extra space, and the order
// of records across files (the log order replay relies on) never changes.
//
// Per file: copy live records to data-N.(g+1) and fsync it; then, holding
// swapMu exclusively, point the index at the copies and swap the file in the
// file table. Old generations are deleted only after a snapshot naming the
// new ones is stored (batched, about once a second). A crash before that
// leaves the stored snapshot naming g, and Open deletes the unfinished g+1.
//
// Tombstones are dropped, not copied: files are processed in log order from
// the first, so every older record a tombstone could shadow has already been
// dropped from an earlier file by this same run.

type defragState struct {
	mu     sync.Mutex
	status backend.DefragStatus
	cancel context.CancelFunc
	done   chan struct{}
}

// StartDefrag implements backend.Defragmenter.
func (b *Backend) StartDefrag(ctx context.Context) error {
	if b.closed.Load() {
		return status.Errorf(status.ShuttingDown, "blob %s closed", b.dir)
	}
	d := &b.defrag
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status.Running {
		return status.Errorf(status.Already, "defragmentation of %s already running", b.dir)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.done = make(chan struct{})
	d.status = backend.DefragStatus{Running: true, StartedAt: time.Now()}
	go b.runDefrag(runCtx, d.done)
	return nil
}

// StopDefrag implements backend.Defragmenter. The file being rewritten is
// abandoned; files already done stay done.
func (b *Backend) StopDefrag() error {
	d := &b.defrag
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.status.Running {
		return status.Errorf(status.Already, "no defragmentation of %s running", b.dir)
	}
	d.cancel()
	return nil
}

// DefragStatus implements backend.Defragmenter.
func (b *Backend) DefragStatus() backend.DefragStatus {
	b.defrag.mu.Lock()
	defer b.defrag.mu.Unlock()
	return b.defrag.status
}

// WaitDefrag blocks until the running defragmentation (if any) ends.
func (b *Backend) WaitDefrag(ctx context.Context) error {
	b.defrag.mu.Lock()
	done := b.defrag.done
	b.defrag.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) stopDefragAndWait() {
	_ = b.StopDefrag()
	_ = b.WaitDefrag(context.Background())
}

func (b *Backend) updateDefrag(fn func(*backend.DefragStatus)) {
	b.defrag.mu.Lock()
	fn(&b.defrag.status)
	b.defrag.mu.Unlock()
}

func (b *Backend) runDefrag(ctx context.Context, done chan struct{}) {
	defer close(done)
	b.appendMu.Lock()
	active := b.active
	b.appendMu.Unlock()
	b.idxMu.RLock()
	var files []*dataFile
	var total uint64
	for _, f := range b.files.ordered() {
		if f != active && f.number < active.number {
			files = append(files, f)
			total += f.size.Load()
		}
	}
	b.idxMu.RUnlock()
	b.updateDefrag(func(s *backend.DefragStatus) { s.FilesTotal, s.BytesTotal = len(files), total })
	b.log.Info("defragmentation started", zap.Int("files", len(files)), zap.Uint64("bytes", total))

	// Snapshots are batched: one after each second of work and one at the
	// end, each followed by deleting the generations it no longer names.
	// snapMu is held throughout so no other snapshot interleaves.
	b.snapMu.Lock()
	var obsolete []string
	flush := func() error {
		if len(obsolete) == 0 {
			return nil
		}
		if err := b.storeSnapshot(b.takeSnapshot()); err != nil {
			// The stored snapshot still names the old generations, which are
			// kept, so a restart is consistent either way.
			return err
		}
		for _, p := range obsolete {
			_ = b.fs.Remove(p)
		}
		obsolete = obsolete[:0]
		return b.fs.SyncDir(b.dir)
	}
	var runErr error
	lastFlush := time.Now()
	for _, f := range files {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("stopped: %w", ctx.Err())
			break
		}
		size := f.size.Load()
		reclaimed, old, err := b.compactFile(ctx, f)
		if err != nil {
			runErr = err
			break
		}
		obsolete = append(obsolete, old...)
		if time.Since(lastFlush) > time.Second {
			if runErr = flush(); runErr != nil {
				break
			}
			lastFlush = time.Now()
		}
		b.updateDefrag(func(s *backend.DefragStatus) {
			s.FilesDone++
			s.BytesDone += size
			s.Reclaimed += reclaimed
		})
	}
	if err := flush(); err != nil && runErr == nil {
		runErr = err
	}
	b.snapMu.Unlock()
	b.updateDefrag(func(s *backend.DefragStatus) {
		s.Running = false
		s.FinishedAt = time.Now()
		if runErr != nil {
			s.Err = runErr.Error()
		}
	})
	st := b.DefragStatus()
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		b.log.Error("defragmentation failed", zap.Error(runErr), zap.Int("files_done", st.FilesDone))
	} else {
		b.log.Info("defragmentation finished", zap.Int("files_done", st.FilesDone),
			zap.Uint64("reclaimed_bytes", st.Reclaimed), zap.Error(runErr))
	}
}

type move struct {
	h        uint64
	old, new location
	size     uint64
}

// expiry is a live record whose lifetime is over: defragmentation drops it
// and, at the swap, its index entry (if no newer write replaced it since).
type expiry struct {
	h        uint64
	at       location
	oid      id.ID
	column   string
	dataSize uint64
	digest   uint64 // its share of the range hashes
	// pending: an upload past its deadline, which a commit that started
	// before the deadline may still have committed by the swap.
	pending bool
	file    *dataFile
}

// hasExpired reports whether a file holds a live record whose lifetime is
// over at now. Only headers are read: a file without dead bytes is worth
// rewriting only for those.
func (b *Backend) hasExpired(f *dataFile, now time.Time) (bool, error) {
	size := f.size.Load()
	for off := uint64(0); off < size; {
		hdr, err := b.readHeader(f, off)
		if err != nil {
			return false, err
		}
		if hdr.expired(now) && !hdr.removed() {
			b.idxMu.RLock()
			live := b.idx.find(keyHash(hdr.id, hdr.column), location{file: f.slot, off: off}) >= 0
			b.idxMu.RUnlock()
			if live {
				return true, nil
			}
		}
		off += hdr.size()
	}
	return false, nil
}

// compactFile rewrites one closed file and swaps it in. It returns the
// bytes reclaimed and the paths to delete once a snapshot no longer names
// them.
func (b *Backend) compactFile(ctx context.Context, f *dataFile) (uint64, []string, error) {
	size := f.size.Load()
	now := time.Now()
	rewrites := f.rewrites.Load()
	if f.live.Load() == int64(size) {
		// Nothing dead and no tombstones, unless lifetimes ran out.
		if exp, err := b.hasExpired(f, now); err != nil || !exp {
			return 0, nil, err
		}
	}
	next := f.gen + 1
	path := b.filePath(f.number, next)
	_ = b.fs.Remove(path) // leftover of an interrupted run
	out, err := b.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, nil, ioError(fmt.Sprintf("blob %s: defrag: create %s", b.dir, path), err)
	}
	abandon := func(err error) (uint64, []string, error) {
		out.Close()
		_ = b.fs.Remove(path)
		return 0, nil, err
	}

	var moves []move
	var expired []expiry
	var pos, records uint64
	var hb [headerSize + maxColumnLen]byte
	buf := make([]byte, 0, readPiece)
	for off := uint64(0); off < size; {
		if ctx.Err() != nil {
			return abandon(ctx.Err())
		}
		n, err := f.f.ReadAt(hb[:], int64(off))
		if err != nil && !errors.Is(err, io.EOF) {
			return abandon(ioError(fmt.Sprintf("blob %s: defrag: read", f.path), err))
		}
		hdr, err := decodeHeader(hb[:n])
		if err != nil {
			return abandon(status.Errorf(status.Corrupt, "blob %s: defrag: record at %d: %v; file left as is", f.path, off, err))
		}
		if hdr.reserved() {
			if err := b.overlay(f, off, &hdr); err != nil {
				return abandon(err)
			}
		}
		rs := hdr.size()
		here := location{file: f.slot, off: off}
		h := keyHash(hdr.id, hdr.column)
		live := false
		if !hdr.removed() {
			b.idxMu.RLock()
			live = b.idx.find(h, here) >= 0
			b.idxMu.RUnlock()
		}
		if live && hdr.expired(now) {
			expired = append(expired, expiry{h: h, at: here, oid: hdr.id, column: hdr.column, dataSize: hdr.dataSize, digest: recordHash(&hdr),
				pending: hdr.reserved() && hdr.uncommitted(), file: f})
			live = false
		}
		if live && hdr.reserved() && hdr.uncommitted() {
			// An upload in progress is written in place: a copy would miss
			// the chunks still to come. The file waits for a later run.
			b.log.Info("defragmentation skips a file with an upload in progress", zap.String("file", f.path))
			_, _, err := abandon(nil)
			return 0, nil, err
		}
		if live {
			// In pieces: a record may be GiBs.
			for done := uint64(0); done < rs; {
				p := buf[:min(uint64(cap(buf)), rs-done)]
				if _, err := f.f.ReadAt(p, int64(off+done)); err != nil {
					return abandon(ioError(fmt.Sprintf("blob %s: defrag: read", f.path), err))
				}
				if _, err := out.WriteAt(p, int64(pos+done)); err != nil {
					return abandon(ioError(fmt.Sprintf("blob %s: defrag: write %s", b.dir, path), err))
				}
				done += uint64(len(p))
			}
			moves = append(moves, move{h: h, old: here, new: location{file: f.slot, off: pos}, size: rs})
			pos += rs
			records++
		}
		off += rs
	}
	if err := out.Sync(); err != nil {
		return abandon(ioError(fmt.Sprintf("blob %s: defrag: fsync %s", b.dir, path), err))
	}

	// Swap: from here on the new generation is the file.
	if testHookDefragSwap != nil {
		testHookDefragSwap()
	}
	b.lockSwap()
	if f.rewrites.Load() != rewrites {
		// A rewrite published a record the scan took for dead (rewrites
		// hold swapMu shared, so none is running now).
		b.swapMu.Unlock()
		b.log.Info("defragmentation skips a file a rewrite wrote to meanwhile", zap.String("file", f.path))
		_, _, err := abandon(nil)
		return 0, nil, err
	}
	for _, e := range expired {
		if !e.pending {
			continue
		}
		// Commits hold swapMu shared, so none is running now: one that
		// began before the deadline has finished, and its trailer says so.
		hdr, err := b.readHeader(e.file, e.at.off)
		if err != nil || hdr.visible(time.Now()) || !hdr.uncommitted() {
			b.swapMu.Unlock()
			_, _, aerr := abandon(err)
			return 0, nil, aerr
		}
	}
	var live int64
	b.idxMu.Lock()
	for _, m := range moves {
		if b.idx.replace(m.h, m.old, m.new) {
			live += int64(m.size)
		}
	}
	for _, e := range expired {
		if b.idx.remove(e.h, e.at) {
			b.digests.Sub(e.oid, e.digest)
			b.liveBytes.Add(-int64(e.dataSize))
			if e.column != "" {
				b.dropColumn(e.oid, e.column)
			}
		}
	}
	nf := &dataFile{slot: f.slot, number: f.number, gen: next, f: out, path: path}
	nf.size.Store(pos)
	nf.records.Store(records)
	nf.live.Store(live)
	obsolete := []string{f.path}
	if pos == 0 {
		b.files.release(f.slot)
		out.Close()
		obsolete = append(obsolete, path)
	} else {
		b.files.bySlot[f.slot] = nf
	}
	b.idxMu.Unlock()
	b.swapMu.Unlock()
	f.f.Close()
	return size - pos, obsolete, nil
}
