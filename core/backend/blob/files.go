package blob

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/elliptics/elliptics/core/vfs"
)

// dataFile is one data file of the log. Files are numbered in log order;
// defragmentation rewrites a file into the next generation of the same
// number, so the order of records across files never changes.
type dataFile struct {
	slot   uint16
	number uint64
	gen    uint32
	f      vfs.File
	path   string

	size    atomic.Uint64 // bytes written (the append position)
	records atomic.Uint64 // records written
	live    atomic.Int64  // bytes of live records (the rest is reclaimable)
	// rewrites counts big-value rewrites published into the file
	// (rewrite.go). Their records enter the index only when done, so a
	// defragmentation that scanned the file meanwhile took them for dead;
	// it compares the count at its swap and leaves the file for later.
	rewrites atomic.Uint64
	// tail maps the active file for appends (tailmap.go); nil when appends
	// use pwrite. Set and used under appendMu.
	tail *tailMap
	// mapped is tail for readers that do not hold appendMu (readHeader).
	mapped atomic.Pointer[tailMap]
}

func dataFileName(number uint64, gen uint32) string {
	return fmt.Sprintf("data-%010d.%d", number, gen)
}

// parseDataFileName returns the number and generation of a data file name.
func parseDataFileName(name string) (number uint64, gen uint32, ok bool) {
	rest, found := strings.CutPrefix(name, "data-")
	if !found {
		return 0, 0, false
	}
	numStr, genStr, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	n, err := strconv.ParseUint(numStr, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	g, err := strconv.ParseUint(genStr, 10, 32)
	if err != nil {
		return 0, 0, false
	}
	return n, uint32(g), true
}

func (b *Backend) filePath(number uint64, gen uint32) string {
	return filepath.Join(b.dir, dataFileName(number, gen))
}

// fileTable maps index file slots to data files. Guarded by Backend.idxMu.
type fileTable struct {
	bySlot map[uint16]*dataFile
	free   []uint16
	next   uint16
	full   bool // every slot value has been handed out once
}

func newFileTable() *fileTable { return &fileTable{bySlot: map[uint16]*dataFile{}} }

// alloc returns an unused slot number.
func (t *fileTable) alloc() (uint16, error) {
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		return s, nil
	}
	if t.full {
		return 0, fmt.Errorf("blob: %d data files open, the most the index can address", maxFileSlots)
	}
	s := t.next
	t.next++
	if t.next == 0 {
		t.full = true
	}
	return s, nil
}

// add registers f under its slot (which must be taken by alloc or restored
// from a snapshot).
func (t *fileTable) add(f *dataFile) {
	t.bySlot[f.slot] = f
	if !t.full && f.slot >= t.next {
		for s := t.next; s < f.slot; s++ {
			if _, used := t.bySlot[s]; !used {
				t.free = append(t.free, s)
			}
		}
		t.next = f.slot + 1
		if t.next == 0 {
			t.full = true
		}
	}
}

func (t *fileTable) release(slot uint16) {
	delete(t.bySlot, slot)
	t.free = append(t.free, slot)
}

// ordered returns the files in log order.
func (t *fileTable) ordered() []*dataFile {
	out := make([]*dataFile, 0, len(t.bySlot))
	for _, f := range t.bySlot {
		out = append(out, f)
	}
	sortFiles(out)
	return out
}

func sortFiles(fs []*dataFile) {
	slices.SortFunc(fs, func(a, b *dataFile) int { return cmp.Compare(a.number, b.number) })
}
