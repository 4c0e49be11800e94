package route

import (
	"cmp"
	"encoding/binary"
	"slices"
	"unsafe"
)

// NodeBackends returns the backends of the node at addr, sorted by ID. The
// slice is the table's own: callers must not modify it.
func (t *Table) NodeBackends(addr string) []Backend {
	lo, hi := t.addrSpan(addr)
	return t.backends[lo:hi:hi]
}

// samePoints reports whether two point lists are equal, checking first
// whether they are the same slice (tables share the points of the node
// descriptions they are built from, so an unchanged node compares in O(1)).
func samePoints(a, b []Backend) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Group != y.Group || x.ID != y.ID || x.ReadOnly != y.ReadOnly || len(x.Points) != len(y.Points) {
			return false
		}
		if len(x.Points) > 0 && unsafe.SliceData(x.Points) == unsafe.SliceData(y.Points) {
			continue
		}
		if !slices.Equal(x.Points, y.Points) {
			return false
		}
	}
	return true
}

// Update returns a table in which the backends of every address in changes
// are exactly changes[addr] (nil or empty drops the node), in one pass:
// O(b + k·c + m log m) for b backends in the table, k chunks of c points
// touched and m new points; the rest of the rings is shared with t. It is
// how a node follows a cluster where many nodes join at once: its table
// changes by a few nodes per push, and sorting every point again on each
// would dominate. A backend
// with an empty Addr takes its key; the points are shared, not copied (as
// with NewShared), so callers must not modify them. Addresses whose
// backends do not change are ignored; if none changes, t itself is
// returned. The version is one higher. Errors are those of New.
func (t *Table) Update(changes map[string][]Backend) (*Table, error) {
	addrs := make([]string, 0, len(changes))
	fresh := map[string][]Backend{}
	for addr, bs := range changes {
		if err := checkAddr(addr); err != nil {
			return nil, err
		}
		nbs := make([]Backend, 0, len(bs))
		for _, b := range bs {
			if b.Addr == "" {
				b.Addr = addr
			} else if b.Addr != addr {
				return nil, invalidf("backend %s announced for address %s", b.Name(), addr)
			}
			nb, err := normalize(b, false)
			if err != nil {
				return nil, err
			}
			nbs = append(nbs, nb)
		}
		slices.SortFunc(nbs, compareBackends)
		for i := 1; i < len(nbs); i++ {
			if nbs[i].ID == nbs[i-1].ID {
				return nil, invalidf("backend %s listed twice (groups %d and %d)", nbs[i].Name(), nbs[i-1].Group, nbs[i].Group)
			}
		}
		if samePoints(t.NodeBackends(addr), nbs) {
			continue
		}
		addrs = append(addrs, addr)
		fresh[addr] = nbs
	}
	if len(addrs) == 0 {
		return t, nil
	}
	slices.Sort(addrs)

	// Merge the kept backends (in order) with the new ones (in order).
	// Kept backends keep their slots, so the rings' chunks that hold none
	// of the points added or removed carry over as they are; new backends
	// take slots free in t (no ring of t names them), never one freed now.
	nt := &Table{version: t.version + 1, backends: make([]Backend, 0, len(t.backends)+len(addrs)),
		slots: make([]int32, 0, len(t.backends)+len(addrs))}
	nt.index = make([]int32, len(t.index), len(t.index)+len(addrs))
	for s := range nt.index {
		nt.index[s] = -1
	}
	free := 0 // the next slot to look at for reuse
	gone := map[uint32][]Backend{}
	add := map[uint32][]entry{}
	// Kept backends are copied a run at a time: one copy of a run of
	// backends (which hold pointers) costs far less than an append each.
	keep := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			nt.index[t.slots[i]] = int32(len(nt.backends) + i - lo)
		}
		nt.slots = append(nt.slots, t.slots[lo:hi]...)
		nt.backends = append(nt.backends, t.backends[lo:hi]...)
	}
	i := 0
	for _, addr := range addrs {
		lo, hi := t.addrSpan(addr)
		keep(i, lo)
		for _, b := range t.backends[lo:hi] {
			gone[b.Group] = append(gone[b.Group], b)
		}
		i = hi
		for _, b := range fresh[addr] {
			for free < len(t.index) && t.index[free] >= 0 {
				free++
			}
			s := int32(free)
			if free < len(t.index) {
				free++
			} else {
				s = int32(len(nt.index))
				nt.index = append(nt.index, -1)
			}
			for pi := range b.Points {
				add[b.Group] = append(add[b.Group], entry{binary.BigEndian.Uint64(b.Points[pi][:8]), ref{s, int32(pi)}})
			}
			nt.index[s] = int32(len(nt.backends))
			nt.slots = append(nt.slots, s)
			nt.backends = append(nt.backends, b)
		}
	}
	keep(i, len(t.backends))
	if err := t.mergeRings(nt, gone, add); err != nil {
		return nil, err
	}
	return nt, nil
}

