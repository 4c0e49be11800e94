package stats

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elliptics/elliptics/core/recovery"
)

// Collector exposes a node's statistics as Prometheus metrics. It reads
// the same counters as MONITOR_STAT when scraped, so the two always agree;
// nothing is kept twice. The metric set follows the node (commands seen,
// backends attached), so it is an unchecked collector: Describe sends
// nothing.
type Collector struct {
	snap func(categories uint64) *Snapshot
}

// NewCollector returns a collector over snap, which returns the node's
// statistics of the given categories (server.Server.MonitorStat).
func NewCollector(snap func(categories uint64) *Snapshot) *Collector {
	return &Collector{snap: snap}
}

// Describe implements prometheus.Collector (unchecked: see Collector).
func (*Collector) Describe(chan<- *prometheus.Desc) {}

// Metric descriptions. Names follow the Prometheus conventions: base
// units (seconds, bytes), _total for counters.
var (
	descRequests = prometheus.NewDesc("elliptics_requests_total",
		"Requests finished, by command, source (storage: served from a local backend; proxy: forwarded to the key's owner) and status (ok, error).",
		[]string{"cmd", "source", "status"}, nil)
	descRequestBytes = prometheus.NewDesc("elliptics_request_bytes_total",
		"Payload bytes of requests and their replies, by command and source.", []string{"cmd", "source"}, nil)
	descDuration = prometheus.NewDesc("elliptics_request_duration_seconds",
		"Time from a request's dispatch to its final reply, by command and source.", []string{"cmd", "source"}, nil)

	backendLabels   = []string{"backend", "group"}
	descBackendUp   = prometheus.NewDesc("elliptics_backend_enabled", "1 if the backend is enabled (serving).", backendLabels, nil)
	descBackendRO   = prometheus.NewDesc("elliptics_backend_read_only", "1 if the backend refuses writes.", backendLabels, nil)
	descBackendObj  = prometheus.NewDesc("elliptics_backend_objects", "Live records of the backend.", backendLabels, nil)
	descBackendB    = prometheus.NewDesc("elliptics_backend_bytes", "Live data bytes of the backend.", backendLabels, nil)
	descBackendRm   = prometheus.NewDesc("elliptics_backend_removed_bytes", "Bytes held by removed and overwritten data (defragmentation reclaims them).", backendLabels, nil)
	descBackendDisk = prometheus.NewDesc("elliptics_backend_disk_bytes", "Bytes of the backend's data files.", backendLabels, nil)
	descBackendFile = prometheus.NewDesc("elliptics_backend_data_files", "Data files of the backend.", backendLabels, nil)
	descBackendIdx  = prometheus.NewDesc("elliptics_backend_index_bytes", "Memory of the backend's in-memory index.", backendLabels, nil)
	descDefrag      = prometheus.NewDesc("elliptics_backend_defrag_running", "1 while a defragmentation runs.", backendLabels, nil)
	descFSTotal     = prometheus.NewDesc("elliptics_backend_fs_size_bytes", "Size of the file system holding the backend.", backendLabels, nil)
	descFSFree      = prometheus.NewDesc("elliptics_backend_fs_avail_bytes", "Space available on the file system holding the backend.", backendLabels, nil)

	descConns    = prometheus.NewDesc("elliptics_connections", "Accepted connections, by kind (peer: another node; client).", []string{"kind"}, nil)
	descOutgoing = prometheus.NewDesc("elliptics_peer_connections_out", "The node's own connections to other nodes.", nil, nil)
	descInflight = prometheus.NewDesc("elliptics_inflight_requests", "Requests being served.", nil, nil)
	descQueued   = prometheus.NewDesc("elliptics_send_queue_frames", "Frames waiting for their connection's writer, by connection kind (accepted: replies; outgoing: the node's requests to other nodes).", []string{"conn"}, nil)

	descUptime   = prometheus.NewDesc("elliptics_uptime_seconds", "Seconds since the node started.", nil, nil)
	descForwards = prometheus.NewDesc("elliptics_forwards_total", "Requests forwarded to their owner.", nil, nil)
	descRoute    = prometheus.NewDesc("elliptics_route_nodes", "Nodes in the node's route table.", nil, nil)

	descLoad    = prometheus.NewDesc("elliptics_load_average", "Host load average.", []string{"period"}, nil)
	descHostMem = prometheus.NewDesc("elliptics_host_memory_bytes", "Host memory (/proc/meminfo), by kind.", []string{"kind"}, nil)
	descRSS     = prometheus.NewDesc("elliptics_process_resident_memory_bytes", "Resident memory of the node's process.", nil, nil)

	descRecJobs  = prometheus.NewDesc("elliptics_recovery_jobs", "Recovery jobs the node knows, by kind and state.", []string{"kind", "state"}, nil)
	descRecScan  = prometheus.NewDesc("elliptics_recovery_scanned_records", "Records looked at by running recovery jobs.", nil, nil)
	descRecTotal = prometheus.NewDesc("elliptics_recovery_total_records", "Records running recovery jobs have to look at (0: unknown).", nil, nil)
	descRecMoved = prometheus.NewDesc("elliptics_recovery_moved_records", "Records moved by running recovery jobs.", nil, nil)
	descRecBytes = prometheus.NewDesc("elliptics_recovery_moved_bytes", "Bytes moved by running recovery jobs.", nil, nil)

	descScriptCalls  = prometheus.NewDesc("elliptics_script_calls_total", "Script calls (EXEC) run by the node, by script and result.", []string{"script", "result"}, nil)
	descScriptLimits = prometheus.NewDesc("elliptics_script_limit_hits_total", "Script calls stopped by a limit, by script and limit.", []string{"script", "limit"}, nil)
	descScriptSecs   = prometheus.NewDesc("elliptics_script_seconds_total", "Run time of script calls, by script.", []string{"script"}, nil)
)

