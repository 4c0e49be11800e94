package main

import "testing"

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
	hot := 0
	for range 10000 {
		i := p()
		if i < 0 || i >= 10000 {
			t.Fatalf("key %d out of range", i)
		}
		if i < 10 {
			hot++
		}
	}
	// With s = 1.1 the 10 hottest of 10,000 keys take well over a third.
	if hot < 3000 {
		t.Errorf("10 hottest keys got %d of 10000 picks, want a skew", hot)
	}
	if _, err := NewPicker("pareto", 10, 1); err == nil {
		t.Error("unknown distribution accepted")
	}
	if _, err := NewPicker("uniform", 0, 1); err == nil {
		t.Error("empty key space accepted")
	}
}
