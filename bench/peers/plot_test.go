package main

import (
	"bytes"
	"errors"
	"image/png"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
)

func TestWritePlot(t *testing.T) {
	rows := []Row{
		{Workload: "put 1 KiB", System: "ours", Ours: true, OpsPerSec: 60000, P99: 2 * time.Millisecond},
		{Workload: "put 1 KiB", System: "redis", OpsPerSec: 80000, P99: 1500 * time.Microsecond},
		{Workload: "put 1 MiB", System: "ours", Ours: true, OpsPerSec: 1000, P99: 60 * time.Millisecond},
		{Workload: "put 1 MiB", System: "weed", OpsPerSec: 180, P99: 400 * time.Millisecond},
		{Workload: "put 1 MiB", System: "etcd", Skipped: "values over 1 MiB"},
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, rows); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	wantW, wantH := int(plotWidth/vg.Inch*plotDPI), int(plotHeight/vg.Inch*plotDPI)
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("PNG is %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	// The bars are drawn: the image is not just the white background and
	// black text, some pixel has the first system's colour.
	found := false
	c := palette[0]
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && !found; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(b>>8) == c.B {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no pixel of the first system's colour: the bars are missing")
	}
}

func TestWritePlotNothing(t *testing.T) {
	err := WritePlot(&bytes.Buffer{}, []Row{{Workload: "w", System: "s", Skipped: "no binary"}})
	if !errors.Is(err, errNothingToPlot) {
		t.Errorf("err = %v, want errNothingToPlot", err)
	}
}

func TestDecadeTicks(t *testing.T) {
	var labels []string
	for _, tk := range (decadeTicks{}).Ticks(100, 100000) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	want := []string{"100", "1k", "10k", "100k"}
	if len(labels) != len(want) {
		t.Fatalf("labels %v, want %v", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Errorf("labels %v, want %v", labels, want)
		}
	}
}

// Many cells widen the plot, a slot per workload, so that their
// multi-line labels do not overlap.
func TestWritePlotWidensForCells(t *testing.T) {
	var rows []Row
	for _, wl := range []string{"put 1 KiB", "get 1 KiB", "90/10 get/put 1 KiB"} {
		for _, cl := range cellsOf([]int{32, 128}, []string{"uniform", "zipf"}, small) {
			for _, sys := range []string{"ours", "redis"} {
				rows = append(rows, Row{Workload: rowName(wl, 1, cl), System: sys, OpsPerSec: 1000, P99: time.Millisecond})
			}
		}
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, rows); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	wantW := int((legendWidth + vg.Inch + 12*slotWidth) / vg.Inch * plotDPI)
	if got := img.Bounds().Dx(); got != wantW || got <= int(plotWidth/vg.Inch*plotDPI) {
		t.Errorf("PNG is %d wide for 12 workloads, want %d (wider than the default)", got, wantW)
	}
}