// metricCategories are the categories a scrape reads: all but top keys,
// whose labels (keys) would be unbounded.
const metricCategories = CategoryCommands | CategoryBackend | CategoryIO | CategoryStats | CategoryProcfs | CategoryRecovery | CategoryScripts

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap(metricCategories)
	if s == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for name, cs := range s.Commands {
		for _, src := range [...]Source{Storage, Proxy} {
			f := cs.Figures(src)
			if f == nil {
				continue
			}
			counter(descRequests, float64(f.Count-f.Errors), name, src.String(), "ok")
			counter(descRequests, float64(f.Errors), name, src.String(), "error")
			counter(descRequestBytes, float64(f.Bytes), name, src.String())
			ch <- histogram(f, name, src)
		}
	}
	for id, b := range s.Backends {
		l := []string{id, strconv.FormatUint(uint64(b.Group), 10)}
		gauge(descBackendUp, bool01(b.State == "enabled"), l...)
		gauge(descBackendRO, bool01(b.ReadOnly), l...)
		if b.State != "enabled" {
			continue
		}
		gauge(descBackendObj, float64(b.Objects), l...)
		gauge(descBackendB, float64(b.Bytes), l...)
		for _, o := range [...]struct {
			d *prometheus.Desc
			v *uint64
		}{{descBackendRm, b.RemovedBytes}, {descBackendDisk, b.DiskBytes}, {descBackendFile, b.DataFiles}, {descBackendIdx, b.IndexBytes}} {
			if o.v != nil {
				gauge(o.d, float64(*o.v), l...)
			}
		}
		if b.Defrag != nil {
			gauge(descDefrag, bool01(b.Defrag.State == "running"), l...)
		}
		if b.Disk != nil {
			gauge(descFSTotal, float64(b.Disk.TotalBytes), l...)
			gauge(descFSFree, float64(b.Disk.FreeBytes), l...)
		}
	}
	if io := s.IO; io != nil {
		gauge(descConns, float64(io.Peers), "peer")
		gauge(descConns, float64(io.Clients), "client")
		gauge(descOutgoing, float64(io.Outgoing))
		gauge(descInflight, float64(io.Inflight))
		gauge(descQueued, float64(io.Queued), "accepted")
		gauge(descQueued, float64(io.OutQueued), "outgoing")
	}
	if st := s.Stats; st != nil {
		gauge(descUptime, st.UptimeS)
		counter(descForwards, float64(st.Forwards))
		gauge(descRoute, float64(st.RouteSize))
	}
	if p := s.Procfs; p != nil {
		for i, period := range [...]string{"1m", "5m", "15m"} {
			if i < len(p.LoadAvg) {
				gauge(descLoad, p.LoadAvg[i], period)
			}
		}
		if vm := p.VM; vm != nil {
			gauge(descHostMem, float64(vm.TotalBytes), "total")
			gauge(descHostMem, float64(vm.FreeBytes), "free")
			gauge(descHostMem, float64(vm.AvailableBytes), "available")
		}
		if p.RSSBytes != nil {
			gauge(descRSS, float64(*p.RSSBytes))
		}
	}
	jobs := map[[2]string]int{}
	var scanned, total, moved, bytes uint64
	var jobList []recovery.Status
	if s.Recovery != nil {
		jobList = s.Recovery.Jobs
	}
	for _, j := range jobList {
		jobs[[2]string{string(j.Spec.Kind), string(j.State)}]++
		if !j.State.Finished() {
			scanned, total, moved, bytes = scanned+j.Scanned, total+j.Total, moved+j.Moved, bytes+j.Bytes
		}
	}
	for k, n := range jobs {
		gauge(descRecJobs, float64(n), k[0], k[1])
	}
	for name, sc := range s.Scripts {
		counter(descScriptCalls, float64(sc.Calls-sc.Errors), name, "ok")
		counter(descScriptCalls, float64(sc.Errors), name, "error")
		counter(descScriptLimits, float64(sc.StepLimit), name, "steps")
		counter(descScriptLimits, float64(sc.TimeLimit), name, "time")
		counter(descScriptLimits, float64(sc.ByteLimit), name, "bytes")
		counter(descScriptLimits, float64(sc.MemoryLimit), name, "memory")
		counter(descScriptSecs, sc.Seconds, name)
	}
	if s.Recovery != nil {
		gauge(descRecScan, float64(scanned))
		gauge(descRecTotal, float64(total))
		gauge(descRecMoved, float64(moved))
		gauge(descRecBytes, float64(bytes))
	}
}

// histogram converts a command's latency buckets (counts per bucket) into
// a Prometheus histogram (cumulative counts by upper bound in seconds).
func histogram(f *CommandFigures, cmd string, src Source) prometheus.Metric {
	buckets := make(map[float64]uint64, NumBuckets-1)
	var cum uint64
	for i := range NumBuckets - 1 {
		cum += f.Buckets[i]
		buckets[BucketBound(i).Seconds()] = cum
	}
	cum += f.Buckets[NumBuckets-1]
	return prometheus.MustNewConstHistogram(descDuration, cum, float64(f.TimeUS)/1e6, buckets, cmd, src.String())
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
