package route

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/stretchr/testify/require"
)

func pt(s string) id.ID {
	x, err := parseFixtureID(s)
	if err != nil {
		panic(err)
	}
	return x
}

func pts(ss ...string) []id.ID {
	out := make([]id.ID, len(ss))
	for i, s := range ss {
		out[i] = pt(s)
	}
	return out
}

// randomID returns a random ID; with ties set its first 8 bytes come from a
// handful of values, so that many points share their 64-bit prefix.
func randomID(rng *rand.Rand, ties bool) id.ID {
	var x id.ID
	for i := 0; i < id.Size; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			x[i+j] = byte(v >> (8 * j))
		}
	}
	if ties {
		for j := 0; j < 8; j++ {
			x[j] = 0
		}
		x[7] = byte(rng.IntN(3))
		if rng.IntN(4) == 0 { // also ties deeper in the ID
			x[8], x[9] = 0, byte(rng.IntN(2))
		}
	}
	return x
}

// randomBackends makes nodes × groups backends (node i has backend g-1 in
// group g) with the given number of points each.
func randomBackends(rng *rand.Rand, nodes, groups, points int, ties bool) []Backend {
	seen := map[id.ID]bool{}
	var bs []Backend
	for n := 0; n < nodes; n++ {
		for g := 1; g <= groups; g++ {
			b := Backend{Addr: fmt.Sprintf("10.%d.%d.%d:1025", n>>16, (n>>8)&0xff, n&0xff), Group: uint32(g), ID: int32(g - 1)}
			for len(b.Points) < points {
				p := randomID(rng, ties)
				if p == id.Zero || seen[p] { // keep points unique across groups too
					continue
				}
				seen[p] = true
				b.Points = append(b.Points, p)
			}
			bs = append(bs, b)
		}
	}
	return bs
}

// checkCoverage checks that, for every group, the ranges of all addresses
// cover the ring exactly once, that Owner agrees with each range at both
// ends, and that the shares sum to 1.
func checkCoverage(t *testing.T, tab *Table) {
	t.Helper()
	byGroup := map[uint32][]Range{}
	owner := map[Range]string{}
	for _, a := range tab.Addresses() {
		rs := tab.Ranges(a)
		require.True(t, slices.IsSortedFunc(rs, func(x, y Range) int {
			if x.Group != y.Group {
				return int(x.Group) - int(y.Group)
			}
			return x.Start.Compare(y.Start)
		}), "ranges of %s not ordered by group and start", a)
		for _, r := range rs {
			require.True(t, r.Start.Compare(r.End) <= 0, "empty range %+v", r)
			byGroup[r.Group] = append(byGroup[r.Group], r)
			owner[r] = fmt.Sprintf("%s/%d", a, r.Backend)
		}
	}
	require.Equal(t, len(tab.Groups()), len(byGroup))
	for _, g := range tab.Groups() {
		rs := byGroup[g]
		slices.SortFunc(rs, func(x, y Range) int { return x.Start.Compare(y.Start) })
		require.Equal(t, id.Zero, rs[0].Start, "group %d: ring does not start at zero", g)
		require.Equal(t, id.Max, rs[len(rs)-1].End, "group %d: ring does not end at max", g)
		for i, r := range rs {
			if i > 0 {
				require.Equal(t, rs[i-1].End.Next(), r.Start, "group %d: gap or overlap before %s", g, r.Start.Short())
				require.False(t, owner[rs[i-1]] == owner[r], "group %d: adjacent ranges of one backend not merged", g)
			}
			for _, k := range []id.ID{r.Start, r.End} {
				b, ok := tab.Owner(k, g)
				require.True(t, ok)
				require.Equal(t, owner[r], b.Name(), "group %d key %s", g, k.Short())
				require.True(t, r.Contains(k))
			}
		}
		sum := 0.0
		shares := tab.Shares(g)
		require.Len(t, shares, len(tab.Group(g)))
		for i, b := range tab.Group(g) {
			s := tab.Share(b.Addr, b.ID, g)
			require.True(t, s > 0 && s <= 1, "share %v", s)
			require.Equal(t, s, shares[i], "Shares agrees with Share")
			sum += s
		}
		require.InDelta(t, 1, sum, 1e-9, "group %d shares", g)
	}
}

