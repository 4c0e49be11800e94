package route

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/big"
	"net"
	"slices"
	"sort"

	"github.com/elliptics/elliptics/core/id"
)

// MaxAddrLen is the longest node address, in bytes.
const MaxAddrLen = 255

// Backend is one storage backend of a node as the route table sees it.
type Backend struct {
	Addr     string  // the node's address, "host:port"; a node may have several backends
	Group    uint32  // the group (replica) the backend serves; > 0
	ID       int32   // the backend's number, unique within its node; >= 0
	Points   []id.ID // its points on the ring of Group: 1..MaxPoints, distinct
	ReadOnly bool    // it serves reads only
}

// Name returns "addr/id", the backend's identity in logs and errors.
func (b Backend) Name() string { return fmt.Sprintf("%s/%d", b.Addr, b.ID) }

func (b Backend) equal(o Backend) bool {
	return b.Addr == o.Addr && b.Group == o.Group && b.ID == o.ID && b.ReadOnly == o.ReadOnly &&
		slices.Equal(b.Points, o.Points)
}

func compareBackends(a, b Backend) int {
	if c := cmp.Compare(a.Addr, b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func comparePoints(a, b id.ID) int { return bytes.Compare(a[:], b[:]) }

// normalize checks b and returns it with its points sorted, in a fresh slice
// when copyPoints is set (so the caller's slice may change afterwards).
func normalize(b Backend, copyPoints bool) (Backend, error) {
	if err := checkAddr(b.Addr); err != nil {
		return b, err
	}
	if b.Group == 0 {
		return b, invalidf("backend %s: group 0 (groups start at 1)", b.Name())
	}
	if b.ID < 0 {
		return b, invalidf("backend %s: negative backend id", b.Name())
	}
	if len(b.Points) == 0 {
		return b, invalidf("backend %s (group %d): no ring points", b.Name(), b.Group)
	}
	if len(b.Points) > MaxPoints {
		return b, invalidf("backend %s (group %d): %d ring points, at most %d", b.Name(), b.Group, len(b.Points), MaxPoints)
	}
	sorted := slices.IsSortedFunc(b.Points, comparePoints)
	if copyPoints || !sorted {
		b.Points = slices.Clone(b.Points)
	}
	if !sorted {
		slices.SortFunc(b.Points, comparePoints)
	}
	for i := 1; i < len(b.Points); i++ {
		if b.Points[i] == b.Points[i-1] {
			return b, invalidf("backend %s (group %d): ring point %s listed twice", b.Name(), b.Group, b.Points[i])
		}
	}
	b.Points = slices.Clip(b.Points)
	return b, nil
}

func checkAddr(a string) error {
	if a == "" {
		return invalidf("backend with an empty address")
	}
	if len(a) > MaxAddrLen {
		return invalidf("address %.40q...: %d bytes, at most %d", a, len(a), MaxAddrLen)
	}
	if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
		return invalidf("address %q: want host:port", a)
	}
	return nil
}

// Table is an immutable snapshot of the route table: every backend of every
// known node with its group and ring points. It is safe for concurrent use;
// changes build a new Table (Update, WithBackends, WithoutAddr).
//
// Backend values returned by a Table share their Points slice with it:
// callers must not modify them.
type Table struct {
	version  uint64
	backends []Backend // sorted by Addr, then ID; points sorted
	// Rings name backends by slot, not by position in backends: a node
	// joining shifts the positions of every node after it, and the rings
	// would have to be rewritten to follow. slots[i] is the slot of
	// backends[i]; index[s] the position of slot s (-1: free).
	slots   []int32
	index   []int32
	rings   []ring // one per group, sorted by group
	npoints int
}

func (t *Table) backendOf(r ref) *Backend { return &t.backends[t.index[r.s]] }

func (t *Table) point(r ref) *id.ID { return &t.backendOf(r).Points[r.p] }

// New builds a table of the given backends. It checks every backend (see
// Backend: a valid host:port address of at most MaxAddrLen bytes, group > 0,
// id >= 0, 1..MaxPoints distinct points), that no backend (address and id)
// is listed twice (ErrInvalid), and that no two backends of one group share
// a point (a *ConflictError, matching ErrConflict). The points are copied,
// so the caller may reuse the slices. The version is 0.
func New(backends []Backend) (*Table, error) {
	bs := make([]Backend, len(backends))
	for i, b := range backends {
		nb, err := normalize(b, true)
		if err != nil {
			return nil, err
		}
		bs[i] = nb
	}
	return build(0, bs)
}

// NewShared is New for callers that never modify the Points slices they
// pass: sorted points are kept, not copied, so a table built from node
// descriptions shares their points instead of holding a second copy (a
// thousand-node table is a megabyte of points). It builds the table in one
// pass, O(n log n) for n points, where n calls of WithBackends take
// O(n^2).
func NewShared(backends []Backend) (*Table, error) {
	bs := make([]Backend, len(backends))
	for i, b := range backends {
		nb, err := normalize(b, false)
		if err != nil {
			return nil, err
		}
		bs[i] = nb
	}
	return build(0, bs)
}

// build makes a table of normalized backends; it takes ownership of bs.
func build(version uint64, bs []Backend) (*Table, error) {
	slices.SortFunc(bs, compareBackends)
	t := &Table{version: version, backends: bs, slots: make([]int32, len(bs)), index: make([]int32, len(bs))}
	count := map[uint32]int{}
	for i, b := range bs {
		t.slots[i], t.index[i] = int32(i), int32(i)
		if i > 0 && compareBackends(b, bs[i-1]) == 0 {
			return nil, invalidf("backend %s listed twice (groups %d and %d)", b.Name(), bs[i-1].Group, b.Group)
		}
		count[b.Group] += len(b.Points)
		t.npoints += len(b.Points)
	}
	groups := make([]uint32, 0, len(count))
	for g := range count {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	t.rings = make([]ring, len(groups))

	for gi, g := range groups {
		es := make([]entry, 0, count[g])
		for bi, b := range bs {
			if b.Group != g {
				continue
			}
			for pi := range b.Points {
				es = append(es, entry{binary.BigEndian.Uint64(b.Points[pi][:8]), ref{int32(bi), int32(pi)}})
			}
		}
		sortEntries(t, es)
		r := newRing(g, es)
		if err := t.checkRing(&r); err != nil {
			return nil, err
		}
		t.rings[gi] = r
	}
	return t, nil
}

func (t *Table) compareEntries(x, y entry) int {
	if x.prefix != y.prefix {
		return cmp.Compare(x.prefix, y.prefix)
	}
	return comparePoints(*t.point(x.ref), *t.point(y.ref))
}

// checkRing reports two equal points in the sorted ring r as a conflict.
func (t *Table) checkRing(r *ring) error {
	var prev entry
	for i, e := range r.all() {
		if i == 0 || e.prefix != prev.prefix || *t.point(e.ref) != *t.point(prev.ref) {
			prev = e
			continue
		}
		// Points are distinct within a backend, so these are two
		// backends; name them in table order.
		x, y := t.index[prev.s], t.index[e.s]
		if x > y {
			x, y = y, x
		}
		return &ConflictError{Group: r.group, Point: *t.point(e.ref), A: t.backends[x], B: t.backends[y]}
	}
	return nil
}

// Version returns the table's version: 0 for New and DecodeTable's stored
// value, plus one for every change made by WithBackends and WithoutAddr.
func (t *Table) Version() uint64 { return t.version }

// WithVersion returns a table with the same contents and version v (for a
// node adopting a table it received, or restoring one).
func (t *Table) WithVersion(v uint64) *Table {
	c := *t
	c.version = v
	return &c
}

func (t *Table) ring(group uint32) *ring {
	lo, hi := 0, len(t.rings)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.rings[m].group < group {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(t.rings) && t.rings[lo].group == group {
		return &t.rings[lo]
	}
	return nil
}

// ownerIndex returns the index in r of the point owning key: the largest
// point <= key, or the largest point of all when key is below the smallest.
func (t *Table) ownerIndex(r *ring, key *id.ID) int {
	kp := binary.BigEndian.Uint64(key[:8])
	hi := r.upper(kp) // first point whose prefix is > the key's
	if hi > 0 && r.at(hi-1).prefix == kp {
		// Points sharing the key's 64-bit prefix (rare): find the first
		// point > key among them by the remaining bytes.
		lo := 0
		if kp > 0 {
			lo = r.upper(kp - 1)
		}
		hi = lo + sort.Search(hi-lo, func(i int) bool {
			return bytes.Compare(t.point(r.at(lo + i).ref)[8:], key[8:]) > 0
		})
	}
	if hi == 0 {
		return r.n - 1 // wrap around
	}
	return hi - 1
}

// Owner returns the backend that owns key in group, and false if the table
// knows no backend of that group. It takes O(log n) for n points in the
// group and does not allocate.
func (t *Table) Owner(key id.ID, group uint32) (Backend, bool) {
	r := t.ring(group)
	if r == nil {
		return Backend{}, false
	}
	return *t.backendOf(t.owner(r, &key)), true
}

// owner is ownerIndex for when only the point is wanted: it takes the
// chunk and the place in it from one search each, where at would search
// the chunk again.
func (t *Table) owner(r *ring, key *id.ID) ref {
	kp := binary.BigEndian.Uint64(key[:8])
	c := upperBound(r.heads, kp) - 1
	if c < 0 {
		last := r.chunks[len(r.chunks)-1]
		return last[len(last)-1].ref // below the smallest point: wrap around
	}
	ch := r.chunks[c]
	if j := upperBoundEntries(ch, kp); ch[j-1].prefix != kp {
		return ch[j-1].ref
	}
	return r.at(t.ownerIndex(r, key)).ref // points sharing the key's prefix
}

// OwnerExcluding returns the backend that would own key in group if the
// backend backendID of the node at addr were not in the table: the owner
// before that backend joined. Recovery uses it to find where a key lived
// while it moves to its new owner. It is false when no other backend of the
// group is known.
func (t *Table) OwnerExcluding(key id.ID, group uint32, addr string, backendID int32) (Backend, bool) {
	r := t.ring(group)
	if r == nil {
		return Backend{}, false
	}
	i := t.ownerIndex(r, &key)
	for range r.n {
		if b := t.backendOf(r.at(i).ref); b.Addr != addr || b.ID != backendID {
			return *b, true
		}
		if i--; i < 0 {
			i = r.n - 1 // wrap around
		}
	}
	return Backend{}, false
}

// Groups returns the groups that have at least one backend, ascending.
func (t *Table) Groups() []uint32 {
	out := make([]uint32, len(t.rings))
	for i := range t.rings {
		out[i] = t.rings[i].group
	}
	return out
}

// Backends returns every backend, ordered by address then ID.
func (t *Table) Backends() []Backend { return slices.Clone(t.backends) }

// Group returns the backends of group g, ordered by address then ID.
func (t *Table) Group(g uint32) []Backend {
	var out []Backend
	for _, b := range t.backends {
		if b.Group == g {
			out = append(out, b)
		}
	}
	return out
}

// Backend returns the backend id of the node at addr.
func (t *Table) Backend(addr string, backendID int32) (Backend, bool) {
	i, ok := slices.BinarySearchFunc(t.backends, Backend{Addr: addr, ID: backendID}, compareBackends)
	if !ok {
		return Backend{}, false
	}
	return t.backends[i], true
}

// Addresses returns the address of every node in the table, sorted, each
// once.
func (t *Table) Addresses() []string {
	var out []string
	for i, b := range t.backends {
		if i == 0 || b.Addr != t.backends[i-1].Addr {
			out = append(out, b.Addr)
		}
	}
	return out
}

// addrSpan returns the index range of the backends of addr.
func (t *Table) addrSpan(addr string) (int, int) {
	lo := sort.Search(len(t.backends), func(i int) bool { return t.backends[i].Addr >= addr })
	hi := lo
	for hi < len(t.backends) && t.backends[hi].Addr == addr {
		hi++
	}
	return lo, hi
}

// Len returns the number of backends.
func (t *Table) Len() int { return len(t.backends) }

// NumPoints returns the number of ring points of all backends.
func (t *Table) NumPoints() int { return t.npoints }

// Range is a part of the ring of one group owned by one backend: every ID
// from Start to End, BOTH INCLUSIVE. A point X followed by point Y owns
// [X, Y-1]; the largest point L owns [L, id.Max] and, when the smallest
// point S is not id.Zero, [id.Zero, S-1] (the wrap-around arc, split in two
// so that Start <= End always holds).
type Range struct {
	Group   uint32
	Backend int32 // the backend's ID on the node asked about
	Start   id.ID // first ID of the range
	End     id.ID // last ID of the range (inclusive)
}

// Contains reports whether key lies in the range.
func (r Range) Contains(key id.ID) bool {
	return comparePoints(r.Start, key) <= 0 && comparePoints(key, r.End) <= 0
}

// Ranges returns every part of the ring owned by a backend of the node at
// addr, ordered by group then Start. Arcs of consecutive points of one
// backend are merged into one range. Over all addresses the ranges of one
// group cover its whole ring exactly once.
func (t *Table) Ranges(addr string) []Range {
	lo, hi := t.addrSpan(addr)
	if lo == hi {
		return nil
	}
	mine := func(r ref) bool { i := int(t.index[r.s]); return i >= lo && i < hi }
	var out []Range
	// The node's own points are found by search, O(k log n) for k of its
	// points among n, not by a walk of every ring: every node computes its
	// ranges on each change of a thousand-node table.
	var idx []int
	for ri := range t.rings {
		r := &t.rings[ri]
		idx = idx[:0]
		for b := lo; b < hi; b++ {
			if t.backends[b].Group != r.group {
				continue
			}
			for pi := range t.backends[b].Points {
				idx = append(idx, t.ownerIndex(r, &t.backends[b].Points[pi]))
			}
		}
		if len(idx) == 0 {
			continue
		}
		slices.Sort(idx)
		first := len(out)
		add := func(b int32, start, end id.ID) {
			if len(out) > first {
				last := &out[len(out)-1]
				if last.Backend == b && last.End != id.Max && last.End.Next() == start {
					last.End = end
					return
				}
			}
			out = append(out, Range{Group: r.group, Backend: b, Start: start, End: end})
		}
		if p0, last := *t.point(r.at(0).ref), r.at(r.n-1).ref; p0 != id.Zero && mine(last) {
			add(t.backendOf(last).ID, id.Zero, p0.Prev())
		}
		for _, i := range idx {
			rf := r.at(i).ref
			end := id.Max
			if i+1 < r.n {
				end = t.point(r.at(i + 1).ref).Prev()
			}
			add(t.backendOf(rf).ID, *t.point(rf), end)
		}
	}
	return out
}

// Part is the piece of an ID range owned by one backend, both ends
// inclusive.
type Part struct {
	Owner      Backend
	Start, End id.ID
}

// Split cuts [start, end] (both inclusive) of group's ring into the pieces
// each backend owns, in ID order, adjacent pieces of one backend merged.
// It is nil when the group has no backend or end < start.
func (t *Table) Split(start, end id.ID, group uint32) []Part {
	r := t.ring(group)
	if r == nil || comparePoints(end, start) < 0 {
		return nil
	}
	n := r.n
	first := *t.point(r.at(0).ref)
	i := t.ownerIndex(r, &start)
	var out []Part
	for cur := start; ; {
		// The arc holding cur ends before the next point, or at id.Max
		// for the last point, or before the first point for the part of
		// the last point's arc that wrapped around to id.Zero.
		arcEnd, nexti := id.Max, 0
		switch {
		case comparePoints(cur, first) < 0:
			arcEnd = first.Prev()
		case i+1 < n:
			arcEnd, nexti = t.point(r.at(i+1).ref).Prev(), i+1
		}
		hi := arcEnd
		if comparePoints(end, hi) < 0 {
			hi = end
		}
		b := *t.backendOf(r.at(i).ref)
		if k := len(out) - 1; k >= 0 && out[k].Owner.Addr == b.Addr && out[k].Owner.ID == b.ID {
			out[k].End = hi
		} else {
			out = append(out, Part{Owner: b, Start: cur, End: hi})
		}
		if hi == end {
			return out
		}
		cur, i = hi.Next(), nexti
	}
}

// ringSize is 2^512, the number of IDs on the ring.
var ringSize = new(big.Int).Lsh(big.NewInt(1), 8*id.Size)

// Share returns the fraction of the ring of group owned by backend
// backendID of the node at addr: 0 if it is not in the table, 1 if it is
// the group's only backend. Arc lengths are summed exactly (512-bit
// integers) and the sum divided by 2^512 with a single rounding to float64,
// so the result is exact to within float64 precision (relative error below
// 2^-52). It takes O(n) for n points in the group.
func (t *Table) Share(addr string, backendID int32, group uint32) float64 {
	r := t.ring(group)
	i, ok := slices.BinarySearchFunc(t.backends, Backend{Addr: addr, ID: backendID}, compareBackends)
	if r == nil || !ok || t.backends[i].Group != group {
		return 0
	}
	return shareOf(t.arcs(r)[t.slots[i]])
}

// arcs sums the lengths of the arcs of r owned by each backend, by slot.
func (t *Table) arcs(r *ring) map[int32]*big.Int {
	sums := map[int32]*big.Int{}
	var prev entry
	x, y := new(big.Int), new(big.Int)
	add := func(owner entry, next *id.ID, wrapped bool) {
		x.SetBytes(t.point(owner.ref)[:])
		y.SetBytes(next[:])
		if wrapped {
			y.Add(y, ringSize)
		}
		sum := sums[owner.s]
		if sum == nil {
			sum = new(big.Int)
			sums[owner.s] = sum
		}
		sum.Add(sum, y.Sub(y, x))
	}
	for i, e := range r.all() {
		if i > 0 {
			add(prev, t.point(e.ref), false)
		}
		prev = e
	}
	add(prev, t.point(r.at(0).ref), true)
	return sums
}

// shareOf divides an arc length by the ring's size (0 for nil).
func shareOf(sum *big.Int) float64 {
	if sum == nil {
		return 0
	}
	f := new(big.Float).SetInt(sum)
	f.SetMantExp(f, -8*id.Size)
	v, _ := f.Float64()
	return v
}

// Shares returns the share of the ring of group owned by each of the
// group's backends, in the order of Group(group): the values Share gives,
// computed in one pass over the group's points (O(n) for n points, where
// calling Share for every backend takes O(n·b)). Nil for a group with no
// backend.
func (t *Table) Shares(group uint32) []float64 {
	r := t.ring(group)
	if r == nil {
		return nil
	}
	sums := t.arcs(r)
	var out []float64
	for i := range t.backends {
		if t.backends[i].Group == group {
			out = append(out, shareOf(sums[t.slots[i]]))
		}
	}
	return out
}

// WithBackends returns a table in which the backends of the node at addr
// are exactly bs (a node announcing its current backends; an empty bs drops
// the node). A backend with an empty Addr takes addr; any other Addr is an
// error. The new table's version is one higher; if nothing changes, t
// itself is returned. t is never modified.
func (t *Table) WithBackends(addr string, bs []Backend) (*Table, error) {
	nbs := make([]Backend, len(bs))
	for i, b := range bs {
		b.Points = slices.Clone(b.Points) // Update keeps them
		nbs[i] = b
	}
	return t.Update(map[string][]Backend{addr: nbs})
}

// WithoutAddr returns a table without the backends of the node at addr (a
// node dropped), with a version one higher; if the table has no such node,
// t itself is returned.
func (t *Table) WithoutAddr(addr string) *Table {
	if lo, hi := t.addrSpan(addr); lo == hi {
		return t
	}
	nt, err := t.Update(map[string][]Backend{addr: nil})
	if err != nil { // removing backends cannot create a conflict
		panic("route: rebuilding a valid table without " + addr + ": " + err.Error())
	}
	return nt
}

// Equal reports whether t and o hold the same backends with the same
// groups, flags and points. Versions are not compared.
func (t *Table) Equal(o *Table) bool {
	if t == nil || o == nil {
		return t == o
	}
	return slices.EqualFunc(t.backends, o.backends, Backend.equal)
}

// String summarizes the table for logs.
func (t *Table) String() string {
	return fmt.Sprintf("route table v%d: %d nodes, %d backends, %d groups, %d points",
		t.version, len(t.Addresses()), len(t.backends), len(t.rings), t.npoints)
}
