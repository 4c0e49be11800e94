package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/stats"
)

// startMonitored starts a node with a blob backend and its monitor's
// HTTP port, and a session on it.
func startMonitored(t *testing.T) (*server.Server, *client.Session) {
	t.Helper()
	b, err := blob.Open(t.TempDir(), blob.Options{Sync: blob.SyncNone})
	require.NoError(t, err)
	srv, err := server.New(server.Options{
		Listen:   []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: b}},
		Monitor:  server.MonitorOptions{HTTPAddr: "127.0.0.1:0", Version: "test"},
	})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	n := client.NewNode(client.Config{})
	t.Cleanup(func() { n.Close() })
	require.NoError(t, n.AddRemotes(context.Background(), srv.Addrs()[0].String()))
	s := client.NewSession(n)
	s.SetGroups(1)
	return srv, s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// scrape reads /metrics into metric families.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code, body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	return fams
}

// value finds the metric of a family whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f, ok := fams[name]
	if !ok {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

func counterOf(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m, ok := value(fams, name, labels)
	if !ok {
		return 0
	}
	return m.GetCounter().GetValue()
}

// The node serves Prometheus metrics on its monitor port, and they move
// with the traffic: requests, bytes, latency histogram, backend figures.
func TestMetricsEndpoint(t *testing.T) {
	ctx := context.Background()
	srv, sess := startMonitored(t)
	require.NotNil(t, srv.HTTPAddr())
	base := "http://" + srv.HTTPAddr().String()

	before := scrape(t, base)
	writeOK := map[string]string{"cmd": "WRITE", "source": "storage", "status": "ok"}
	require.Zero(t, counterOf(before, "elliptics_requests_total", writeOK))
	objs, ok := value(before, "elliptics_backend_objects", map[string]string{"backend": "0", "group": "1"})
	require.True(t, ok, "backend figures are exported")
	require.Zero(t, objs.GetGauge().GetValue())

	const n = 20
	for i := range n {
		_, err := sess.Write(ctx, client.NewKey(fmt.Sprintf("metric-%d", i)), []byte("0123456789"))
		require.NoError(t, err)
	}
	for i := range n / 2 {
		_, err := sess.Read(ctx, client.NewKey(fmt.Sprintf("metric-%d", i)), 0, 0)
		require.NoError(t, err)
	}
	_, err := sess.Read(ctx, client.NewKey("no such key"), 0, 0)
	require.Error(t, err)

	after := scrape(t, base)
	require.Equal(t, float64(n), counterOf(after, "elliptics_requests_total", writeOK))
	require.Equal(t, float64(n/2), counterOf(after, "elliptics_requests_total",
		map[string]string{"cmd": "READ", "source": "storage", "status": "ok"}))
	require.Equal(t, float64(1), counterOf(after, "elliptics_requests_total",
		map[string]string{"cmd": "READ", "source": "storage", "status": "error"}))
	require.GreaterOrEqual(t, counterOf(after, "elliptics_request_bytes_total",
		map[string]string{"cmd": "WRITE", "source": "storage"}), float64(n*10))
	h, ok := value(after, "elliptics_request_duration_seconds", map[string]string{"cmd": "WRITE", "source": "storage"})
	require.True(t, ok)
	require.Equal(t, uint64(n), h.GetHistogram().GetSampleCount())
	require.Positive(t, h.GetHistogram().GetSampleSum())
	objs, _ = value(after, "elliptics_backend_objects", map[string]string{"backend": "0"})
	require.Equal(t, float64(n), objs.GetGauge().GetValue())
	for _, name := range []string{"elliptics_backend_data_files", "elliptics_backend_index_bytes",
		"elliptics_backend_fs_avail_bytes", "elliptics_connections", "elliptics_uptime_seconds", "go_goroutines"} {
		require.Contains(t, after, name)
	}

	// A stream's intermediate replies count in its bytes.
	entries, err := sess.ReadRange(ctx, client.Range{Start: id.ID{}, End: id.Max})
	require.NoError(t, err)
	require.Len(t, entries, n)
	rr := scrape(t, base)
	require.GreaterOrEqual(t, counterOf(rr, "elliptics_request_bytes_total", map[string]string{"cmd": "READ_RANGE", "source": "storage"}),
		float64(n*10), "the records' data came in intermediate replies")

	// The same statistics as JSON, by category.
	code, body := get(t, base+"/commands")
	require.Equal(t, http.StatusOK, code, body)
	var snap stats.Snapshot
	require.NoError(t, json.Unmarshal([]byte(body), &snap))
	require.Equal(t, stats.CategoryCommands, snap.Categories)
	require.Equal(t, uint64(n), snap.Commands["WRITE"].Storage.Count)
	require.Nil(t, snap.Backends)

	code, body = get(t, base+"/?categories=backend,top")
	require.Equal(t, http.StatusOK, code, body)
	snap = stats.Snapshot{}
	require.NoError(t, json.Unmarshal([]byte(body), &snap))
	require.Equal(t, "blob", snap.Backends["0"].Type)
	require.NotNil(t, snap.Backends["0"].DataFiles)
	require.NotNil(t, snap.Backends["0"].Disk)
	require.NotNil(t, snap.Backends["0"].Defrag)
	require.Len(t, snap.Top.Requests, n, "20 keys written, 10 read: all listed")
	require.Equal(t, uint64(2), snap.Top.Requests[0].Requests, "a key written and read comes first")
	require.Nil(t, snap.Commands)

	code, _ = get(t, base+"/nope")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = get(t, base+"/?categories=nope")
	require.Equal(t, http.StatusBadRequest, code)
	code, body = get(t, base+"/all")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"procfs"`)
	code, body = get(t, base+"/list")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"recovery"`)
}

