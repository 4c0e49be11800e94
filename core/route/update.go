package route

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
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
// O(n + m log m) for n points in the table and m new ones, where as many
// WithBackends calls take O(n) each. It is how a node follows a cluster
// where many nodes join at once: its table changes by a few nodes per
// push, and sorting every point again on each would dominate. A backend
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

	// Merge the kept backends (in order) with the new ones (in order);
	// remap[i] is the new index of old backend i, -1 if it is dropped.
	remap := make([]int32, len(t.backends))
	all := make([]Backend, 0, len(t.backends)+len(addrs))
	type added struct {
		idx int32
		b   Backend
	}
	var news []added
	i, a := 0, 0
	for i < len(t.backends) || a < len(addrs) {
		if a < len(addrs) && (i == len(t.backends) || strings.Compare(addrs[a], t.backends[i].Addr) <= 0) {
			addr := addrs[a]
			for i < len(t.backends) && t.backends[i].Addr == addr {
				remap[i] = -1
				i++
			}
			for _, b := range fresh[addr] {
				news = append(news, added{int32(len(all)), b})
				all = append(all, b)
			}
			a++
			continue
		}
		remap[i] = int32(len(all))
		all = append(all, t.backends[i])
		i++
	}
	nt := &Table{version: t.version + 1, backends: all}

	byGroup := map[uint32][]entry{}
	for _, nb := range news {
		for pi := range nb.b.Points {
			byGroup[nb.b.Group] = append(byGroup[nb.b.Group], entry{binary.BigEndian.Uint64(nb.b.Points[pi][:8]), ref{nb.idx, int32(pi)}})
		}
	}
	if err := t.mergeRings(nt, remap, byGroup); err != nil {
		return nil, err
	}
	return nt, nil
}

// mergeRings gives nt (whose backends are set) the rings of t, with every
// point's backend renumbered by remap (-1: the backend is gone, so is the
// point), merged with the new points of each group, add (unsorted).
func (t *Table) mergeRings(nt *Table, remap []int32, add map[uint32][]entry) error {
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
		var old ring
		if r := t.ring(g); r != nil {
			old = *r
		}
		// The merge is the whole cost of an update (a thousand-node table
		// has 16,000 points), so it works on the two arrays directly and
		// compares full points only on equal 64-bit prefixes.
		size := len(old.refs) + len(add)
		r := ring{group: g, prefix: make([]uint64, size), refs: make([]ref, size)}
		k, i, j := 0, 0, 0
		for i < len(old.refs) {
			o := old.refs[i]
			nb := remap[o.b]
			if nb < 0 {
				i++ // a point of a replaced or dropped backend
				continue
			}
			op := old.prefix[i]
			if j < len(add) {
				a := add[j]
				if a.prefix < op || a.prefix == op && nt.compareEntries(a, entry{op, ref{nb, o.p}}) < 0 {
					r.prefix[k], r.refs[k] = a.prefix, a.ref
					k++
					j++
					continue
				}
			}
			r.prefix[k], r.refs[k] = op, ref{nb, o.p}
			k++
			i++
		}
		for ; j < len(add); j++ {
			r.prefix[k], r.refs[k] = add[j].prefix, add[j].ref
			k++
		}
		r.prefix, r.refs = r.prefix[:k:k], r.refs[:k:k]
		if len(r.refs) == 0 {
			continue // the group lost its last backend
		}
		if err := nt.checkRing(&r); err != nil {
			return err
		}
		nt.rings = append(nt.rings, r)
		nt.npoints += len(r.refs)
	}
	return nil
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
