package main

import (
	"errors"
	"slices"
	"testing"
)

func TestParseClients(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"32", []int{32}},
		{"32,128", []int{32, 128}},
		{" 128 , 32 ", []int{128, 32}},
		{"", nil},
		{"32,", nil},
		{"0", nil},
		{"-4", nil},
		{"2000", nil},
		{"32,32", nil},
		{"many", nil},
	} {
		got, err := parseClients(c.in)
		if c.want == nil {
			if !errors.Is(err, errBadList) {
				t.Errorf("parseClients(%q) = %v, %v; want errBadList", c.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseClients(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseKeys(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"uniform", []string{"uniform"}},
		{"uniform,zipf", []string{"uniform", "zipf"}},
		{"zipf, uniform", []string{"zipf", "uniform"}},
		{"", nil},
		{"pareto", nil},
		{"zipf,zipf", nil},
		{"10000", nil}, // the key count is -nkeys
	} {
		got, err := parseKeys(c.in)
		if c.want == nil {
			if !errors.Is(err, errBadList) {
				t.Errorf("parseKeys(%q) = %v, %v; want errBadList", c.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseKeys(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestCellsOf(t *testing.T) {
	clients, keys := []int{32, 128}, []string{"uniform", "zipf"}
	want := []cell{{32, "uniform"}, {32, "zipf"}, {128, "uniform"}, {128, "zipf"}}
	if got := cellsOf(clients, keys, small); !slices.Equal(got, want) {
		t.Errorf("1 KiB cells %v, want %v", got, want)
	}
	if got := cellsOf(clients, keys, big); !slices.Equal(got, []cell{{32, "uniform"}}) {
		t.Errorf("1 MiB cells %v, want only the first client count and distribution", got)
	}
}

func TestRowName(t *testing.T) {
	for _, c := range []struct {
		wl       string
		replicas int
		cl       cell
		want     string
	}{
		{"put 1 KiB", 1, cell{32, "uniform"}, "put 1 KiB, 32 clients, uniform keys"},
		{"90/10 get/put 1 KiB", 1, cell{128, "zipf"}, "90/10 get/put 1 KiB, 128 clients, zipf keys"},
		{"put 1 KiB", 3, cell{128, "zipf"}, "put 1 KiB, 3 replicas, 128 clients, zipf keys"},
	} {
		if got := rowName(c.wl, c.replicas, c.cl); got != c.want {
			t.Errorf("rowName(%q, %d, %v) = %q, want %q", c.wl, c.replicas, c.cl, got, c.want)
		}
	}
	// Every cell of a workload gets its own row, so the rounds' merge
	// (by system and row name) never mixes two cells.
	seen := map[string]bool{}
	for _, cl := range cellsOf([]int{32, 128}, []string{"uniform", "zipf"}, small) {
		n := rowName("get 1 KiB", 1, cl)
		if seen[n] {
			t.Errorf("two cells named %q", n)
		}
		seen[n] = true
	}
}
