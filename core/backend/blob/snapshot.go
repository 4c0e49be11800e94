package blob

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/vfs"
)

// The index snapshot, index.snap: everything Open needs to skip a full scan
// of the log. Layout (little-endian), followed by an xxhash64 of all the
// bytes before it:
//
//	magic "EBLIDX01", version u32, reserved u32
//	seq u64, live bytes u64, active file number u64, active file size u64
//	files u32, then per file: slot u16, gen u32, number u64, size u64,
//	    records u64, live bytes u64
//	objects with columns u32, then per object: id [64], count u16, then
//	    per column: length u8, name
//	slots u64, live u64, then the index slots, 12 bytes each
const (
	snapshotName    = "index.snap"
	snapshotMagic   = "EBLIDX01"
	snapshotVersion = 1
)

type snapFile struct {
	slot                  uint16
	gen                   uint32
	number, size, records uint64
	live                  int64
}

type snapshot struct {
	seq          uint64
	liveBytes    int64
	activeNumber uint64
	activeSize   uint64
	files        []snapFile
	columns      map[id.ID][]string
	slots        []slot
	live         int
}

// takeSnapshot copies the state under the locks that freeze it.
func (b *Backend) takeSnapshot() *snapshot {
	b.lockSwap()
	defer b.swapMu.Unlock()
	return b.takeSnapshotLocked()
}

// takeSnapshotLocked is takeSnapshot for a caller holding swapMu
// exclusively.
func (b *Backend) takeSnapshotLocked() *snapshot {
	b.appendMu.Lock()
	defer b.appendMu.Unlock()
	b.idxMu.RLock()
	defer b.idxMu.RUnlock()
	s := &snapshot{
		seq:          b.seq,
		liveBytes:    b.liveBytes.Load(),
		activeNumber: b.active.number,
		activeSize:   b.active.size.Load(),
		columns:      make(map[id.ID][]string, len(b.columns)),
		slots:        append([]slot(nil), b.idx.slots...),
		live:         b.idx.live,
	}
	for oid, cs := range b.columns {
		s.columns[oid] = append([]string(nil), cs...)
	}
	for _, f := range b.files.ordered() {
		s.files = append(s.files, snapFile{slot: f.slot, gen: f.gen, number: f.number, size: f.size.Load(),
			records: f.records.Load(), live: f.live.Load()})
	}
	b.dirty.Store(false)
	return s
}

// writeSnapshot takes and stores a snapshot atomically. snapMu orders
// snapshot writers, so an older snapshot never replaces a newer one.
func (b *Backend) writeSnapshot() error {
	b.snapMu.Lock()
	defer b.snapMu.Unlock()
	return b.storeSnapshot(b.takeSnapshot())
}

// storeSnapshot writes s to index.snap atomically. The caller holds snapMu.
func (b *Backend) storeSnapshot(s *snapshot) error {
	path := filepath.Join(b.dir, snapshotName)
	tmp := path + ".tmp"
	f, err := vfs.Create(b.fs, tmp)
	if err != nil {
		return fmt.Errorf("blob %s: snapshot: %w", b.dir, err)
	}
	err = s.encode(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = b.fs.Rename(tmp, path)
	}
	if err == nil {
		err = b.fs.SyncDir(b.dir)
	}
	if err != nil {
		_ = b.fs.Remove(tmp)
		return fmt.Errorf("blob %s: snapshot: %w", b.dir, err)
	}
	b.lastSnapN.Store(int64(s.live))
	return nil
}

