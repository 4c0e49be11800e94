package stats

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/recovery"
)

func gather(t *testing.T, snap *Snapshot) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(NewCollector(func(c uint64) *Snapshot {
		require.Zero(t, c&CategoryTop, "a scrape never asks for top keys")
		return snap
	})))
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// metric finds the metric of a family whose labels include labels.
func metric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	require.NotNil(t, f, name)
next:
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s%v not found", name, labels)
	return nil
}

func TestCollector(t *testing.T) {
	var c Commands
	c.Record(4, Storage, 3*time.Microsecond, 100, false)
	c.Record(4, Storage, 3*time.Millisecond, 100, true)
	c.Record(4, Proxy, time.Second, 10, false)
	snap := &Snapshot{Categories: metricCategories, Commands: map[string]CommandStats{}}
	for _, cs := range c.Snapshot() {
		snap.Commands["WRITE"] = cs
	}
	removed := uint64(7)
	snap.Backends = map[string]BackendStats{
		"0": {BackendID: 0, Group: 1, State: "enabled", Objects: 5, Bytes: 50, RemovedBytes: &removed,
			Defrag: &DefragInfo{State: "running"}, Disk: &DiskStats{TotalBytes: 100, FreeBytes: 40}},
		"1": {BackendID: 1, Group: 2, State: "disabled", Objects: 99},
	}
	snap.IO = &IOStats{Peers: 2, Clients: 3, Queued: 4, OutQueued: 5}
	snap.Stats = &NodeStats{UptimeS: 5, Forwards: 1}
	snap.Procfs = &ProcStats{LoadAvg: []float64{1, 2, 3}}
	snap.Recovery = &RecoveryStats{Jobs: []recovery.Status{
		{State: recovery.Running, Scanned: 10, Total: 20, Spec: recovery.Spec{Kind: recovery.Merge}},
		{State: recovery.Done, Scanned: 5, Spec: recovery.Spec{Kind: recovery.Merge}}}}
	fams := gather(t, snap)

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"elliptics_requests_total", map[string]string{"cmd": "WRITE", "source": "storage", "status": "ok"}, 1},
		{"elliptics_requests_total", map[string]string{"cmd": "WRITE", "source": "storage", "status": "error"}, 1},
		{"elliptics_requests_total", map[string]string{"cmd": "WRITE", "source": "proxy", "status": "ok"}, 1},
		{"elliptics_request_bytes_total", map[string]string{"cmd": "WRITE", "source": "storage"}, 200},
		{"elliptics_forwards_total", nil, 1},
	} {
		require.Equal(t, tc.want, metric(t, fams, tc.name, tc.labels).GetCounter().GetValue(), "%s %v", tc.name, tc.labels)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"elliptics_backend_objects", map[string]string{"backend": "0", "group": "1"}, 5},
		{"elliptics_backend_removed_bytes", map[string]string{"backend": "0"}, 7},
		{"elliptics_backend_enabled", map[string]string{"backend": "1"}, 0},
		{"elliptics_backend_defrag_running", map[string]string{"backend": "0"}, 1},
		{"elliptics_backend_fs_avail_bytes", map[string]string{"backend": "0"}, 40},
		{"elliptics_connections", map[string]string{"kind": "peer"}, 2},
		{"elliptics_send_queue_frames", map[string]string{"conn": "outgoing"}, 5},
		{"elliptics_load_average", map[string]string{"period": "15m"}, 3},
		{"elliptics_recovery_jobs", map[string]string{"kind": "merge", "state": "running"}, 1},
		{"elliptics_recovery_scanned_records", nil, 10},
	} {
		require.Equal(t, tc.want, metric(t, fams, tc.name, tc.labels).GetGauge().GetValue(), "%s %v", tc.name, tc.labels)
	}
	require.Len(t, fams["elliptics_backend_objects"].GetMetric(), 1, "a disabled backend has no figures")

	// The histogram is cumulative, in seconds.
	h := metric(t, fams, "elliptics_request_duration_seconds", map[string]string{"source": "storage"}).GetHistogram()
	require.Equal(t, uint64(2), h.GetSampleCount())
	require.InDelta(t, 0.003003, h.GetSampleSum(), 1e-6)
	var prev uint64
	for _, b := range h.GetBucket() {
		require.GreaterOrEqual(t, b.GetCumulativeCount(), prev)
		prev = b.GetCumulativeCount()
		if b.GetUpperBound() == 4e-6 {
			require.Equal(t, uint64(1), b.GetCumulativeCount(), "3 µs is under 4 µs")
		}
	}
	require.Equal(t, uint64(2), prev)
}

func TestCollectorEmpty(t *testing.T) {
	require.Empty(t, gather(t, &Snapshot{}))
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(NewCollector(func(uint64) *Snapshot { return nil })))
	_, err := reg.Gather()
	require.NoError(t, err)
}
