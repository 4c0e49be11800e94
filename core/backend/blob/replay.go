package blob

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/vfs"
)

// load rebuilds the in-memory state at Open: from the snapshot plus the log
// written after it when the snapshot is usable, else from a full scan. It
// returns how many records it replayed.
func (b *Backend) load() (int, error) {
	entries, err := b.fs.ReadDir(b.dir)
	if err != nil {
		return 0, fmt.Errorf("blob %s: list directory: %w", b.dir, err)
	}
	gens := map[uint64][]uint32{}
	for _, e := range entries {
		name := e.Name()
		if n, g, ok := parseDataFileName(name); ok {
			gens[n] = append(gens[n], g)
		} else if filepath.Ext(name) == ".tmp" {
			_ = b.fs.Remove(filepath.Join(b.dir, name)) // a write cut short by a crash
		}
	}
	numbers := make([]uint64, 0, len(gens))
	for n := range gens {
		numbers = append(numbers, n)
		slices.Sort(gens[n])
	}
	slices.Sort(numbers)

	snap, err := b.readSnapshot(gens)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			b.log.Warn("index snapshot unusable, scanning the whole log", zap.Error(err))
		}
		snap = nil
	}

	// Which generation of each file is current: the snapshot's for the files
	// it knows, else the oldest (a newer generation without a snapshot naming
	// it is an unfinished defragmentation).
	known := map[uint64]snapFile{}
	if snap != nil {
		for _, f := range snap.files {
			known[f.number] = f
		}
	}
	var tail, unslotted []*dataFile
	for _, n := range numbers {
		gen := gens[n][0]
		sf, inSnap := known[n]
		if inSnap {
			gen = sf.gen
		} else if snap != nil && n < snap.activeNumber {
			// Older than the snapshot's active file yet not in it: emptied by
			// defragmentation, which removes the file after the snapshot.
			for _, g := range gens[n] {
				_ = b.fs.Remove(b.filePath(n, g))
			}
			continue
		}
		for _, g := range gens[n] {
			if g != gen {
				b.log.Info("removing stale data file generation", zap.String("file", dataFileName(n, g)))
				_ = b.fs.Remove(b.filePath(n, g))
			}
		}
		fh, err := b.fs.OpenFile(b.filePath(n, gen), os.O_RDWR, 0)
		if err != nil {
			return 0, fmt.Errorf("blob %s: open data file: %w", b.dir, err)
		}
		f := &dataFile{number: n, gen: gen, f: fh, path: b.filePath(n, gen)}
		if inSnap {
			f.slot = sf.slot
			f.size.Store(sf.size)
			f.records.Store(sf.records)
			f.live.Store(sf.live)
			b.files.add(f)
			if n == snap.activeNumber {
				tail = append(tail, f)
			}
			continue
		}
		tail = append(tail, f)
		unslotted = append(unslotted, f)
	}
	// Files the snapshot does not know get slots after all of its own.
	for _, f := range unslotted {
		slot, err := b.files.alloc()
		if err != nil {
			return 0, err
		}
		f.slot = slot
		b.files.add(f)
	}

	if snap != nil {
		b.idx = &index{slots: snap.slots, live: snap.live}
		b.columns = snap.columns
		b.liveBytes.Store(snap.liveBytes)
		b.seq = snap.seq
		b.lastSnapN.Store(int64(snap.live))
	} else {
		b.idx = newIndex(b.opts.ExpectedObjects)
	}

	replayed := 0
	for i, f := range tail {
		last := i == len(tail)-1
		n, err := b.replayFile(f, f.size.Load(), last)
		if err != nil {
			return replayed, err
		}
		replayed += n
	}

	ordered := b.files.ordered()
	if len(ordered) == 0 {
		b.appendMu.Lock()
		err := b.rotateLocked()
		b.appendMu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("blob %s: create first data file: %w", b.dir, err)
		}
	} else {
		b.active = ordered[len(ordered)-1]
		b.active.tail = b.mapTail(b.active)
	}
	return replayed, nil
}

// readSnapshot loads index.snap and checks it names files that exist.
func (b *Backend) readSnapshot(gens map[uint64][]uint32) (*snapshot, error) {
	data, err := vfs.ReadFile(b.fs, filepath.Join(b.dir, snapshotName))
	if err != nil {
		return nil, err
	}
	s, err := decodeSnapshot(data)
	if err != nil {
		return nil, err
	}
	slots := map[uint16]bool{}
	for _, f := range s.files {
		if !slices.Contains(gens[f.number], f.gen) {
			return nil, fmt.Errorf("%w: names %s, which is missing", errBadSnapshot, dataFileName(f.number, f.gen))
		}
		if slots[f.slot] {
			return nil, fmt.Errorf("%w: file slot %d used twice", errBadSnapshot, f.slot)
		}
		slots[f.slot] = true
	}
	if len(s.slots) < minSlots {
		return nil, fmt.Errorf("%w: %d index slots", errBadSnapshot, len(s.slots))
	}
	return s, nil
}

