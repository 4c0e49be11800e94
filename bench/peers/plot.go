package main

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the PNG WritePlot draws: at least 16 × 9 inches at plotDPI,
// wider when the workloads need more than slotWidth each.
const (
	plotWidth  = 16 * vg.Inch
	slotWidth  = 1.25 * vg.Inch
	plotHeight = 9 * vg.Inch
	plotDPI    = 96
	// legendWidth is the strip on the right that holds the systems'
	// legend, so that it never covers a bar.
	legendWidth = 4 * vg.Inch
)

// errNothingToPlot is returned when no row has a measured figure.
var errNothingToPlot = errors.New("no measured rows to plot")

// palette has one colour per system (Tableau 10: distinct in print and for
// the common colour blindnesses), reused past ten systems.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// WritePlot draws rows as a PNG of plotWidth × plotHeight at plotDPI: on
// top grouped bars of ops/s per workload, one bar per system, below them
// the p99 latency likewise, both on log scales (the systems span three
// orders of magnitude), the legend on the right.
func WritePlot(w io.Writer, rows []Row) error {
	workloads, systems := axesOf(rows)
	if len(workloads) == 0 {
		return errNothingToPlot
	}
	ops := make([][]float64, len(systems)) // [system][workload]
	p99 := make([][]float64, len(systems))
	for i := range systems {
		ops[i] = make([]float64, len(workloads))
		p99[i] = make([]float64, len(workloads))
	}
	for _, r := range rows {
		if r.Skipped != "" || r.OpsPerSec <= 0 {
			continue
		}
		s, wl := index(systems, r.System), index(workloads, r.Workload)
		ops[s][wl] = r.OpsPerSec
		p99[s][wl] = float64(r.P99) / 1e6 // ms
	}
	// A workload's label takes a line per part of its name, and its slot
	// no less than slotWidth, so that the labels of the cells (client
	// counts, key distributions) never run into each other.
	labels := make([]string, len(workloads))
	for i, w := range workloads {
		labels[i] = strings.ReplaceAll(w, ", ", "\n")
	}
	width := max(plotWidth, legendWidth+vg.Inch+slotWidth*vg.Length(len(workloads)))
	// Each bar is as wide as the plot area allows: 80 % of a workload's
	// slot shared by the systems.
	barWidth := (width - legendWidth - vg.Inch) * 0.8 / vg.Length(len(workloads)*len(systems))
	top, bars, err := barPanel("ops/s", labels, ops, barWidth)
	if err != nil {
		return err
	}
	bottom, _, err := barPanel("p99 latency, ms", labels, p99, barWidth)
	if err != nil {
		return err
	}
	top.Title.Text = "ops/s (higher is better) and p99 latency (lower is better) per workload"

	img := vgimg.NewWith(vgimg.UseWH(width, plotHeight), vgimg.UseDPI(plotDPI),
		vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	plots := dc
	plots.Max.X -= legendWidth
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadY: vg.Points(12)}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, plots)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])

	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.YOffs = -vg.Points(40)
	leg.Padding = vg.Points(4)
	for i, s := range systems {
		leg.Add(s, bars[i])
	}
	lc := dc
	lc.Min.X = plots.Max.X + vg.Points(8)
	leg.Draw(lc)

	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// barPanel returns a plot of values[system][workload] as grouped bars on a
// log Y axis labelled label, and the bars of each system (for the legend).
// A zero value (not measured) has no bar.
func barPanel(label string, workloads []string, values [][]float64, width vg.Length) (*plot.Plot, []*plotter.BarChart, error) {
	lo, hi := math.Inf(1), 0.0
	for _, vs := range values {
		for _, v := range vs {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	// Whole decades around the data, so that bars of a log axis start at
	// the bottom edge.
	floor := math.Pow10(int(math.Floor(math.Log10(lo))))
	ceil := math.Pow10(int(math.Ceil(math.Log10(hi))))
	if ceil <= floor {
		ceil = floor * 10
	}

	p := plot.New()
	p.Y.Label.Text = label
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = decadeTicks{}
	p.Y.Min, p.Y.Max = floor, ceil
	p.NominalX(workloads...)
	// Half a slot on either side, so the outer groups are whole.
	p.X.Min, p.X.Max = -0.5, float64(len(workloads))-0.5
	p.Add(plotter.NewGrid())

	// A log axis has no zero: the bars stand on an invisible base at the
	// bottom decade, and carry what is above it.
	baseVals := make(plotter.Values, len(workloads))
	for i := range baseVals {
		baseVals[i] = floor
	}
	base, err := plotter.NewBarChart(baseVals, width)
	if err != nil {
		return nil, nil, fmt.Errorf("plot %s: %w", label, err)
	}
	bars := make([]*plotter.BarChart, len(values))
	for s, vs := range values {
		heights := make(plotter.Values, len(vs))
		for i, v := range vs {
			if v > floor {
				heights[i] = v - floor
			}
		}
		b, err := plotter.NewBarChart(heights, width)
		if err != nil {
			return nil, nil, fmt.Errorf("plot %s: %w", label, err)
		}
		b.StackOn(base)
		b.Color = palette[s%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = (vg.Length(s) - vg.Length(len(values)-1)/2) * width
		bars[s] = b
		p.Add(b)
	}
	return p, bars, nil
}

// decadeTicks labels the decades of a log axis as 1, 10, 100, 1k, ...
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for v := math.Pow10(int(math.Floor(math.Log10(lo)))); v <= hi*1.0001; v *= 10 {
		ticks = append(ticks, plot.Tick{Value: v, Label: shortNumber(v)})
		for i := 2; i < 10 && v*float64(i) < hi; i++ {
			ticks = append(ticks, plot.Tick{Value: v * float64(i)})
		}
	}
	return ticks
}

// shortNumber formats a decade: 0.1, 1, 10, 1k, 10k, 1M.
func shortNumber(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// axesOf returns the workloads and the systems of rows in order of first
// appearance.
func axesOf(rows []Row) (workloads, systems []string) {
	for _, r := range rows {
		if r.Skipped != "" || r.OpsPerSec <= 0 {
			continue
		}
		if index(workloads, r.Workload) < 0 {
			workloads = append(workloads, r.Workload)
		}
		if index(systems, r.System) < 0 {
			systems = append(systems, r.System)
		}
	}
	return workloads, systems
}

func index(s []string, x string) int {
	for i, y := range s {
		if y == x {
			return i
		}
	}
	return -1
}
