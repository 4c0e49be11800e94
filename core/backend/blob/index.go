package blob

import "math/bits"

// index maps a key hash to the location of the key's live record. It is an
// open-addressing Robin Hood table of 12-byte slots, so 10 million objects
// cost under 16 bytes each even right after a resize (the load factor stays
// between 0.76 and 0.95):
//
//	lo  uint32: fingerprint bits 0..31
//	hi  uint64: [fingerprint bits 32..39][file slot 16 bits][offset/8 40 bits]
//
// The fingerprint is 40 bits of the key's hash (never 0: 0 marks an empty
// slot). The full ID is not stored, so two keys may share a fingerprint and
// callers verify candidates against the record header on disk. The home
// position is the fingerprint scaled to the table size, so a resize needs no
// hash that the table does not keep, and a slot's probe distance is computed,
// not stored.
type index struct {
	slots []slot
	live  int
}

// slot is three uint32 rather than a uint32 and a uint64, which Go would pad
// to 16 bytes.
type slot struct {
	lo, hiLow, hiHigh uint32
}

func (s slot) hi() uint64 { return uint64(s.hiHigh)<<32 | uint64(s.hiLow) }

const (
	fpBits     = 40
	offsetBits = 40
	fileBits   = 16

	maxLoad    = 0.95
	growFactor = 1.25
	minSlots   = 64

	// MaxFileSize is the largest data file the index can address.
	MaxFileSize = (1 << offsetBits) * recordAlign
	// maxFileSlots is how many data files can be live at once.
	maxFileSlots = 1 << fileBits

	locBits = offsetBits + fileBits
	locMask = 1<<locBits - 1
)

// location is where a record lives: a file slot and a byte offset (a
// multiple of recordAlign).
type location struct {
	file uint16
	off  uint64
}

func (l location) pack() uint64 {
	return uint64(l.file)<<offsetBits | l.off/recordAlign
}

func unpack(v uint64) location {
	return location{file: uint16(v >> offsetBits), off: (v & (1<<offsetBits - 1)) * recordAlign}
}

func fingerprint(h uint64) uint64 {
	fp := h >> (64 - fpBits)
	if fp == 0 {
		fp = 1
	}
	return fp
}

func makeSlot(fp uint64, l location) slot {
	hi := fp>>32<<locBits | l.pack()
	return slot{lo: uint32(fp), hiLow: uint32(hi), hiHigh: uint32(hi >> 32)}
}

func (s slot) empty() bool        { return s.lo == 0 && s.hiHigh>>(locBits-32) == 0 }
func (s slot) fp() uint64         { return s.hi()>>locBits<<32 | uint64(s.lo) }
func (s slot) location() location { return unpack(s.hi() & locMask) }

func newIndex(capacity int) *index {
	n := max(minSlots, int(float64(capacity)/maxLoad)+1)
	return &index{slots: make([]slot, n)}
}

// home is the preferred position of a fingerprint in a table of n slots.
func home(fp uint64, n int) int {
	hi, _ := bits.Mul64(fp<<(64-fpBits), uint64(n))
	return int(hi)
}

func (ix *index) dib(pos int, s slot) int {
	d := pos - home(s.fp(), len(ix.slots))
	if d < 0 {
		d += len(ix.slots)
	}
	return d
}

// candidates calls fn with the location of every entry whose fingerprint
// matches h, stopping early when fn returns true.
func (ix *index) candidates(h uint64, fn func(location) bool) {
	fp := fingerprint(h)
	n := len(ix.slots)
	pos := home(fp, n)
	for d := 0; d < n; d++ {
		s := ix.slots[pos]
		if s.empty() || ix.dib(pos, s) < d {
			return
		}
		if s.fp() == fp && fn(s.location()) {
			return
		}
		if pos++; pos == n {
			pos = 0
		}
	}
}

// insert adds an entry. The caller has checked that the key is not present.
func (ix *index) insert(h uint64, l location) {
	if float64(ix.live+1) > maxLoad*float64(len(ix.slots)) {
		ix.resize(int(float64(len(ix.slots))*growFactor) + 1)
	}
	ix.place(makeSlot(fingerprint(h), l))
	ix.live++
}