func TestOwnerRandom(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		nodes, groups, points int
		ties                  bool
	}{
		{"one point", 1, 1, 1, false},
		{"small", 3, 2, 4, false},
		{"medium", 20, 3, 16, false},
		{"prefix ties", 10, 2, 16, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.nodes)))
			bs := randomBackends(rng, tc.nodes, tc.groups, tc.points, tc.ties)
			tab, err := New(bs)
			require.NoError(t, err)
			var keys []id.ID
			for _, b := range bs {
				for _, p := range b.Points {
					keys = append(keys, p, p.Prev(), p.Next())
				}
			}
			for range 500 {
				keys = append(keys, randomID(rng, tc.ties))
			}
			keys = append(keys, id.Zero, id.Max)
			for _, k := range keys {
				for g := uint32(0); g <= uint32(tc.groups)+1; g++ {
					got := "none"
					if b, ok := tab.Owner(k, g); ok {
						got = b.Name()
					}
					require.Equal(t, bruteOwner(bs, k, g), got, "key %s group %d", k, g)
				}
			}
			checkCoverage(t, tab)
		})
	}
}

func TestRangesProperty(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var bs []Backend
		nodes := 1 + rng.IntN(6)
		for n := range nodes {
			for b := range 1 + rng.IntN(3) {
				be := Backend{Addr: fmt.Sprintf("h%d:1", n), Group: uint32(1 + rng.IntN(3)), ID: int32(b)}
				for range 1 + rng.IntN(5) {
					be.Points = append(be.Points, randomID(rng, seed%2 == 0))
				}
				slices.SortFunc(be.Points, comparePoints)
				be.Points = slices.Compact(be.Points)
				bs = append(bs, be)
			}
		}
		if rng.IntN(3) == 0 { // a point at zero and one at max sometimes
			bs[0].Points = append(bs[0].Points, id.Zero)
			bs[len(bs)-1].Points = append(bs[len(bs)-1].Points, id.Max)
		}
		tab, err := New(bs)
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
			continue // a random clash (ties mode) or zero/max added twice
		}
		require.NoError(t, err, "seed %d", seed)
		checkCoverage(t, tab)
	}
}

func TestNewValidation(t *testing.T) {
	ok := Backend{Addr: "127.0.0.1:1025", Group: 1, ID: 0, Points: pts("10")}
	with := func(f func(*Backend)) []Backend {
		b := ok
		b.Points = slices.Clone(ok.Points)
		f(&b)
		return []Backend{b}
	}
	tooMany := make([]id.ID, MaxPoints+1)
	for i := range tooMany {
		tooMany[i][0], tooMany[i][1] = byte(i>>8), byte(i)
	}
	for _, tc := range []struct {
		name string
		bs   []Backend
		msg  string
	}{
		{"group 0", with(func(b *Backend) { b.Group = 0 }), "127.0.0.1:1025/0: group 0"},
		{"no points", with(func(b *Backend) { b.Points = nil }), "no ring points"},
		{"too many points", with(func(b *Backend) { b.Points = tooMany }), "4097 ring points, at most 4096"},
		{"duplicate point", with(func(b *Backend) { b.Points = pts("20", "10", "20") }), "ring point 2000"},
		{"empty address", with(func(b *Backend) { b.Addr = "" }), "empty address"},
		{"no port", with(func(b *Backend) { b.Addr = "localhost" }), `address "localhost": want host:port`},
		{"empty port", with(func(b *Backend) { b.Addr = "localhost:" }), "want host:port"},
		{"long address", with(func(b *Backend) { b.Addr = strings.Repeat("a", 251) + ":1025" }), "256 bytes, at most 255"},
		{"negative id", with(func(b *Backend) { b.ID = -1 }), "negative backend id"},
		{"backend twice", []Backend{ok, {Addr: ok.Addr, Group: 2, ID: 0, Points: pts("30")}}, "127.0.0.1:1025/0 listed twice (groups 1 and 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.bs)
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorIs(t, err, status.ErrInvalid)
			require.NotErrorIs(t, err, ErrConflict)
			require.Equal(t, status.Invalid, status.FromError(err))
			require.Contains(t, err.Error(), tc.msg)
		})
	}
	// An empty table is valid and owns nothing.
	tab, err := New(nil)
	require.NoError(t, err)
	_, found := tab.Owner(id.Zero, 1)
	require.False(t, found)
	require.Empty(t, tab.Groups())
	require.Empty(t, tab.Addresses())
	require.Nil(t, tab.Ranges("127.0.0.1:1025"))
}

