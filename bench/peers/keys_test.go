package main

import (
	"math"
	"slices"
	"testing"
)

func TestPickerUniform(t *testing.T) {
	p, err := NewPicker("uniform", 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seen [10]int
	for range 10000 {
		i := p()
		if i < 0 || i >= 10 {
			t.Fatalf("key %d out of [0,10)", i)
		}
		seen[i]++
	}
	for i, c := range seen {
		if c < 800 || c > 1200 {
			t.Errorf("key %d picked %d times of 10000, want about 1000", i, c)
		}
	}
}

func TestPickerZipf(t *testing.T) {
	p, err := NewPicker("zipf", 10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n, picks = 10000, 100000
	counts := make([]int, n)
	hot := 0
	for range picks {
		i := p()
		if i < 0 || i >= n {
			t.Fatalf("key %d out of [0,%d)", i, n)
		}
		counts[i]++
		if i < 10 {
			hot++
		}
	}
	// Uniform picks would give each key picks/n = 10; the hottest key of
	// a Zipf with s = 1.1 gets about 15 % of them, and it is key 0.
	top := slices.Index(counts, slices.Max(counts))
	if top != 0 || counts[0] < 100*picks/n {
		t.Errorf("hottest key %d picked %d times of %d, want key 0 far above %d", top, counts[top], picks, picks/n)
	}
	// The report states zipfTopShare; the picker must match it.
	want := zipfTopShare(n)
	if share := float64(counts[0]) / picks; math.Abs(share-want) > 0.02 {
		t.Errorf("key 0 got %.3f of the picks, zipfTopShare says %.3f", share, want)
	}
	// With s = 1.1 the 10 hottest of 10,000 keys take well over a third.
	if hot < 3*picks/10 {
		t.Errorf("10 hottest keys got %d of %d picks, want a skew", hot, picks)
	}
	if _, err := NewPicker("pareto", 10, 1); err == nil {
		t.Error("unknown distribution accepted")
	}
	if _, err := NewPicker("uniform", 0, 1); err == nil {
		t.Error("empty key space accepted")
	}
}