// A taken monitor port fails Start, which leaves nothing listening.
func TestMetricsPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	srv, err := server.New(server.Options{
		Listen:   []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}},
		Monitor:  server.MonitorOptions{HTTPAddr: ln.Addr().String()},
	})
	require.NoError(t, err)
	err = srv.Start()
	require.ErrorContains(t, err, "monitor")
	require.Empty(t, srv.Addrs())
	require.Nil(t, srv.HTTPAddr())
}

// The monitor port serves Go's profiler only with Monitor.Pprof: a CPU
// profile of a running node then comes back as a gzipped protobuf.
func TestMonitorPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("pprof=", on), func(t *testing.T) {
			srv, err := server.New(server.Options{
				Listen:   []string{"127.0.0.1:0"},
				Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}},
				Monitor:  server.MonitorOptions{HTTPAddr: "127.0.0.1:0", Pprof: on},
			})
			require.NoError(t, err)
			require.NoError(t, srv.Start())
			t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			base := "http://" + srv.HTTPAddr().String()

			res, err := http.Get(base + "/debug/pprof/profile?seconds=1")
			require.NoError(t, err)
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			if !on {
				require.NotEqual(t, http.StatusOK, res.StatusCode, "profile served without Pprof")
				return
			}
			require.Equal(t, http.StatusOK, res.StatusCode, string(body))
			require.True(t, len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b, "a profile is gzipped")
		})
	}
}

// A node with a monitor port shuts down without logging an error about it
// (the listener used to be closed under the running server).
func TestMonitorShutdownQuiet(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	srv, err := server.New(server.Options{
		Listen:   []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}},
		Monitor:  server.MonitorOptions{HTTPAddr: "127.0.0.1:0"},
		Logger:   zap.New(core),
	})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	res, err := http.Get("http://" + srv.HTTPAddr().String() + "/")
	require.NoError(t, err)
	res.Body.Close()
	require.NoError(t, srv.Shutdown(context.Background()))
	for _, e := range logs.All() {
		t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
	}
}
