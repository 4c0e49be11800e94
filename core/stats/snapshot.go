package stats

import (
	"strconv"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/recovery"
)

// Monitor categories: bits of the MONITOR_STAT request, as in the
// original (CACHE 1, IO 2, COMMANDS 4, BACKEND 16, STATS 32, PROCFS 64,
// TOP 128), plus RECOVERY, which the original did not have. Unknown bits
// are ignored.
const (
	CategoryCache    uint64 = 1 << 0 // no cache here: accepted, reports nothing
	CategoryIO       uint64 = 1 << 1
	CategoryCommands uint64 = 1 << 2
	CategoryBackend  uint64 = 1 << 4
	CategoryStats    uint64 = 1 << 5
	CategoryProcfs   uint64 = 1 << 6
	CategoryTop      uint64 = 1 << 7
	CategoryRecovery uint64 = 1 << 8
	CategoryScripts  uint64 = 1 << 9     // scripts run by EXEC (not in the original)
	CategoryAll      uint64 = ^uint64(0) // -1 in the original
)

// categoryNames are the names of the categories in CLI flags and HTTP
// paths, in bit order.
var categoryNames = []struct {
	name string
	bit  uint64
}{
	{"cache", CategoryCache},
	{"io", CategoryIO},
	{"commands", CategoryCommands},
	{"backend", CategoryBackend},
	{"stats", CategoryStats},
	{"procfs", CategoryProcfs},
	{"top", CategoryTop},
	{"recovery", CategoryRecovery},
	{"scripts", CategoryScripts},
}

// CategoryNames lists the category names ParseCategories accepts, besides
// "all".
func CategoryNames() []string {
	out := make([]string, len(categoryNames))
	for i, c := range categoryNames {
		out[i] = c.name
	}
	return out
}

