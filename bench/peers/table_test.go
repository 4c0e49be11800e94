package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRatioMatchesDurability(t *testing.T) {
	rows := []Row{
		{Workload: "put 1 KiB", System: "ours always", Durability: "fsync", Ours: true, OpsPerSec: 2000},
		{Workload: "put 1 KiB", System: "ours none", Durability: "none", Ours: true, OpsPerSec: 30000},
		{Workload: "put 1 KiB", System: "redis always", Durability: "fsync", OpsPerSec: 4000},
		{Workload: "put 1 KiB", System: "redis everysec", Durability: "none", OpsPerSec: 60000},
		{Workload: "get 1 KiB", System: "redis everysec", Durability: "none", OpsPerSec: 50000},
	}
	cases := []struct {
		i    int
		want float64
		ok   bool
	}{{0, 0, false}, {1, 0, false}, {2, 0.5, true}, {3, 0.5, true}, {4, 0, false}}
	for _, c := range cases {
		got, ok := Ratio(rows, rows[c.i])
		if ok != c.ok || got != c.want {
			t.Errorf("row %d: ratio %v %v, want %v %v", c.i, got, ok, c.want, c.ok)
		}
	}
}

func TestTable(t *testing.T) {
	rows := []Row{
		{Workload: "put 1 MiB", System: "ours none", Durability: "none", Ours: true, ValueSize: 1 << 20, OpsPerSec: 500,
			P50: 50 * time.Millisecond, P99: 90 * time.Millisecond, P999: 120 * time.Millisecond, RawOpsPerSec: 2000},
		{Workload: "put 1 MiB", System: "SeaweedFS", Durability: "none", ValueSize: 1 << 20, OpsPerSec: 250, Errors: 3,
			P50: 95500 * time.Microsecond, CPUPerOp: 42 * time.Microsecond},
		{Workload: "put 1 MiB", System: "etcd", Durability: "fsync", Skipped: "values over 1 MiB"},
	}
	got := Table(rows)
	for _, want := range []string{
		"| put 1 MiB | **ours none** | none | 500 | 524.3 | 50000 | 90000 | 120000 | - | 25 % |  |",
		"| put 1 MiB | SeaweedFS | none | 250 (3 errors) | 262.1 | 95500 | - | - | 42.0 | - | 2.00 |",
		"| put 1 MiB | etcd | fsync | skipped: values over 1 MiB |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if h := human(1 << 30); h != "1 GiB" {
		t.Errorf("human(1<<30) = %q", h)
	}
}

func TestMergeRounds(t *testing.T) {
	ms := time.Millisecond
	errBoom := errors.New("boom")
	cases := []struct {
		name          string
		rounds        []Row
		ops, min, max float64
		p99           time.Duration
		errors        uint64
		firstErr      error
	}{
		{"one", []Row{{OpsPerSec: 100, P99: ms}}, 100, 100, 100, ms, 0, nil},
		{"odd", []Row{{OpsPerSec: 300, P99: 3 * ms}, {OpsPerSec: 100, P99: 9 * ms, Errors: 2, FirstErr: errBoom}, {OpsPerSec: 200, P99: 1 * ms, Errors: 1}},
			200, 100, 300, 3 * ms, 3, errBoom},
		{"even", []Row{{OpsPerSec: 400, P99: 2 * ms}, {OpsPerSec: 100, P99: 4 * ms}, {OpsPerSec: 200}, {OpsPerSec: 300, P99: 8 * ms}},
			250, 100, 400, 3 * ms, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := MergeRounds(c.rounds)
			if r.OpsPerSec != c.ops || r.OpsMin != c.min || r.OpsMax != c.max || r.P99 != c.p99 ||
				r.Errors != c.errors || r.FirstErr != c.firstErr || r.Rounds != len(c.rounds) {
				t.Errorf("got ops %v [%v, %v] p99 %v errors %d %v rounds %d, want %v [%v, %v] %v %d %v %d",
					r.OpsPerSec, r.OpsMin, r.OpsMax, r.P99, r.Errors, r.FirstErr, r.Rounds,
					c.ops, c.min, c.max, c.p99, c.errors, c.firstErr, len(c.rounds))
			}
		})
	}
}

func TestTableSpread(t *testing.T) {
	rows := []Row{
		MergeRounds([]Row{
			{Workload: "get 1 KiB", System: "ours", Durability: "none", Ours: true, ValueSize: 1 << 10, OpsPerSec: 900},
			{Workload: "get 1 KiB", System: "ours", Durability: "none", Ours: true, ValueSize: 1 << 10, OpsPerSec: 1000},
			{Workload: "get 1 KiB", System: "ours", Durability: "none", Ours: true, ValueSize: 1 << 10, OpsPerSec: 1200},
		}),
	}
	got := Table(rows)
	for _, want := range []string{"| ops/s (median) | min–max |", "| get 1 KiB | **ours** | none | 1000 | 900–1200 | 1.0 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(Table([]Row{{Workload: "w", System: "s", OpsPerSec: 1}}), "min–max") {
		t.Error("a single-round table has a min–max column")
	}
}
