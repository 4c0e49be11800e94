package blob

import (
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/vfs"
)

// Mapped appends. With sync "none" a write is acknowledged once its record
// is in the page cache, and the cost of a small record is then mostly the
// pwrite system call (about 1 µs of ext4's write path for 1 KiB, twice the
// rest of a write). So the active file is also mapped (MAP_SHARED) and the
// append leader copies the encoded records into the mapping: the bytes are
// in the page cache when the copy returns, exactly as after pwrite, and a
// kill of the process keeps them.
//
// Only bytes that lie inside the file may be touched through a mapping, and
// a page touched for the first time costs a page fault that allocates it.
// A preparer goroutine keeps a window ahead of the append position ready:
// it extends the file with fallocate (which reserves the blocks, so a copy
// can never meet a full disk) and faults the pages in
// (MADV_POPULATE_WRITE), on the other CPU, while the leader copies. When
// the window is not ready yet, or a write is large, the leader uses pwrite
// as before: it never waits for the preparer.
//
// The file is thus longer than its log while it is active: the tail past
// the last record reads as zeros. Rotation and Close cut it off; after a
// crash, replay finds the zeros where the next header should be and cuts
// them off too (replay.go).
//
// The mapping also serves reads of record headers: a write reads the
// header of the record it replaces (to check the key behind the index's
// fingerprint, and for the accounting), and with keys written again soon
// that record is recent. The pages up to mapKeep behind the append
// position stay mapped, and readHeader copies from them instead of making
// a pread system call (tailMap.readAt).
//
// Only sync "none" maps: fdatasync would write the prepared window's
// zero pages too (they are dirty), and for "always" and "interval" the
// sync costs far more than the system call anyway.
const (
	// mapAhead is how far past the append position the preparer keeps the
	// file allocated and the pages faulted in.
	mapAhead = 8 << 20
	// mapStep is what the preparer adds in one go.
	mapStep = 2 << 20
	// mapMaxWrite is the largest write made through the mapping; larger
	// ones (big records) go by pwrite.
	mapMaxWrite = writeChunk
	// mapKeep is how far behind the append position pages stay mapped,
	// for the header reads of overwrites (and as many pages as mapAhead
	// keep ready ahead, so the resident part of a file is 16 MiB at most
	// plus a step at either end).
	mapKeep = 8 << 20
	// mapMaxLen bounds the address space one active file takes (blob_size
	// may be up to 8 TiB, and a node has several backends); appends past it
	// use pwrite.
	mapMaxLen = 64 << 30
)

// tailMap is the mapping of an active data file and its preparer.
type tailMap struct {
	f   *dataFile
	mem *vfs.Mapping
	log *zap.Logger

	// ready: [0, ready) is inside the file and may be copied into. Grown
	// by the preparer, cut by shrink; read by the append leader.
	ready atomic.Uint64
	// pos is the append position the leader last reported.
	pos  atomic.Uint64
	wake chan struct{}
	quit chan struct{}
	done chan struct{}

	// mu serialises growing (a preparer step) with shrinking (a truncate
	// of the file), so ready never covers bytes a truncate removed.
	mu       sync.Mutex
	broken   bool   // a preparer step failed: stop preparing
	released uint64 // [0, released) is out of the page tables

	// rmu is held shared by readAt while it copies, and exclusively by
	// what would make the copy fault or map a released page again:
	// release, shrink and close.
	rmu    sync.RWMutex
	low    uint64 // released, for readAt
	closed bool   // unmapped
}