// replayFile applies the records of f from offset from to its end. A bad
// record at the end of the last file is a write cut short by a crash and is
// truncated away; one anywhere else is corruption: the rest of that file
// is skipped and logged, later files are still read.
func (b *Backend) replayFile(f *dataFile, from uint64, last bool) (int, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("blob %s: stat: %w", f.path, err)
	}
	end := uint64(st.Size())
	pos := from
	n := 0
	var hb [headerSize + maxColumnLen]byte
	buf := make([]byte, readPiece)
	for pos < end {
		bad := func(why string) (int, error) {
			if last {
				b.log.Warn("truncating a torn record at the end of the log (a write cut short by a crash)",
					zap.String("file", f.path), zap.Uint64("offset", pos), zap.Uint64("bytes_dropped", end-pos),
					zap.String("why", why))
				if err := f.f.Truncate(int64(pos)); err != nil {
					return n, fmt.Errorf("blob %s: truncate torn tail: %w", f.path, err)
				}
				end = pos
			} else {
				b.log.Error("corrupt record in the middle of the log; the rest of this file is skipped",
					zap.String("file", f.path), zap.Uint64("offset", pos), zap.String("why", why))
			}
			return n, nil
		}
		m, err := f.f.ReadAt(hb[:], int64(pos))
		if err != nil && !errors.Is(err, io.EOF) {
			return n, fmt.Errorf("blob %s: read at %d: %w", f.path, pos, err)
		}
		hdr, err := decodeHeader(hb[:m])
		if err != nil {
			zero, zerr := zeroTail(f.f, pos, end, buf)
			if zerr != nil {
				return n, fmt.Errorf("blob %s: read at %d: %w", f.path, pos, zerr)
			}
			if zero {
				// The prepared tail of a mapped active file (tailmap.go)
				// that a crash left uncut: no records, only zeros.
				b.log.Info("cutting the unused zero tail of a data file",
					zap.String("file", f.path), zap.Uint64("offset", pos), zap.Uint64("bytes", end-pos))
				if err := f.f.Truncate(int64(pos)); err != nil {
					return n, fmt.Errorf("blob %s: truncate zero tail: %w", f.path, err)
				}
				end = pos
				break
			}
			if _, err := bad(err.Error()); err != nil {
				return n, err
			}
			break
		}
		size := hdr.size()
		if pos+size > end {
			if _, err := bad("record runs past the end of the file"); err != nil {
				return n, err
			}
			break
		}
		good, err := checkStored(f, pos, &hdr, buf)
		if err != nil {
			return n, fmt.Errorf("blob %s: read at %d: %w", f.path, pos, err)
		}
		if !good {
			if _, err := bad("data checksum mismatch"); err != nil {
				return n, err
			}
			break
		}
		if hdr.reserved() {
			// The committed size, for the statistics.
			if err := b.overlay(f, pos, &hdr); err != nil {
				return n, err
			}
		}
		if hdr.flags&recordRewrite != 0 && hdr.uncommitted() {
			// A rewrite cut short (or failed): the value it was to replace
			// is still the key's; the record is dead bytes for defrag.
			b.seq = max(b.seq, hdr.seq)
		} else if err := b.apply(&hdr, f, location{file: f.slot, off: pos}); err != nil {
			return n, err
		}
		pos += size
		n++
		f.records.Add(1)
	}
	if last {
		f.size.Store(pos)
	} else {
		f.size.Store(end)
	}
	return n, nil
}

// zeroTail reports whether [pos, end) of f holds only zero bytes.
func zeroTail(f vfs.File, pos, end uint64, buf []byte) (bool, error) {
	for pos < end {
		p := buf[:min(uint64(len(buf)), end-pos)]
		m, err := f.ReadAt(p, int64(pos))
		if err != nil && !(errors.Is(err, io.EOF) && m == len(p)) {
			return false, err
		}
		for _, c := range p {
			if c != 0 {
				return false, nil
			}
		}
		pos += uint64(m)
	}
	return true, nil
}

// apply replays one record into the index.
func (b *Backend) apply(hdr *header, f *dataFile, l location) error {
	if hdr.seq > b.seq {
		b.seq = hdr.seq
	}
	if hdr.removed() {
		cols := []string{hdr.column}
		if hdr.flags&recordAllColumns != 0 {
			cols = append([]string{""}, b.columns[hdr.id]...)
		}
		for _, c := range cols {
			fd, ok, err := b.lookup(hdr.id, c)
			if err != nil {
				b.log.Warn("replay: cannot check an earlier record", zap.Error(err))
				continue
			}
			if !ok {
				continue
			}
			b.idx.remove(keyHash(hdr.id, c), fd.loc)
			fd.file.live.Add(-int64(fd.hdr.size()))
			b.liveBytes.Add(-int64(fd.hdr.dataSize))
			if c != "" {
				b.dropColumn(hdr.id, c)
			}
		}
		return nil
	}
	h := keyHash(hdr.id, hdr.column)
	fd, ok, err := b.lookup(hdr.id, hdr.column)
	if err != nil {
		b.log.Warn("replay: cannot check an earlier record", zap.Error(err))
	}
	b.indexLocked(h, fd, ok, l, f, hdr)
	return nil
}
