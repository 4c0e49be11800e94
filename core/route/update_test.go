package route

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/elliptics/elliptics/core/id"
)

func randomNode(t *testing.T, addr string, group uint32) []Backend {
	pts, err := RandomPoints(DefaultPoints)
	if err != nil {
		t.Fatal(err)
	}
	return []Backend{{Addr: addr, Group: group, Points: pts}}
}

// Update must give the same table as building from scratch, whatever mix
// of joins, changes and departures it applies at once.
func TestUpdateMatchesNew(t *testing.T) {
	nodes := map[string][]Backend{}
	all := func() []Backend {
		var out []Backend
		for _, bs := range nodes {
			out = append(out, bs...)
		}
		return out
	}
	tb, _ := NewShared(nil)
	for round := range 50 {
		changes := map[string][]Backend{}
		for range rand.IntN(8) + 1 {
			addr := fmt.Sprintf("n%d:1", rand.IntN(40))
			switch {
			case rand.IntN(4) == 0:
				changes[addr] = nil
				delete(nodes, addr)
			default:
				bs := randomNode(t, addr, uint32(rand.IntN(3)+1))
				changes[addr] = bs
				nodes[addr] = bs
			}
		}
		nt, err := tb.Update(changes)
		if err != nil {
			t.Fatal(err)
		}
		want, err := NewShared(all())
		if err != nil {
			t.Fatal(err)
		}
		if !nt.Equal(want) || nt.NumPoints() != want.NumPoints() {
			t.Fatalf("round %d: %v, want %v", round, nt, want)
		}
		for range 200 {
			var key id.ID
			for i := range key {
				key[i] = byte(rand.IntN(256))
			}
			for g := uint32(1); g <= 3; g++ {
				a, aok := nt.Owner(key, g)
				b, bok := want.Owner(key, g)
				if aok != bok || a.Addr != b.Addr || a.ID != b.ID {
					t.Fatalf("round %d: owner of %s in group %d: %v, want %v", round, key.Short(), g, a.Name(), b.Name())
				}
			}
		}
		tb = nt
	}
	if same, _ := tb.Update(map[string][]Backend{"n999:1": nil}); same != tb {
		t.Error("an update that changes nothing returns another table")
	}
}

func TestUpdateConflict(t *testing.T) {
	a := randomNode(t, "a:1", 1)
	tb, err := NewShared(a)
	if err != nil {
		t.Fatal(err)
	}
	b := []Backend{{Addr: "b:1", Group: 1, Points: a[0].Points[:1]}}
	if _, err := tb.Update(map[string][]Backend{"b:1": b}); err == nil {
		t.Fatal("a shared point was accepted")
	}
	// Two nodes joining at once with the same point, in a table of many
	// chunks.
	var bs []Backend
	for i := range 300 {
		bs = append(bs, randomNode(t, fmt.Sprintf("n%d:1", i), 1)...)
	}
	if tb, err = NewShared(bs); err != nil {
		t.Fatal(err)
	}
	c := randomNode(t, "c:1", 1)
	d := randomNode(t, "d:1", 1)
	d[0].Points = append(d[0].Points[1:], c[0].Points[0])
	if _, err := tb.Update(map[string][]Backend{"c:1": c, "d:1": d}); !errors.Is(err, ErrConflict) {
		t.Fatalf("two joiners sharing a point: %v, want a conflict", err)
	}
}

func BenchmarkUpdateOneOfThousand(b *testing.B) {
	var bs []Backend
	t := &testing.T{}
	for i := range 1000 {
		bs = append(bs, randomNode(t, fmt.Sprintf("node%d:1025", i), uint32(i%3+1))...)
	}
	tb, _ := NewShared(bs)
	nb := randomNode(t, "node1000:1025", 1)
	b.ResetTimer()
	for range b.N {
		if _, err := tb.Update(map[string][]Backend{"node1000:1025": nb}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewSharedThousand(b *testing.B) {
	var bs []Backend
	t := &testing.T{}
	for i := range 1001 {
		bs = append(bs, randomNode(t, fmt.Sprintf("node%d:1025", i), uint32(i%3+1))...)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := NewShared(bs); err != nil {
			b.Fatal(err)
		}
	}
}

// Points sharing their first 8 bytes still sort by the whole point.
func TestSortEntriesTies(t *testing.T) {
	var pts []id.ID
	for i := range 5 {
		var p id.ID
		p[0] = 7
		p[63] = byte(5 - i)
		pts = append(pts, p)
	}
	tb, err := NewShared([]Backend{{Addr: "a:1", Group: 1, Points: pts[:3]}})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := tb.Update(map[string][]Backend{"b:1": {{Group: 1, Points: pts[3:]}}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewShared([]Backend{{Addr: "a:1", Group: 1, Points: pts[:3]}, {Addr: "b:1", Group: 1, Points: pts[3:]}})
	for _, p := range pts {
		a, _ := nt.Owner(p, 1)
		b, _ := want.Owner(p, 1)
		if a.Addr != b.Addr {
			t.Fatalf("owner of %s: %s, want %s", p.Short(), a.Addr, b.Addr)
		}
	}
}