// mapTail maps f for appends if the backend maps and the file system can.
// f.size is the append position. It returns nil when appends must use
// pwrite.
func (b *Backend) mapTail(f *dataFile) *tailMap {
	if b.opts.Sync != SyncNone || b.opts.NoMappedAppends {
		return nil
	}
	m, ok := f.f.(vfs.Mapper)
	if !ok {
		return nil
	}
	mem, err := m.Map(int64(min(b.opts.BlobSize, mapMaxLen)))
	if err != nil {
		b.log.Warn("cannot map the active data file; appends use pwrite", zap.String("file", f.path), zap.Error(err))
		return nil
	}
	t := &tailMap{
		f:    f,
		mem:  mem,
		log:  b.log,
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	t.ready.Store(f.size.Load())
	t.pos.Store(f.size.Load())
	go t.prepare()
	t.nudge()
	f.mapped.Store(t)
	return t
}

// readAt copies the bytes of the file at off into p, up to the append
// position, when they lie in the mapped pages; it returns how many it
// copied and false when the caller must read the file instead.
func (t *tailMap) readAt(p []byte, off uint64) (int, bool) {
	t.rmu.RLock()
	defer t.rmu.RUnlock()
	end := min(off+uint64(len(p)), t.f.size.Load())
	if t.closed || off < t.low || off >= end {
		return 0, false
	}
	if err := t.mem.ReadAt(p[:end-off], int64(off)); err != nil {
		return 0, false
	}
	return int(end - off), true
}

// fits reports whether n bytes at pos can be copied into the mapping.
func (t *tailMap) fits(pos, n uint64) bool {
	return n <= mapMaxWrite && pos+n <= t.ready.Load()
}

// advanced tells the preparer the append position moved to pos.
func (t *tailMap) advanced(pos uint64) {
	t.pos.Store(pos)
	if t.ready.Load() < pos+mapAhead/2 {
		t.nudge()
	}
}

func (t *tailMap) nudge() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// prepare keeps [pos, pos+mapAhead) ready until close.
func (t *tailMap) prepare() {
	defer close(t.done)
	for {
		select {
		case <-t.quit:
			return
		case <-t.wake:
		}
		for {
			select {
			case <-t.quit:
				return
			default:
			}
			if !t.step() {
				break
			}
		}
	}
}

// step readies the next mapStep bytes if the window needs them; it
// reports whether it did. It also drops the pages well behind the append
// position from the page tables: the file's pages would otherwise all
// count in the process's resident memory (a gigabyte per active file),
// though they are page cache the kernel manages like any other.
func (t *tailMap) step() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	pos := t.pos.Load()
	if behind := (pos - min(pos, mapKeep)) &^ (mapStep - 1); behind >= t.released+mapStep {
		t.rmu.Lock()
		if err := t.mem.Release(int64(t.released), int64(behind-t.released)); err == nil {
			t.released, t.low = behind, behind
		}
		t.rmu.Unlock()
	}
	r := t.ready.Load()
	limit := uint64(t.mem.Len())
	if t.broken || r >= t.pos.Load()+mapAhead || r >= limit {
		return false
	}
	// Steps are aligned so each populate covers whole pages.
	end := min((r+mapStep)&^(mapStep-1), limit)
	if err := allocate(t.f.f, int64(r), int64(end-r)); err != nil {
		// A full disk or a file system without fallocate: the leader keeps
		// using pwrite, which reports the error to the writer.
		t.broken = true
		t.log.Info("stopped preparing the mapped tail; appends use pwrite", zap.String("file", t.f.path), zap.Error(err))
		return false
	}
	if err := t.mem.Populate(int64(r), int64(end-r)); err != nil {
		t.broken = true
		t.log.Warn("cannot fault in the mapped tail; appends use pwrite", zap.String("file", t.f.path), zap.Error(err))
		return false
	}
	t.ready.Store(end)
	return true
}

// write copies p into the mapping at pos (which fits).
func (t *tailMap) write(p []byte, pos uint64) error {
	return t.mem.WriteAt(p, int64(pos))
}

// shrink truncates the file to size, keeping ready inside it. The caller
// holds appendMu.
func (t *tailMap) shrink(size uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if t.ready.Load() > size {
		t.ready.Store(size)
	}
	return t.f.f.Truncate(int64(size))
}

// close stops the preparer, unmaps the file and cuts it to its log (size).
// The caller holds appendMu (or is the only user of the backend).
func (t *tailMap) close(size uint64) error {
	close(t.quit)
	<-t.done
	t.f.mapped.Store(nil)
	t.rmu.Lock()
	t.closed = true
	t.rmu.Unlock()
	t.ready.Store(0)
	err := t.mem.Unmap()
	if terr := t.f.f.Truncate(int64(size)); terr != nil && err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("blob %s: close mapped tail: %w", t.f.path, err)
	}
	return nil
}

// truncate cuts f to size, through its mapped tail if it has one.
func (f *dataFile) truncate(size uint64) error {
	if f.tail != nil {
		return f.tail.shrink(size)
	}
	return f.f.Truncate(int64(size))
}