func TestConflict(t *testing.T) {
	p := pt("abcdef")
	for _, tc := range []struct {
		name string
		bs   []Backend
		a, b string // the two backends the error names, "" if no conflict
	}{
		{"two nodes", []Backend{
			{Addr: "10.0.0.2:1025", Group: 1, Points: []id.ID{pt("01"), p}},
			{Addr: "10.0.0.1:1025", Group: 1, ID: 3, Points: []id.ID{p, pt("02")}},
		}, "10.0.0.1:1025/3", "10.0.0.2:1025/0"},
		{"two backends of one node", []Backend{
			{Addr: "10.0.0.1:1025", Group: 2, ID: 1, Points: []id.ID{p}},
			{Addr: "10.0.0.1:1025", Group: 2, ID: 0, Points: []id.ID{p}},
		}, "10.0.0.1:1025/0", "10.0.0.1:1025/1"},
		{"same point, different groups", []Backend{
			{Addr: "10.0.0.1:1025", Group: 1, Points: []id.ID{p}},
			{Addr: "10.0.0.2:1025", Group: 2, Points: []id.ID{p}},
		}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := New(tc.bs)
			if tc.a == "" {
				require.NoError(t, err)
				require.Equal(t, []uint32{1, 2}, tab.Groups())
				return
			}
			require.ErrorIs(t, err, ErrConflict)
			require.ErrorIs(t, err, status.ErrExists)
			require.NotErrorIs(t, err, ErrInvalid)
			var ce *ConflictError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.a, ce.A.Name())
			require.Equal(t, tc.b, ce.B.Name())
			require.Equal(t, p, ce.Point)
			require.Equal(t, tc.bs[0].Group, ce.Group)
			require.Contains(t, err.Error(), tc.a)
			require.Contains(t, err.Error(), tc.b)
			require.Contains(t, err.Error(), p.String())
			t.Log(err)
		})
	}
}

func TestNewCopiesPoints(t *testing.T) {
	in := []Backend{{Addr: "a:1", Group: 1, Points: pts("80", "40")}}
	tab, err := New(in)
	require.NoError(t, err)
	require.Equal(t, pts("80", "40"), in[0].Points, "New must not sort the caller's slice")
	in[0].Points[0] = pt("00")
	b, _ := tab.Owner(pt("90"), 1)
	require.Equal(t, pts("40", "80"), b.Points)
}

func TestAccessors(t *testing.T) {
	tab, err := New([]Backend{
		{Addr: "b:1", Group: 2, ID: 1, Points: pts("10")},
		{Addr: "a:1", Group: 1, ID: 5, Points: pts("20")},
		{Addr: "b:1", Group: 1, ID: 0, Points: pts("30"), ReadOnly: true},
		{Addr: "a:1", Group: 3, ID: 2, Points: pts("40")},
	})
	require.NoError(t, err)
	names := func(bs []Backend) (out []string) {
		for _, b := range bs {
			out = append(out, b.Name())
		}
		return out
	}
	require.Equal(t, []string{"a:1/2", "a:1/5", "b:1/0", "b:1/1"}, names(tab.Backends()))
	require.Equal(t, []string{"a:1/5", "b:1/0"}, names(tab.Group(1)))
	require.Nil(t, tab.Group(9))
	require.Equal(t, []uint32{1, 2, 3}, tab.Groups())
	require.Equal(t, []string{"a:1", "b:1"}, tab.Addresses())
	require.Equal(t, 4, tab.Len())
	require.Equal(t, 4, tab.NumPoints())
	b, ok := tab.Backend("b:1", 0)
	require.True(t, ok)
	require.True(t, b.ReadOnly)
	_, ok = tab.Backend("b:1", 7)
	require.False(t, ok)
	require.Equal(t, "route table v0: 2 nodes, 4 backends, 3 groups, 4 points", tab.String())
	// Backends returns a copy of the list.
	bs := tab.Backends()
	bs[0].Addr = "zzz:1"
	require.Equal(t, "a:1", tab.Backends()[0].Addr)
}

