package main

import (
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