// mergeRings gives nt (whose backends and slots are set) the rings of t
// without the points of the backends removed (gone, by group) and with the
// new points of each group (add, unsorted, by group).
func (t *Table) mergeRings(nt *Table, gone map[uint32][]Backend, add map[uint32][]entry) error {
	groups := make([]uint32, 0, len(t.rings)+len(add))
	for i := range t.rings {
		groups = append(groups, t.rings[i].group)
	}
	for g := range add {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	for _, g := range groups {
		add := add[g]
		sortEntries(nt, add)
		old := t.ring(g)
		var r ring
		switch {
		case old == nil:
			r = newRing(g, add)
			if err := nt.checkRing(&r); err != nil {
				return err
			}
		case len(add) == 0 && len(gone[g]) == 0:
			r = *old
		default:
			var err error
			if r, err = nt.mergeRing(old, gone[g], add); err != nil {
				return err
			}
		}
		if r.n == 0 {
			continue // the group lost its last backend
		}
		nt.rings = append(nt.rings, r)
		nt.npoints += r.n
	}
	return nil
}

// mergeRing returns old without the points of gone and with the sorted
// points add, sharing the chunks neither touches. A new point whose 64-bit
// prefix another point already has (as good as never, for random points)
// may sit in a neighbouring chunk or be a conflict: the ring is then sorted
// again as a whole and checked.
func (nt *Table) mergeRing(old *ring, gone []Backend, add []entry) (ring, error) {
	touched := make([]bool, len(old.chunks))
	for _, b := range gone {
		for pi := range b.Points {
			v := binary.BigEndian.Uint64(b.Points[pi][:8])
			c := old.chunkFor(v)
			touched[c] = true
			for ; c > 0 && old.heads[c] == v; c-- {
				touched[c-1] = true // equal prefixes may straddle cuts
			}
		}
	}
	for j, e := range add {
		c := old.chunkFor(e.prefix)
		if j > 0 && add[j-1].prefix == e.prefix || c > 0 && old.chunks[c-1][len(old.chunks[c-1])-1].prefix == e.prefix ||
			nt.livePrefix(old.chunks[c], e.prefix) {
			return nt.resortRing(old, add)
		}
		touched[c] = true
	}
	r := ring{group: old.group, chunks: make([][]entry, 0, len(old.chunks)+len(add)/chunkSize+1)}
	j := 0
	for c, ch := range old.chunks {
		if !touched[c] {
			r.chunks = append(r.chunks, ch)
			continue
		}
		k := j
		for k < len(add) && (c+1 == len(old.chunks) || add[k].prefix < old.heads[c+1]) {
			k++
		}
		merged := make([]entry, 0, len(ch)+k-j)
		for _, e := range ch {
			if nt.index[e.s] < 0 {
				continue // a point of a backend removed
			}
			for j < k && add[j].prefix < e.prefix {
				merged = append(merged, add[j])
				j++
			}
			merged = append(merged, e)
		}
		merged = append(merged, add[j:k]...)
		j = k
		r.chunks = appendChunks(r.chunks, merged)
	}
	r.reindex()
	if len(r.chunks) > r.n/(chunkSize/4)+4 {
		// Removals left chunks of a few points each: cut the ring again.
		return newRing(r.group, r.flatten()), nil
	}
	return r, nil
}

// livePrefix reports whether the chunk holds a point of prefix v of a
// backend still in nt.
func (nt *Table) livePrefix(ch []entry, v uint64) bool {
	i := 0
	if v > 0 {
		i = upperBoundEntries(ch, v-1)
	}
	for ; i < len(ch) && ch[i].prefix == v; i++ {
		if nt.index[ch[i].s] >= 0 {
			return true
		}
	}
	return false
}

// resortRing builds old without the points of backends gone from nt, plus
// add, by sorting them all, and checks it for conflicts.
func (nt *Table) resortRing(old *ring, add []entry) (ring, error) {
	es := make([]entry, 0, old.n+len(add))
	for _, e := range old.all() {
		if nt.index[e.s] >= 0 {
			es = append(es, e)
		}
	}
	es = append(es, add...)
	sortEntries(nt, es)
	r := newRing(old.group, es)
	return r, nt.checkRing(&r)
}

// sortEntries sorts ring entries by point: by their 64-bit prefixes, then
// runs of equal prefixes (as good as never, for random points) by the full
// point. Comparing prefixes in a closure halves the time of sorting with
// compareEntries, which reaches into the points; with many nodes joining
// at once, the sort is a third of an update.
func sortEntries(t *Table, es []entry) {
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.prefix, b.prefix) })
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].prefix == es[i].prefix {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(es[i:j], t.compareEntries)
		}
		i = j
	}
}