// ParseCategories parses a comma-separated list of category names ("all"
// included) or a number (decimal, 0x hex; -1 is all).
func ParseCategories(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" || s == "-1" {
		return CategoryAll, true
	}
	if n, err := strconv.ParseUint(s, 0, 64); err == nil {
		return n, true
	}
	var mask uint64
	for part := range strings.SplitSeq(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "all" {
			return CategoryAll, true
		}
		found := false
		for _, c := range categoryNames {
			if c.name == part {
				mask |= c.bit
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return mask, true
}

// Timestamp is a time as the original's JSON wrote it.
type Timestamp struct {
	Sec  int64 `json:"tv_sec"`
	Usec int64 `json:"tv_usec"`
}

// NewTimestamp converts t.
func NewTimestamp(t time.Time) Timestamp {
	return Timestamp{Sec: t.Unix(), Usec: int64(t.Nanosecond() / 1000)}
}

// Time converts back.
func (t Timestamp) Time() time.Time { return time.Unix(t.Sec, t.Usec*1000) }

// Snapshot is a MONITOR_STAT reply: the node's statistics of the
// requested categories (docs/monitoring.md). Sections of categories not
// requested are left out.
type Snapshot struct {
	// MonitorStatus is "enabled" (the original answered "disabled" when
	// its monitor was off; statistics are always kept here).
	MonitorStatus   string    `json:"monitor_status"`
	Timestamp       Timestamp `json:"timestamp"`
	StringTimestamp string    `json:"string_timestamp"`
	// Address is the node's first listen address.
	Address string `json:"address"`
	// Categories are the categories asked for.
	Categories uint64 `json:"categories"`

	// Commands are keyed by command name (WRITE, READ, ...).
	Commands map[string]CommandStats `json:"commands,omitempty"`
	// Backends are keyed by backend ID, in decimal.
	Backends map[string]BackendStats `json:"backends,omitempty"`
	IO       *IOStats                `json:"io,omitempty"`
	Stats    *NodeStats              `json:"stats,omitempty"`
	Procfs   *ProcStats              `json:"procfs,omitempty"`
	Top      *TopStats               `json:"top,omitempty"`
	Recovery *RecoveryStats          `json:"recovery,omitempty"`
	// Scripts are the scripts the node ran (EXEC), keyed by name.
	Scripts map[string]ScriptStats `json:"scripts,omitempty"`
}

// ScriptStats are one script's calls on the node since it started, all
// versions together.
type ScriptStats struct {
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// Limit hits, part of Errors.
	StepLimit   uint64  `json:"step_limit"`
	TimeLimit   uint64  `json:"time_limit"`
	ByteLimit   uint64  `json:"byte_limit"`
	MemoryLimit uint64  `json:"memory_limit"`
	Seconds     float64 `json:"seconds"`     // run time of all calls
	MaxSeconds  float64 `json:"max_seconds"` // the longest call
}

// RecoveryStats are the node's recovery jobs, as the RECOVERY reply lists
// them.
type RecoveryStats struct {
	// Jobs are newest first; [] when there are none.
	Jobs []recovery.Status `json:"jobs"`
}

// BackendStats are one backend's figures. Fields a backend type does not
// report are left out.
type BackendStats struct {
	BackendID int32  `json:"backend_id"`
	Group     uint32 `json:"group"`
	// State is "enabled", "disabled", ... (proto.BackendState); only an
	// enabled backend has the figures below.
	State     string `json:"state"`
	ReadOnly  bool   `json:"read_only"`
	LastError string `json:"last_error,omitempty"`
	Type      string `json:"type,omitempty"`
	Dir       string `json:"dir,omitempty"`
	Objects   uint64 `json:"objects"`
	Bytes     uint64 `json:"bytes"`
	// RemovedBytes is space held by removed and overwritten data, which a
	// defragmentation would reclaim.
	RemovedBytes *uint64     `json:"removed_bytes,omitempty"`
	DiskBytes    *uint64     `json:"disk_bytes,omitempty"`
	DataFiles    *uint64     `json:"data_files,omitempty"`
	IndexBytes   *uint64     `json:"index_bytes,omitempty"`
	Defrag       *DefragInfo `json:"defrag,omitempty"`
	// Disk is the file system holding the backend's directory.
	Disk *DiskStats `json:"vfs,omitempty"`
	// Extra are the backend's own figures (backend.Stats.Extra).
	Extra map[string]any `json:"extra,omitempty"`
}

// DefragInfo is the state of a backend's defragmentation.
type DefragInfo struct {
	State      string    `json:"state"` // "running", "idle", "failed"
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	FilesDone  int       `json:"files_done"`
	FilesTotal int       `json:"files_total"`
	BytesDone  uint64    `json:"bytes_done"`
	BytesTotal uint64    `json:"bytes_total"`
	Reclaimed  uint64    `json:"reclaimed"`
	Error      string    `json:"error,omitempty"`
}

// DiskStats are a file system's figures (statfs).
type DiskStats struct {
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`  // available to the node's user
	TotalFiles uint64 `json:"total_files"` // inodes
	FreeFiles  uint64 `json:"free_files"`
}

// IOStats are the node's connections and queues.
type IOStats struct {
	// Connections accepted, split into other nodes of the cluster (Peers,
	// which announced themselves in their handshake) and Clients.
	Connections int `json:"connections"`
	Peers       int `json:"peers"`
	Clients     int `json:"clients"`
	// Outgoing are the node's own connections to the other nodes.
	Outgoing int `json:"outgoing"`
	// Inflight are requests being served; Queued are reply frames waiting
	// for their connection's writer, all accepted connections together;
	// OutQueued the frames waiting on the outgoing connections.
	Inflight  int64  `json:"inflight"`
	Queued    uint64 `json:"send_queue_size"`
	OutQueued uint64 `json:"out_send_queue_size"`
	// States are the outgoing connections by node address (as the
	// original's io.states); Accepted the accepted ones by remote address.
	States   map[string]PeerState `json:"states,omitempty"`
	Accepted map[string]ConnState `json:"accepted,omitempty"`
}

// PeerState is the node's connection to another node.
type PeerState struct {
	SendQueue int `json:"send_queue_size"`
	// Pending are the requests sent on it (forwards, pings, recovery)
	// waiting for their reply.
	Pending int `json:"pending"`
	// LatencyUS is the smoothed reply latency in microseconds (0: none
	// yet).
	LatencyUS int64 `json:"latency_us"`
}

// ConnState is one accepted connection.
type ConnState struct {
	Peer      bool `json:"peer"`
	SendQueue int  `json:"send_queue_size"`
	Inflight  int  `json:"inflight"`
}

// NodeStats are node-wide figures.
type NodeStats struct {
	Version   string  `json:"version,omitempty"`
	UptimeS   float64 `json:"uptime_s"`
	Forwards  uint64  `json:"forwards"`
	RouteSize int     `json:"route_nodes"`
}

// ProcStats are the process's and host's figures. What the host does not
// provide (no /proc) is left out.
type ProcStats struct {
	// LoadAvg is the 1, 5 and 15 minute load average.
	LoadAvg []float64 `json:"la,omitempty"`
	// VM is the host's memory (/proc/meminfo), in bytes.
	VM *HostMem `json:"vm,omitempty"`
	// RSSBytes is the process's resident memory (/proc/self/status).
	RSSBytes   *uint64 `json:"rss_bytes,omitempty"`
	Goroutines int     `json:"goroutines"`
	// Go runtime memory, in bytes.
	HeapBytes uint64 `json:"go_heap_bytes"`
	SysBytes  uint64 `json:"go_sys_bytes"`
	GCCount   uint32 `json:"go_gc_count"`
}

// HostMem is /proc/meminfo.
type HostMem struct {
	TotalBytes     uint64 `json:"total"`
	FreeBytes      uint64 `json:"free"`
	AvailableBytes uint64 `json:"available"`
	CachedBytes    uint64 `json:"cached"`
	BuffersBytes   uint64 `json:"buffers"`
}