func TestUpdates(t *testing.T) {
	t0, err := New([]Backend{
		{Addr: "a:1", Group: 1, ID: 0, Points: pts("00", "80")},
		{Addr: "b:1", Group: 1, ID: 0, Points: pts("40")},
	})
	require.NoError(t, err)
	require.Equal(t, uint64(0), t0.Version())

	// A new node joins.
	t1, err := t0.WithBackends("c:1", []Backend{{Group: 1, ID: 0, Points: pts("c0")}, {Group: 2, ID: 1, Points: pts("c0")}})
	require.NoError(t, err)
	require.Equal(t, uint64(1), t1.Version())
	require.Equal(t, []string{"a:1", "b:1", "c:1"}, t1.Addresses())
	b, _ := t1.Owner(pt("d0"), 1)
	require.Equal(t, "c:1/0", b.Name())
	b, _ = t0.Owner(pt("d0"), 1)
	require.Equal(t, "a:1/0", b.Name(), "the old table must not change")
	require.Equal(t, []uint32{1, 2}, t1.Groups())
	checkCoverage(t, t1)

	// Announcing the same backends again changes nothing.
	same, err := t1.WithBackends("c:1", []Backend{{Addr: "c:1", Group: 2, ID: 1, Points: pts("c0")}, {Group: 1, ID: 0, Points: pts("c0")}})
	require.NoError(t, err)
	require.Same(t, t1, same)

	// A node changes its backends: a read-only flag and a point.
	t2, err := t1.WithBackends("a:1", []Backend{{Group: 1, ID: 0, Points: pts("00", "90"), ReadOnly: true}})
	require.NoError(t, err)
	require.Equal(t, uint64(2), t2.Version())
	b, _ = t2.Owner(pt("85"), 1)
	require.Equal(t, "b:1/0", b.Name())
	require.True(t, mustBackend(t, t2, "a:1", 0).ReadOnly)
	require.False(t, t2.Equal(t1))

	// A conflicting announcement is refused and leaves the table as it was.
	_, err = t2.WithBackends("d:1", []Backend{{Group: 1, ID: 0, Points: pts("40")}})
	require.ErrorIs(t, err, ErrConflict)
	require.Contains(t, err.Error(), "b:1/0 and d:1/0")
	_, err = t2.WithBackends("d:1", []Backend{{Addr: "e:1", Group: 1, Points: pts("41")}})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = t2.WithBackends("nope", nil)
	require.ErrorIs(t, err, ErrInvalid)
	require.Equal(t, 3, len(t2.Addresses()))

	// An empty announcement drops the node, like WithoutAddr.
	t3, err := t2.WithBackends("c:1", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(3), t3.Version())
	t3b := t2.WithoutAddr("c:1")
	require.Equal(t, uint64(3), t3b.Version())
	require.True(t, t3.Equal(t3b))
	require.Equal(t, []string{"a:1", "b:1"}, t3b.Addresses())
	require.Equal(t, []uint32{1}, t3b.Groups())
	require.Same(t, t3b, t3b.WithoutAddr("c:1"), "dropping an unknown node changes nothing")
	checkCoverage(t, t3b)

	// Dropping every node leaves an empty table.
	t5 := t3b.WithoutAddr("a:1").WithoutAddr("b:1")
	require.Equal(t, uint64(5), t5.Version())
	require.Empty(t, t5.Groups())
	_, ok := t5.Owner(id.Zero, 1)
	require.False(t, ok)

	// Equal ignores versions; WithVersion keeps contents.
	require.True(t, t1.WithVersion(42).Equal(t1))
	require.Equal(t, uint64(42), t1.WithVersion(42).Version())
	require.Equal(t, uint64(1), t1.Version())
	var nilTab *Table
	require.True(t, nilTab.Equal(nil))
	require.False(t, t1.Equal(nil))

	// WithBackends copies the caller's points.
	in := []Backend{{Group: 1, Points: pts("e0")}}
	t6, err := t3b.WithBackends("f:1", in)
	require.NoError(t, err)
	in[0].Points[0] = pt("e1")
	require.Equal(t, pts("e0"), mustBackend(t, t6, "f:1", 0).Points)
}

