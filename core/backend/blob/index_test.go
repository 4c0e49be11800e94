package blob

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestSlotSize(t *testing.T) {
	require.Equal(t, uintptr(12), unsafe.Sizeof(slot{}))
}

func TestLocationPack(t *testing.T) {
	for _, l := range []location{{0, 0}, {1, 8}, {65535, MaxFileSize - recordAlign}, {7, 1 << 30}} {
		require.Equal(t, l, unpack(l.pack()))
		s := makeSlot(fingerprint(^uint64(0)), l)
		require.Equal(t, l, s.location())
		require.False(t, s.empty())
	}
	require.True(t, slot{}.empty())
	require.Equal(t, uint64(1), fingerprint(0), "fingerprint is never zero")
}

// TestIndexModel checks the table against a map through random inserts,
// replaces and removes, including forced fingerprint collisions.
func TestIndexModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := newIndex(0)
	type key struct{ h uint64 }
	model := map[uint64]location{}
	var hashes []uint64
	nextLoc := uint64(0)
	newLoc := func() location {
		nextLoc += recordAlign
		return location{file: uint16(nextLoc % 7), off: nextLoc}
	}
	lookup := func(h uint64) (location, bool) {
		var found []location
		ix.candidates(h, func(l location) bool { found = append(found, l); return false })
		want, ok := model[h]
		for _, l := range found {
			if ok && l == want {
				return l, true
			}
		}
		return location{}, false
	}
	for i := 0; i < 200000; i++ {
		switch op := r.IntN(10); {
		case op < 5 || len(hashes) == 0:
			h := r.Uint64()
			if i%50 == 0 && len(hashes) > 0 {
				// Same fingerprint as an existing key, different low bits.
				h = hashes[r.IntN(len(hashes))]&^0xffffff | uint64(r.IntN(1<<24))
			}
			if _, dup := model[h]; dup {
				continue
			}
			l := newLoc()
			ix.insert(h, l)
			model[h] = l
			hashes = append(hashes, h)
		case op < 8:
			h := hashes[r.IntN(len(hashes))]
			old, ok := model[h]
			if !ok {
				continue
			}
			l := newLoc()
			require.True(t, ix.replace(h, old, l))
			model[h] = l
		default:
			j := r.IntN(len(hashes))
			h := hashes[j]
			old, ok := model[h]
			if !ok {
				continue
			}
			require.True(t, ix.remove(h, old))
			require.False(t, ix.remove(h, old))
			delete(model, h)
		}
	}
	require.Equal(t, len(model), ix.live)
	for h, want := range model {
		got, ok := lookup(h)
		require.True(t, ok)
		require.Equal(t, want, got)
	}
	n := 0
	ix.each(func(location) { n++ })
	require.Equal(t, len(model), n)
	_ = key{}
}

func TestIndexMemoryPerObject(t *testing.T) {
	const n = 1_000_000
	ix := newIndex(0)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < n; i++ {
		ix.insert(r.Uint64(), location{off: uint64(i) * recordAlign})
	}
	perObject := float64(ix.memory()) / n
	t.Logf("index: %d slots for %d objects, %.2f bytes/object", len(ix.slots), n, perObject)
	require.LessOrEqual(t, perObject, 16.0)
}

func BenchmarkIndexInsert(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	ix := newIndex(b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix.insert(r.Uint64(), location{off: uint64(i) * recordAlign})
	}
}

// BenchmarkIndexInsertGrowing starts from an empty table, as a backend
// does when it is not told how many objects to expect.
func BenchmarkIndexInsertGrowing(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	ix := newIndex(0)
	for i := 0; i < b.N; i++ {
		ix.insert(r.Uint64(), location{off: uint64(i) * recordAlign})
	}
}

// checkTable fails unless ix is a valid Robin Hood table: no entry is
// farther from its home than the entry before it plus one, and an entry
// after an empty slot is at its home.
func checkTable(t *testing.T, ix *index) {
	t.Helper()
	n := len(ix.slots)
	for p := 0; p < n; p++ {
		q := p + 1
		if q == n {
			q = 0
		}
		s, next := ix.slots[p], ix.slots[q]
		if next.empty() {
			continue
		}
		prev := -1
		if !s.empty() {
			prev = ix.dib(p, s)
		}
		require.LessOrEqual(t, ix.dib(q, next), prev+1, "slot %d of %d", q, n)
	}
}

// Resizes lay the entries out in one pass when they are in fingerprint
// order, and fall back to inserting one by one when they are not (tables
// from snapshots of older versions); either way the table stays valid and
// every entry findable, including clusters that wrap around the end.
func TestIndexResize(t *testing.T) {
	for _, shuffleTies := range []bool{false, true} {
		r := rand.New(rand.NewPCG(7, 8))
		ix := newIndex(0)
		want := map[uint64]location{}
		for i := 0; i < 20000; i++ {
			h := r.Uint64()
			if i%3 == 0 {
				h |= 0xfff0 << 48 // crowd the end of the table, so clusters wrap
			}
			if _, dup := want[h]; dup {
				continue
			}
			l := location{off: uint64(i) * recordAlign}
			ix.insert(h, l)
			want[h] = l
			if shuffleTies && i%100 == 0 {
				// Swap neighbours with the same home, as the textbook
				// insert may leave them.
				n := len(ix.slots)
				for p := 0; p+1 < n; p++ {
					a, b := ix.slots[p], ix.slots[p+1]
					if !a.empty() && !b.empty() && home(a.fp(), n) == home(b.fp(), n) {
						ix.slots[p], ix.slots[p+1] = b, a
					}
				}
			}
		}
		checkTable(t, ix)
		ix.resize(len(ix.slots) * 3)
		checkTable(t, ix)
		for h, l := range want {
			found := false
			ix.candidates(h, func(c location) bool { found = c == l; return found })
			require.True(t, found, "entry %x (shuffled ties %v)", h, shuffleTies)
		}
	}
}
