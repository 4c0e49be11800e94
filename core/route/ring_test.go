package route

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/elliptics/elliptics/core/id"
	"github.com/stretchr/testify/require"
)

// ringPoint is one point of a ring as a table means it, whatever its
// chunks and slots.
type ringPoint struct {
	group  uint32
	point  id.ID
	holder string
}

func ringPoints(t *Table) []ringPoint {
	var out []ringPoint
	for ri := range t.rings {
		r := &t.rings[ri]
		for _, e := range r.all() {
			out = append(out, ringPoint{r.group, *t.point(e.ref), t.backendOf(e.ref).Name()})
		}
	}
	return out
}

// checkRings checks what lookups rely on: chunks indexed right, every point
// in order and of a backend in the table, slots and positions inverse.
func checkRings(tb testing.TB, t *Table) {
	tb.Helper()
	require.Len(tb, t.slots, len(t.backends))
	for i, s := range t.slots {
		require.Equal(tb, int32(i), t.index[s], "slot %d of backend %d", s, i)
	}
	live := 0
	for _, i := range t.index {
		if i >= 0 {
			live++
		}
	}
	require.Equal(tb, len(t.backends), live, "slots in use")
	total := 0
	for ri := range t.rings {
		r := &t.rings[ri]
		require.Len(tb, r.heads, len(r.chunks))
		require.Len(tb, r.starts, len(r.chunks))
		n := 0
		for c, ch := range r.chunks {
			require.NotEmpty(tb, ch, "group %d chunk %d", r.group, c)
			require.Equal(tb, ch[0].prefix, r.heads[c])
			require.Equal(tb, n, r.starts[c])
			n += len(ch)
		}
		require.Equal(tb, n, r.n)
		var prev *id.ID
		for i, e := range r.all() {
			require.GreaterOrEqual(tb, t.index[e.s], int32(0), "group %d point %d: freed slot %d", r.group, i, e.s)
			b := t.backendOf(e.ref)
			require.Equal(tb, r.group, b.Group)
			p := t.point(e.ref)
			require.Equal(tb, bigEndianPrefix(p), e.prefix)
			if prev != nil {
				require.Negative(tb, comparePoints(*prev, *p), "group %d point %d out of order", r.group, i)
			}
			require.Equal(tb, e, r.at(i))
			prev = p
		}
		total += n
	}
	require.Equal(tb, total, t.npoints)
}

func bigEndianPrefix(p *id.ID) uint64 {
	var v uint64
	for _, b := range p[:8] {
		v = v<<8 | uint64(b)
	}
	return v
}

// requireBuiltAlike checks that tab, made by updates, is the table New
// builds of bs: same backends, same rings point by point, and sound.
func requireBuiltAlike(t *testing.T, bs []Backend, tab *Table, step int) {
	t.Helper()
	want, err := New(bs)
	require.NoError(t, err, "step %d", step)
	checkRings(t, tab)
	require.True(t, want.Equal(tab), "step %d", step)
	require.Equal(t, ringPoints(want), ringPoints(tab), "step %d", step)
	require.Equal(t, want.NumPoints(), tab.NumPoints(), "step %d", step)
	if tab.Len() > 0 {
		checkCoverage(t, tab)
	}
}

// sharedChunks counts the chunks of b's rings that are a's own.
func sharedChunks(a, b *Table) (shared, total int) {
	mine := map[*entry]bool{}
	for ri := range a.rings {
		for _, ch := range a.rings[ri].chunks {
			mine[unsafe.SliceData(ch)] = true
		}
	}
	for ri := range b.rings {
		for _, ch := range b.rings[ri].chunks {
			total++
			if mine[unsafe.SliceData(ch)] {
				shared++
			}
		}
	}
	return shared, total
}

// Large tables take many chunks per ring: updates of every kind (joins,
// departures, new points, read-only flips, prefix ties, conflicts) must
// give the table a build from scratch gives, and share the chunks they do
// not touch.
func TestChunkedUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	nodes := map[string][]Backend{}
	tab, err := New(nil)
	require.NoError(t, err)
	ties := false
	for step := range 400 {
		changes := map[string][]Backend{}
		for range 1 + rng.IntN(3) {
			addr := fmt.Sprintf("n%d:1", rng.IntN(150))
			switch k := rng.IntN(10); {
			case k == 0:
				changes[addr] = nil
			case k == 1 && len(nodes[addr]) > 0: // only the flag changes
				bs := append([]Backend(nil), nodes[addr]...)
				bs[0].ReadOnly = !bs[0].ReadOnly
				changes[addr] = bs
			default:
				var bs []Backend
				for b := range 1 + rng.IntN(2) {
					be := Backend{Addr: addr, Group: uint32(1 + rng.IntN(2)), ID: int32(b)}
					for range 1 + rng.IntN(DefaultPoints) {
						be.Points = append(be.Points, randomID(rng, ties))
					}
					if rng.IntN(30) == 0 && tab.Len() > 0 { // a clash
						o := tab.Backends()[rng.IntN(tab.Len())]
						be.Group, be.Points = o.Group, append(be.Points, o.Points[rng.IntN(len(o.Points))])
					}
					bs = append(bs, be)
				}
				changes[addr] = bs
			}
		}
		next, err := tab.Update(changes)
		if err != nil {
			require.ErrorIs(t, err, ErrConflict, "step %d", step)
			continue
		}
		for addr, bs := range changes {
			nodes[addr] = bs
		}
		var all []Backend
		for _, bs := range nodes {
			all = append(all, bs...)
		}
		requireBuiltAlike(t, all, next, step)
		tab = next
		ties = step%100 > 70
	}
	require.Greater(t, tab.NumPoints(), 1000)
}

// A node joining a thousand-node table rewrites only the chunks its points
// land in.
func TestUpdateSharesUntouchedChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	bs := randomBackends(rng, 1000, 3, DefaultPoints, false)
	tab, err := NewShared(bs)
	require.NoError(t, err)
	next, err := tab.Update(map[string][]Backend{"10.9.9.9:1025": {{Group: 2, Points: bs[0].Points[:0:0]}}})
	require.Error(t, err) // no points: invalid
	require.Nil(t, next)

	pts, err := RandomPoints(DefaultPoints)
	require.NoError(t, err)
	next, err = tab.Update(map[string][]Backend{"10.9.9.9:1025": {{Group: 2, Points: pts}}})
	require.NoError(t, err)
	checkRings(t, next)
	shared, total := sharedChunks(tab, next)
	require.GreaterOrEqual(t, total-shared, 1)
	require.LessOrEqual(t, total-shared, 2*DefaultPoints, "%d of %d chunks rewritten", total-shared, total)

	gone := next.WithoutAddr("10.9.9.9:1025")
	checkRings(t, gone)
	require.Equal(t, ringPoints(tab), ringPoints(gone))
	shared, total = sharedChunks(next, gone)
	require.LessOrEqual(t, total-shared, 2*DefaultPoints, "%d of %d chunks rewritten", total-shared, total)
}