// place adds cur. Entries of a Robin Hood table lie in the order of their
// home positions; place keeps entries of the same home in the order of
// their fingerprints too, so the whole table is in fingerprint order, which
// resize relies on. An insert is: find the first entry that comes after
// cur, and move the run from there to the next empty slot one slot on (one
// copy rather than a swap per slot, as the textbook loop does).
func (ix *index) place(cur slot) {
	n := len(ix.slots)
	fp := cur.fp()
	pos := home(fp, n)
	for d := 0; ; d++ {
		s := ix.slots[pos]
		if s.empty() {
			ix.slots[pos] = cur
			return
		}
		if sd := ix.dib(pos, s); sd < d || sd == d && s.fp() > fp {
			break
		}
		if pos++; pos == n {
			pos = 0
		}
	}
	end := pos
	for !ix.slots[end].empty() {
		if end++; end == n {
			end = 0
		}
	}
	if end > pos {
		copy(ix.slots[pos+1:end+1], ix.slots[pos:end])
	} else { // the run wraps around the end of the table
		copy(ix.slots[1:end+1], ix.slots[:end])
		ix.slots[0] = ix.slots[n-1]
		copy(ix.slots[pos+1:], ix.slots[pos:n-1])
	}
	ix.slots[pos] = cur
}

// find returns the position of the entry (h, l), or -1.
func (ix *index) find(h uint64, l location) int {
	fp := fingerprint(h)
	want := makeSlot(fp, l)
	n := len(ix.slots)
	pos := home(fp, n)
	for d := 0; d < n; d++ {
		s := ix.slots[pos]
		if s.empty() || ix.dib(pos, s) < d {
			return -1
		}
		if s == want {
			return pos
		}
		if pos++; pos == n {
			pos = 0
		}
	}
	return -1
}

// replace points the entry (h, old) at l; false if there is no such entry.
func (ix *index) replace(h uint64, old, l location) bool {
	p := ix.find(h, old)
	if p < 0 {
		return false
	}
	ix.slots[p] = makeSlot(fingerprint(h), l)
	return true
}

// remove deletes the entry (h, l) with backward-shift deletion, so no
// tombstones accumulate; false if there is no such entry.
func (ix *index) remove(h uint64, l location) bool {
	p := ix.find(h, l)
	if p < 0 {
		return false
	}
	n := len(ix.slots)
	for {
		q := p + 1
		if q == n {
			q = 0
		}
		next := ix.slots[q]
		if next.empty() || ix.dib(q, next) == 0 {
			ix.slots[p] = slot{}
			break
		}
		ix.slots[p] = next
		p = q
	}
	ix.live--
	return true
}

// resize moves every entry into a table of n slots. Homes scale with the
// table size and entries lie in fingerprint order (place), so walking the
// old table from the start of a cluster lays the entries into the new one
// in a single pass, each at its home or right after the one before. A
// table not in that order (one from a snapshot written before place kept
// it) is caught on the way and the rest of it placed one by one.
func (ix *index) resize(n int) {
	old := ix.slots
	m := len(old)
	ix.slots = make([]slot, max(n, minSlots))
	n = len(ix.slots)
	// A cluster starts at an empty slot or at an entry in its home slot;
	// the table is never full, so there is one.
	start := 0
	for start < m && !old[start].empty() && home(old[start].fp(), m) != start {
		start++
	}
	cursor := 0 // the next free position, counted past n after wrapping
	last := 0   // the home of the entry laid before, counted likewise
	streaming := true
	for i := 0; i < m; i++ {
		p := start + i
		if p >= m {
			p -= m
		}
		s := old[p]
		if s.empty() {
			continue
		}
		if !streaming {
			ix.place(s)
			continue
		}
		h := home(s.fp(), n)
		// Past the end of the old table (p < start) come first the entries
		// whose cluster wrapped (home after p), then those whose homes
		// start again from 0: those lie one table length further on.
		if p < start && home(s.fp(), m) <= p {
			h += n
		}
		v := max(h, cursor)
		q := v
		if q >= n {
			q -= n
		}
		if h < last || v >= 2*n || !ix.slots[q].empty() {
			// Out of order, or the entries would wrap all the way round:
			// an insert is right on any valid table.
			streaming = false
			ix.place(s)
			continue
		}
		ix.slots[q] = s
		cursor, last = v+1, h
	}
}

// each calls fn for every entry.
func (ix *index) each(fn func(location)) {
	for _, s := range ix.slots {
		if !s.empty() {
			fn(s.location())
		}
	}
}

// memory is the size of the table in bytes.
func (ix *index) memory() int { return len(ix.slots) * 12 }