func (s *snapshot) encode(w io.Writer) error {
	h := xxhash.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
	le := binary.LittleEndian
	var buf []byte
	put64 := func(v uint64) { buf = le.AppendUint64(buf, v) }
	put32 := func(v uint32) { buf = le.AppendUint32(buf, v) }
	flush := func() { bw.Write(buf); buf = buf[:0] }

	buf = append(buf, snapshotMagic...)
	put32(snapshotVersion)
	put32(0)
	put64(s.seq)
	put64(uint64(s.liveBytes))
	put64(s.activeNumber)
	put64(s.activeSize)
	put32(uint32(len(s.files)))
	for _, f := range s.files {
		buf = le.AppendUint16(buf, f.slot)
		put32(f.gen)
		put64(f.number)
		put64(f.size)
		put64(f.records)
		put64(uint64(f.live))
	}
	put32(uint32(len(s.columns)))
	flush()
	for oid, cs := range s.columns {
		buf = append(buf, oid[:]...)
		buf = le.AppendUint16(buf, uint16(len(cs)))
		for _, c := range cs {
			buf = append(buf, uint8(len(c)))
			buf = append(buf, c...)
		}
		flush()
	}
	put64(uint64(len(s.slots)))
	put64(uint64(s.live))
	flush()
	for i := 0; i < len(s.slots); {
		for ; i < len(s.slots) && len(buf) < 64<<10; i++ {
			sl := s.slots[i]
			put32(sl.lo)
			put32(sl.hiLow)
			put32(sl.hiHigh)
		}
		flush()
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	var sum [8]byte
	le.PutUint64(sum[:], h.Sum64())
	_, err := w.Write(sum[:])
	return err
}

var errBadSnapshot = errors.New("bad index snapshot")

// decodeSnapshot parses a snapshot, checking every count against the bytes
// present before allocating for it.
func decodeSnapshot(b []byte) (*snapshot, error) {
	if len(b) < len(snapshotMagic)+8+8 {
		return nil, fmt.Errorf("%w: %d bytes", errBadSnapshot, len(b))
	}
	body, sum := b[:len(b)-8], binary.LittleEndian.Uint64(b[len(b)-8:])
	if xxhash.Sum64(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadSnapshot)
	}
	return decodeSnapshotBody(body)
}

// decodeSnapshotBody parses a snapshot whose checksum has been verified.
func decodeSnapshotBody(body []byte) (*snapshot, error) {
	r := &reader{b: body}
	if string(r.bytes(len(snapshotMagic))) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic", errBadSnapshot)
	}
	if v := r.u32(); v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d", errBadSnapshot, v)
	}
	r.u32()
	s := &snapshot{columns: map[id.ID][]string{}}
	s.seq = r.u64()
	s.liveBytes = int64(r.u64())
	s.activeNumber = r.u64()
	s.activeSize = r.u64()
	nf := int(r.u32())
	if !r.fits(nf, 38) || nf > maxFileSlots {
		return nil, fmt.Errorf("%w: %d files", errBadSnapshot, nf)
	}
	for i := 0; i < nf; i++ {
		f := snapFile{slot: r.u16(), gen: r.u32(), number: r.u64(), size: r.u64(), records: r.u64()}
		f.live = int64(r.u64())
		s.files = append(s.files, f)
	}
	nc := int(r.u32())
	if !r.fits(nc, id.Size+2) {
		return nil, fmt.Errorf("%w: %d column entries", errBadSnapshot, nc)
	}
	for i := 0; i < nc && r.err == nil; i++ {
		var oid id.ID
		copy(oid[:], r.bytes(id.Size))
		n := int(r.u16())
		cs := make([]string, 0, min(n, 64))
		for j := 0; j < n && r.err == nil; j++ {
			cs = append(cs, string(r.bytes(int(r.u8()))))
		}
		s.columns[oid] = cs
	}
	ns, live := r.u64(), r.u64()
	if ns > uint64(len(body)) || !r.fits(int(ns), 12) || live > ns {
		return nil, fmt.Errorf("%w: %d slots", errBadSnapshot, ns)
	}
	s.slots = make([]slot, ns)
	for i := range s.slots {
		s.slots[i] = slot{lo: r.u32(), hiLow: r.u32(), hiHigh: r.u32()}
	}
	s.live = int(live)
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(body)-r.off)
	}
	return s, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fits(n, each int) bool {
	return n >= 0 && n <= (len(r.b)-r.off)/max(each, 1)
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: truncated", errBadSnapshot)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8() uint8 {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.bytes(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}