func mustBackend(t *testing.T, tab *Table, addr string, bid int32) Backend {
	t.Helper()
	b, ok := tab.Backend(addr, bid)
	require.True(t, ok, "no backend %s/%d", addr, bid)
	return b
}

// TestConcurrent reads one table from many goroutines while new tables are
// built from it (run with -race).
func TestConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	tab, err := New(randomBackends(rng, 50, 3, 16, false))
	require.NoError(t, err)
	keys := make([]id.ID, 256)
	for i := range keys {
		keys[i] = randomID(rng, false)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, k := range keys {
				if _, ok := tab.Owner(k, uint32(1+(i+w)%3)); !ok {
					t.Error("no owner")
					return
				}
			}
			_ = tab.Ranges("10.0.0.1:1025")
			_ = tab.AppendBinary(nil)
		}()
	}
	cur := tab
	for i := range 20 {
		cur = cur.WithoutAddr(fmt.Sprintf("10.0.0.%d:1025", i))
	}
	wg.Wait()
	require.Equal(t, 50, len(tab.Addresses()))
	require.Equal(t, 30, len(cur.Addresses()))
}

func TestShareDistribution(t *testing.T) {
	// With DefaultPoints per backend, shares of 100 backends stay near
	// the fair 1%: a sanity check of the DefaultPoints rationale.
	rng := rand.New(rand.NewPCG(11, 11))
	tab, err := New(randomBackends(rng, 100, 1, DefaultPoints, false))
	require.NoError(t, err)
	var lo, hi float64 = 1, 0
	for _, b := range tab.Backends() {
		s := tab.Share(b.Addr, b.ID, 1)
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	t.Logf("100 backends × %d points: shares from %.3f%% to %.3f%% (fair 1%%)", DefaultPoints, 100*lo, 100*hi)
	require.Greater(t, lo, 0.003)
	require.Less(t, hi, 0.025)
}

// TestIncrementalMatchesNew applies random announcements and drops and
// checks each result against a table built from scratch, down to the ring
// index (the incremental merge must give exactly what New gives).
func TestIncrementalMatchesNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	tab, err := New(nil)
	require.NoError(t, err)
	ties := false
	for step := range 300 {
		addr := fmt.Sprintf("n%d:1", rng.IntN(12))
		var next *Table
		if rng.IntN(4) == 0 {
			next = tab.WithoutAddr(addr)
			require.Equal(t, slices.Contains(tab.Addresses(), addr), next != tab, "step %d", step)
		} else {
			var bs []Backend
			for b := range rng.IntN(4) {
				be := Backend{Group: uint32(1 + rng.IntN(4)), ID: int32(b * 2), ReadOnly: rng.IntN(5) == 0}
				for range 1 + rng.IntN(6) {
					be.Points = append(be.Points, randomID(rng, ties))
				}
				if rng.IntN(20) == 0 { // a clash with a point already there
					if all := tab.Backends(); len(all) > 0 {
						o := all[rng.IntN(len(all))]
						be.Group, be.Points = o.Group, append(be.Points, o.Points[0])
					}
				}
				bs = append(bs, be)
			}
			next, err = tab.WithBackends(addr, bs)
			if err != nil {
				require.ErrorIs(t, err, ErrConflict, "step %d", step)
				continue
			}
		}
		// Rebuild from scratch and compare everything.
		requireBuiltAlike(t, next.Backends(), next, step)
		if next != tab {
			require.Equal(t, tab.Version()+1, next.Version(), "step %d", step)
		}
		tab = next
		ties = step%50 > 25
	}
	require.Greater(t, tab.Len(), 0)
}

func TestUpperBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for range 2000 {
		p := make([]uint64, rng.IntN(20))
		for i := range p {
			p[i] = uint64(rng.IntN(10))
		}
		slices.Sort(p)
		v := uint64(rng.IntN(12))
		want, _ := slices.BinarySearch(p, v+1)
		if v == math.MaxUint64 {
			want = len(p)
		}
		require.Equal(t, want, upperBound(p, v), "%v %d", p, v)
	}
}

// OwnerExcluding must agree with Owner of the table built without the
// excluded backend: the owner a key had before that backend joined.
func TestOwnerExcluding(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	bs := randomBackends(rng, 6, 2, 8, true)
	tab, err := New(bs)
	require.NoError(t, err)
	for i, ex := range bs {
		rest := append(slices.Clone(bs[:i]), bs[i+1:]...)
		without, err := New(rest)
		require.NoError(t, err)
		var keys []id.ID
		for _, p := range ex.Points {
			keys = append(keys, p, p.Prev(), p.Next())
		}
		for range 200 {
			keys = append(keys, randomID(rng, true))
		}
		keys = append(keys, id.Zero, id.Max)
		for _, k := range keys {
			for g := uint32(1); g <= 3; g++ {
				want, wok := without.Owner(k, g)
				got, gok := tab.OwnerExcluding(k, g, ex.Addr, ex.ID)
				require.Equal(t, wok, gok, "key %s group %d without %s", k, g, ex.Name())
				require.Equal(t, want.Name(), got.Name(), "key %s group %d without %s", k, g, ex.Name())
			}
		}
	}
	// The only backend of a group has no replacement.
	one, err := New([]Backend{{Addr: "127.0.0.1:1", ID: 0, Group: 5, Points: []id.ID{id.Zero}}})
	require.NoError(t, err)
	_, ok := one.OwnerExcluding(id.Max, 5, "127.0.0.1:1", 0)
	require.False(t, ok)
}

// Split's pieces tile the range in order, and every ID at a piece's edges
// belongs to the piece's owner.
func TestSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bs := randomBackends(rng, 5, 2, 6, true)
	tab, err := New(bs)
	require.NoError(t, err)
	var ends []id.ID
	for _, b := range bs {
		for _, p := range b.Points {
			ends = append(ends, p, p.Prev(), p.Next())
		}
	}
	for range 50 {
		ends = append(ends, randomID(rng, true))
	}
	ends = append(ends, id.Zero, id.Max)
	for range 300 {
		a, b := ends[rng.IntN(len(ends))], ends[rng.IntN(len(ends))]
		if b.Less(a) {
			a, b = b, a
		}
		for g := uint32(1); g <= 2; g++ {
			parts := tab.Split(a, b, g)
			require.NotEmpty(t, parts)
			require.Equal(t, a, parts[0].Start)
			require.Equal(t, b, parts[len(parts)-1].End)
			for i, p := range parts {
				require.False(t, p.End.Less(p.Start))
				if i > 0 {
					require.Equal(t, parts[i-1].End.Next(), p.Start)
					require.NotEqual(t, parts[i-1].Owner.Name(), p.Owner.Name())
				}
				for _, k := range []id.ID{p.Start, p.End} {
					o, _ := tab.Owner(k, g)
					require.Equal(t, o.Name(), p.Owner.Name(), "key %s group %d", k, g)
				}
			}
		}
	}
	require.Nil(t, tab.Split(id.Max, id.Zero, 1))
	require.Nil(t, tab.Split(id.Zero, id.Max, 9))
}
