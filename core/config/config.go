// Package config is the configuration of a node (ellipticsd): a TOML file
// with a [node] table and one [[backend]] table per storage backend.
//
//	[node]
//	listen = ["127.0.0.1:1025"]
//	remotes = ["10.0.0.2:1025"]
//	data_dir = "/var/lib/elliptics"
//
//	[[backend]]
//	id = 0
//	group = 1
//	type = "mem"
//	enable = true
//
// Every key is optional; a key left out takes the default documented on its
// field (docs/node.example.toml lists them all). Unknown keys are errors, so
// a typo never silently falls back to a default. Durations are Go duration
// strings ("30s", "1m30s"); sizes are integers of bytes or strings with a
// unit ("160MiB", see ParseSize).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/blob"
	filebackend "github.com/elliptics/elliptics/core/backend/file"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/notify"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/s3"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/stats"
)

// Defaults of the [node] table.
const (
	DefaultListen          = "127.0.0.1:1025"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "console"
	DefaultRequestTimeout  = server.DefaultRequestTimeout
	DefaultShutdownTimeout = server.DefaultShutdownTimeout
	DefaultMaxPayload      = Size(160 * MiB)
	DefaultMaxInflight     = server.DefaultMaxInflight
	DefaultDataDir         = "./var"
	// Peer connections (server.Options.Peer): how a node watches the
	// other nodes of the cluster.
	DefaultPingInterval = time.Second
	DefaultPingTimeout  = time.Second
	DefaultSuspectAfter = 3
	// DefaultIndirectProbes is how many nodes ping a silent node for us.
	DefaultIndirectProbes  = 2
	DefaultRefreshInterval = 5 * time.Second
	// DefaultProbesPerInterval bounds the quiet nodes pinged per interval.
	DefaultProbesPerInterval = 16
	// DefaultUploadTimeout is how long a chunked upload may stay
	// uncommitted (server.PrepareTimeout).
	DefaultUploadTimeout = server.PrepareTimeout
)

// Defaults of the [recovery] table.
const (
	DefaultRecoveryAuto          = true
	DefaultRecoveryRate          = Size(64 * MiB)
	DefaultRecoveryConcurrency   = 2
	DefaultRecoveryMergeDelay    = 2 * time.Second
	DefaultRecoveryHandoffWindow = 10 * time.Minute
	DefaultRecoveryLeaveAfter    = server.DefaultLeaveAfter
	DefaultRecoveryTombstoneTTL  = server.DefaultTombstoneTTL
	DefaultRecoveryAntiEntropy   = 6 * time.Hour
	DefaultRecoveryScrub         = 7 * 24 * time.Hour
)

// Defaults of a [[backend]] table.
const (
	DefaultGroup         = 1
	DefaultBackendType   = "blob"
	DefaultSync          = "always"
	DefaultSyncInterval  = 100 * time.Millisecond
	DefaultBlobSize      = Size(GiB)
	DefaultRecordsInBlob = 10_000_000
	// DefaultPoints is the number of ring points a backend takes when its
	// ids file is created (route.DefaultPoints).
	DefaultPoints = route.DefaultPoints
)

// SyncModes are the accepted values of backend.sync.
var SyncModes = []string{"always", "interval", "none"}

// Limits checked by Validate.
const (
	MinMaxPayload = Size(KiB)
	MaxMaxPayload = Size(4 * GiB)
)

// LogLevels and LogFormats are the accepted values of node.log_level and
// node.log_format.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"console", "json"}
)

// Config is the whole configuration of a node.
type Config struct {
	Node Node `toml:"node"`
	// Backends are the [[backend]] tables. A file without any gets the
	// single backend of Default (id 0, group 1, type "mem").
	Backends []Backend `toml:"backend"`
	// Recovery is the [recovery] table.
	Recovery Recovery `toml:"recovery"`
	// Monitor is the [monitor] table.
	Monitor Monitor `toml:"monitor"`
	// HTTP is the [http] table (http.go).
	HTTP HTTP `toml:"http"`
	// S3 is the [s3] table: the S3-compatible API, served on the [http]
	// port beside /v1/ when enabled (docs/s3.md).
	S3 s3.Config `toml:"s3"`
	// Script is the [script] table (script.go).
	Script Script `toml:"script"`
	// TLS is the [tls] table (tls.go).
	TLS TLS `toml:"tls"`
	// Security is the [security] table (security.go).
	Security Security `toml:"security,omitempty"`
}

// Defaults of the [monitor] table.
const (
	DefaultMonitorTopLength = stats.DefaultTopLength
	DefaultMonitorTopPeriod = stats.DefaultTopPeriod
	// MaxMonitorTopLength bounds top_length: the top-keys sketches take
	// memory in proportion.
	MaxMonitorTopLength = 10000
)

// Monitor is the [monitor] table: the node's statistics (docs/monitoring.md).
// They are always kept and answered over the protocol (MONITOR_STAT);
// http_addr also serves them over HTTP.
type Monitor struct {
	// HTTPAddr is the "host:port" where the node serves /metrics
	// (Prometheus) and its statistics as JSON; port 0 picks a free port.
	// Default "" (no HTTP port). Anyone who reaches it reads the
	// statistics, keys of the top list included: bind it to a private
	// address.
	HTTPAddr string `toml:"http_addr"`
	// TopLength is how many keys the top-keys lists hold, 1..10000.
	// Default 50.
	TopLength int `toml:"top_length"`
	// TopPeriod is the window of the top-keys lists: they cover the
	// current period and the one before. Default "5m".
	TopPeriod Duration `toml:"top_period"`
	// Pprof mounts Go's profiler (net/http/pprof, /debug/pprof/) on the
	// http_addr port. Default false: profiling costs CPU while it runs and
	// shows the node's internals. Without http_addr it has no effect.
	Pprof bool `toml:"pprof"`
}

func defaultMonitor() Monitor {
	return Monitor{TopLength: DefaultMonitorTopLength, TopPeriod: Duration{DefaultMonitorTopPeriod}}
}

// Recovery is the [recovery] table: how the node moves data after route
// changes and fills replicas (see docs/operations.md).
type Recovery struct {
	// Auto makes the node move the records it no longer owns to their new
	// owners after a route change, and fill a backend that starts empty
	// from the other groups. Default true; with false, only operators
	// start recovery ('elliptics recovery merge|dc').
	Auto bool `toml:"auto"`
	// Rate bounds the bytes per second all recovery jobs of the node move
	// together; 0 = unlimited. Default "64MiB".
	Rate Size `toml:"rate"`
	// ObjectsRate bounds the objects per second; 0 = unlimited. Default 0.
	ObjectsRate int64 `toml:"objects_rate"`
	// Concurrency is how many recovery jobs (one per backend and kind) run
	// at once on the node; the others wait. Default 2.
	Concurrency int `toml:"concurrency"`
	// MergeDelay is how long the route table must stay unchanged before an
	// automatic merge starts. Default "2s".
	MergeDelay Duration `toml:"merge_delay"`
	// LeaveAfter is how long a backend may be missing from the route
	// table (its node dead or cut off) before the backends that took over
	// its ranges fill them from the other groups. 'elliptics node remove
	// ADDR' does it at once. Default "10m".
	LeaveAfter Duration `toml:"leave_after"`
	// AntiEntropy is how often each backend compares all its ranges with
	// the other groups (metadata only) and copies what is missing or older
	// here, and applies newer removes; "0s" turns it off. Must be shorter
	// than tombstone_ttl. Default "6h".
	AntiEntropy Duration `toml:"anti_entropy"`
	// Scrub is how often an anti-entropy pass also reads every local
	// record and checks its data against its checksum, replacing corrupt
	// ones with intact copies from other groups; "0s" turns it off.
	// Default "168h" (a week).
	Scrub Duration `toml:"scrub"`
	// TombstoneTTL is how long a remove is remembered (a tombstone per
	// removed object or column), so that an older copy arriving later
	// (recovery, read repair) cannot bring the object back; "0s" keeps
	// none. Default "24h".
	TombstoneTTL Duration `toml:"tombstone_ttl"`
	// HandoffWindow is how long after a route change a read that misses
	// on a key's owner also asks the key's previous owner, so objects on
	// their way are still found; "0s" turns it off. Default "10m".
	HandoffWindow Duration `toml:"handoff_window"`
}

func defaultRecovery() Recovery {
	return Recovery{Auto: DefaultRecoveryAuto, Rate: DefaultRecoveryRate, Concurrency: DefaultRecoveryConcurrency,
		MergeDelay: Duration{DefaultRecoveryMergeDelay}, HandoffWindow: Duration{DefaultRecoveryHandoffWindow},
		LeaveAfter: Duration{DefaultRecoveryLeaveAfter}, TombstoneTTL: Duration{DefaultRecoveryTombstoneTTL},
		AntiEntropy: Duration{DefaultRecoveryAntiEntropy}, Scrub: Duration{DefaultRecoveryScrub}}
}

// Node is the [node] table.
type Node struct {
	// Listen are the TCP addresses to accept connections on, each
	// "host:port"; port 0 picks a free port. Default ["127.0.0.1:1025"].
	Listen []string `toml:"listen"`
	// Remotes are nodes to join ("host:port"). Default none.
	Remotes []string `toml:"remotes"`
	// LogLevel is one of debug, info, warn, error. Default "info".
	LogLevel string `toml:"log_level"`
	// LogFormat is "console" (human-readable) or "json". Default "console".
	LogFormat string `toml:"log_format"`
	// RequestTimeout bounds the time one request may run. Default "30s".
	RequestTimeout Duration `toml:"request_timeout"`
	// ShutdownTimeout bounds how long a stopping node waits for in-flight
	// requests. Default "10s".
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// MaxPayload is the largest frame payload accepted, between 1KiB and
	// 4GiB. Default "160MiB".
	MaxPayload Size `toml:"max_payload"`
	// MaxInflight limits concurrent requests per connection. Default 1024.
	MaxInflight int `toml:"max_inflight"`
	// MaxConnsPerAddr limits the connections accepted from one client IP
	// (loopback included); more are closed at once. Default 1024.
	MaxConnsPerAddr int `toml:"max_conns_per_addr"`
	// FrameTimeout bounds the time from a frame's first byte to its last;
	// a peer that stalls mid-frame is disconnected. Default "30s".
	FrameTimeout Duration `toml:"frame_timeout"`
	// HandshakeTimeout bounds the time from accepting a connection to the
	// header of its first frame. Default "10s".
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// MaxBulkKeys bounds the keys of one bulk request, 1024..65536.
	// Default 65536.
	MaxBulkKeys int `toml:"max_bulk_keys"`
	// DataDir is the root of the backends' directories; a relative path is
	// relative to the daemon's working directory. Default "./var".
	DataDir string `toml:"data_dir"`
	// PingInterval is how often the node pings every other node it is
	// connected to, and redials lost ones. Default "1s".
	PingInterval Duration `toml:"ping_interval"`
	// PingTimeout bounds one ping; a ping without a reply by then is
	// missed. Default "1s".
	PingTimeout Duration `toml:"ping_timeout"`
	// SuspectAfter is how many pings in a row a node may miss before it is
	// dropped from the route table. Default 3.
	SuspectAfter int `toml:"suspect_after"`
	// IndirectProbes is how many other nodes are asked to ping a node
	// whose ping went unanswered before the miss counts (SWIM's ping-req;
	// 0 = none). Default 2.
	IndirectProbes int `toml:"indirect_probes"`
	// RefreshInterval is how often the node pulls the member list of a
	// random other node, healing missed route pushes. Default "5s".
	RefreshInterval Duration `toml:"refresh_interval"`
	// ProbesPerInterval is how many of the nodes not heard from since the
	// last interval are pinged per interval, in turn (suspects are pinged
	// every interval), so pings stay bounded in a large cluster. Default 16.
	ProbesPerInterval int `toml:"probes_per_interval"`
	// ConnectOnDemand makes the node learn other nodes from the member lists
	// of the nodes it reaches and connect to one only when a request goes
	// there, instead of connecting to every node: for clusters of hundreds
	// of nodes and more. Default false (a full mesh).
	ConnectOnDemand bool `toml:"connect_on_demand"`
	// UploadTimeout is how long a chunked upload (prepare, plain writes,
	// commit) may stay uncommitted when its prepare has no TTL; then it
	// expires, later chunks and its commit get NotFound, and its space is
	// reclaimed. Default "24h".
	UploadTimeout Duration `toml:"upload_timeout"`
	// NotifyQueue is how many events the node queues for a watcher of a
	// key (NOTIFY) that asks for no size; past it events are dropped and
	// the watcher is told how many it missed. Default 1024, at most 65536.
	NotifyQueue int `toml:"notify_queue"`
}

// Backend is one [[backend]] table.
type Backend struct {
	// ID names the backend on this node: unique, 0..2^31-1. Default: the
	// table's position among the [[backend]] tables (0, 1, ...).
	ID int `toml:"id"`
	// Group is the replica group the backend belongs to, 1..2^32-1.
	// Default 1.
	Group int64 `toml:"group"`
	// Type is the storage engine (see BackendTypes). Default "blob".
	Type string `toml:"type"`
	// Dir is where the backend keeps its files, for types that have files.
	// Default "" means <data_dir>/backend-<id> (see Config.BackendDir).
	Dir string `toml:"dir"`
	// ReadOnly refuses writes. Default false.
	ReadOnly bool `toml:"read_only"`
	// Enable serves the backend from the start. A backend with enable =
	// false is not opened until enabled at run time (elliptics backend
	// enable). Default true.
	Enable bool `toml:"enable"`
	// Sync is when writes reach stable storage before they are
	// acknowledged: "always" (fsync, shared by concurrent writers),
	// "interval" (blob only: fsync every sync_interval) or "none" (the
	// operating system flushes; survives a process kill, not a power loss).
	// Default "always".
	Sync string `toml:"sync"`
	// SyncInterval is the fsync period of sync = "interval". Default "100ms".
	SyncInterval Duration `toml:"sync_interval"`
	// BlobSize rotates a blob data file when it reaches this size, 4KiB to
	// 8TiB. Default "1GiB".
	BlobSize Size `toml:"blob_size"`
	// RecordsInBlob rotates a blob data file after this many records.
	// Default 10000000.
	RecordsInBlob int64 `toml:"records_in_blob"`
	// Compress stores blob records with snappy when it makes them smaller.
	// Default false.
	Compress bool `toml:"compress"`
	// MappedAppends lets a blob backend with sync = "none" append small
	// records by copying into a shared mapping of its active data file
	// instead of a write system call (same guarantee: in the page cache
	// before the write is acknowledged). Default true.
	MappedAppends bool `toml:"mapped_appends"`
	// Points is the number of ring points the backend takes when its ids
	// file (<dir>/ids) is created on first start, 1..4096. Later starts read
	// the points back from the file and ignore this key: changing it does
	// nothing, deliberately, since new points would move the backend's data
	// to other backends. Default 16.
	Points int `toml:"points"`
}

// Default returns the configuration used when no file is given: one blob
// backend of group 1 in ./var/backend-0 on a node listening on
// 127.0.0.1:1025.
func Default() Config {
	return Config{
		Node:     defaultNode(),
		Backends: []Backend{DefaultBackend(0)},
		Recovery: defaultRecovery(),
		Monitor:  defaultMonitor(),
		HTTP:     defaultHTTP(),
		Script:   defaultScript(),
	}
}

// DefaultBackend returns a [[backend]] table with every key at its default
// and the given id.
func DefaultBackend(id int) Backend {
	return Backend{ID: id, Group: DefaultGroup, Type: DefaultBackendType, Enable: true, Sync: DefaultSync,
		SyncInterval: Duration{DefaultSyncInterval}, BlobSize: DefaultBlobSize, RecordsInBlob: DefaultRecordsInBlob,
		MappedAppends: true, Points: DefaultPoints}
}

func defaultNode() Node {
	return Node{
		Listen:          []string{DefaultListen},
		Remotes:         []string{},
		LogLevel:        DefaultLogLevel,
		LogFormat:       DefaultLogFormat,
		RequestTimeout:  Duration{DefaultRequestTimeout},
		ShutdownTimeout: Duration{DefaultShutdownTimeout},
		MaxPayload:      DefaultMaxPayload,
		MaxInflight:     DefaultMaxInflight,
		DataDir:         DefaultDataDir,
		PingInterval:    Duration{DefaultPingInterval},
		PingTimeout:     Duration{DefaultPingTimeout},
		SuspectAfter:    DefaultSuspectAfter,
		IndirectProbes:  DefaultIndirectProbes,
		RefreshInterval: Duration{DefaultRefreshInterval},
		UploadTimeout:   Duration{DefaultUploadTimeout},
		NotifyQueue:     notify.DefaultQueue,

		ProbesPerInterval: DefaultProbesPerInterval,

		MaxConnsPerAddr:  server.DefaultMaxConnsPerAddr,
		FrameTimeout:     Duration{server.DefaultFrameTimeout},
		HandshakeTimeout: Duration{server.DefaultHandshakeTimeout},
		MaxBulkKeys:      proto.MaxBulkKeys,
	}
}

// Load reads the TOML file at path, gives every key it leaves out its
// default and validates the result. Errors start with path.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse is Load on the bytes of a TOML document.
func Parse(data []byte) (Config, error) {
	c, err := decode(data)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// file is the document as decoded: the backend fields whose zero value is
// meaningful are pointers, to tell "left out" from "set to zero".
type file struct {
	Node     Node          `toml:"node"`
	Backends []fileBackend `toml:"backend"`
	Recovery Recovery      `toml:"recovery"`
	Monitor  Monitor       `toml:"monitor"`
	HTTP     HTTP          `toml:"http"`
	S3       s3.Config     `toml:"s3"`
	Script   Script        `toml:"script"`
	TLS      TLS           `toml:"tls"`
	Security Security      `toml:"security"`
}

type fileBackend struct {
	ID            *int     `toml:"id"`
	Group         *int64   `toml:"group"`
	Type          *string  `toml:"type"`
	Dir           string   `toml:"dir"`
	ReadOnly      bool     `toml:"read_only"`
	Enable        *bool    `toml:"enable"`
	Sync          string   `toml:"sync"`
	SyncInterval  Duration `toml:"sync_interval"`
	BlobSize      Size     `toml:"blob_size"`
	RecordsInBlob *int64   `toml:"records_in_blob"`
	Compress      bool     `toml:"compress"`
	MappedAppends *bool    `toml:"mapped_appends"`
	Points        *int     `toml:"points"`
}

func decode(data []byte) (Config, error) {
	// Decoding into defaults leaves the keys the file omits at their default.
	f := file{Node: defaultNode(), Recovery: defaultRecovery(), Monitor: defaultMonitor(), HTTP: defaultHTTP(), Script: defaultScript()}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, decodeError(data, err)
	}
	c := Config{Node: f.Node, Recovery: f.Recovery, Monitor: f.Monitor, HTTP: f.HTTP, S3: f.S3, Script: f.Script, TLS: f.TLS, Security: f.Security}
	if len(c.Security.Anonymous) == 0 {
		c.Security.Anonymous = nil // "anonymous = []" is the default
	}
	if c.HTTP.Groups == nil {
		c.HTTP.Groups = []int64{}
	}
	if len(c.S3.Credentials) == 0 {
		c.S3.Credentials = nil // "credentials = []" as printed is none
	}
	if c.Node.Listen == nil {
		c.Node.Listen = []string{}
	}
	if c.Node.Remotes == nil {
		c.Node.Remotes = []string{}
	}
	if f.Backends == nil {
		c.Backends = Default().Backends
		return c, nil
	}
	c.Backends = make([]Backend, len(f.Backends))
	for i, fb := range f.Backends {
		b := DefaultBackend(i)
		b.Dir, b.ReadOnly, b.Compress = fb.Dir, fb.ReadOnly, fb.Compress
		if fb.Sync != "" {
			b.Sync = fb.Sync
		}
		if fb.SyncInterval.Duration != 0 {
			b.SyncInterval = fb.SyncInterval
		}
		if fb.BlobSize != 0 {
			b.BlobSize = fb.BlobSize
		}
		if fb.RecordsInBlob != nil {
			b.RecordsInBlob = *fb.RecordsInBlob
		}
		if fb.MappedAppends != nil {
			b.MappedAppends = *fb.MappedAppends
		}
		if fb.Enable != nil {
			b.Enable = *fb.Enable
		}
		if fb.ID != nil {
			b.ID = *fb.ID
		}
		if fb.Group != nil {
			b.Group = *fb.Group
		}
		if fb.Type != nil {
			b.Type = *fb.Type
		}
		if fb.Points != nil {
			b.Points = *fb.Points
		}
		c.Backends[i] = b
	}
	return c, nil
}

// decodeError rewrites go-toml's errors as one line with the line number and
// the key.
func decodeError(data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		msgs := make([]string, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			what := "key"
			if strings.Contains(e.Error(), "table") {
				what = "table"
			}
			msgs = append(msgs, fmt.Sprintf("line %d: unknown %s %s", line, what, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeMismatch.FindStringSubmatch(msg); m != nil {
			want := m[2]
			if w, ok := typeNames[want]; ok {
				want = w
			}
			msg = fmt.Sprintf("got a TOML %s, want %s", m[1], want)
		}
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("line %d, column %d: %s: %s", line, col, strings.Join(k, "."), msg)
		}
		return fmt.Errorf("line %d, column %d: %s", line, col, msg)
	}
	// go-toml hands a value that is not a string (30, true) to
	// UnmarshalText without saying where it was: find it.
	var doc map[string]any
	if toml.Unmarshal(data, &doc) == nil {
		node, _ := doc["node"].(map[string]any)
		for _, tk := range textKeys {
			v, ok := node[tk.key]
			if !ok {
				continue
			}
			if _, isStr := v.(string); isStr {
				continue
			}
			if _, isInt := v.(int64); isInt && tk.intOK {
				continue
			}
			return fmt.Errorf("node.%s: %v", tk.key, err)
		}
	}
	return err
}

var (
	typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)
	typeNames    = map[string]string{
		"string":          "a string",
		"bool":            "a boolean (true or false)",
		"int":             "an integer",
		"int64":           "an integer",
		"[]string":        `an array of strings (["a", "b"])`,
		"config.Size":     `a size (an integer of bytes or a string like "160MiB")`,
		"config.Duration": `a duration string (like "30s")`,
	}
	// textKeys are the [node] keys decoded by UnmarshalText; intOK says a
	// TOML integer is valid there.
	textKeys = []struct {
		key   string
		intOK bool
	}{{"request_timeout", false}, {"shutdown_timeout", false}, {"max_payload", true},
		{"ping_interval", false}, {"ping_timeout", false}, {"refresh_interval", false}, {"upload_timeout", false},
		{"frame_timeout", false}, {"handshake_timeout", false}}
)

// Validate checks every field and reports every problem found, each naming
// its field, for example "backend[1].group: must be > 0".
func (c *Config) Validate() error {
	var p problems
	n := &c.Node
	if len(n.Listen) == 0 {
		p.add("node.listen", "needs at least one address")
	}
	for i, a := range n.Listen {
		if err := checkAddr(a, true); err != nil {
			p.add(fmt.Sprintf("node.listen[%d]", i), "%v", err)
		}
	}
	for i, a := range n.Remotes {
		if err := checkAddr(a, false); err != nil {
			p.add(fmt.Sprintf("node.remotes[%d]", i), "%v", err)
		}
	}
	if !slices.Contains(LogLevels, n.LogLevel) {
		p.add("node.log_level", "%q is not one of %s", n.LogLevel, strings.Join(LogLevels, ", "))
	}
	if !slices.Contains(LogFormats, n.LogFormat) {
		p.add("node.log_format", "%q is not one of %s", n.LogFormat, strings.Join(LogFormats, ", "))
	}
	if n.RequestTimeout.Duration <= 0 {
		p.add("node.request_timeout", "must be > 0, got %v", n.RequestTimeout)
	}
	if n.ShutdownTimeout.Duration <= 0 {
		p.add("node.shutdown_timeout", "must be > 0, got %v", n.ShutdownTimeout)
	}
	if n.MaxPayload < MinMaxPayload || n.MaxPayload > MaxMaxPayload {
		p.add("node.max_payload", "must be between %v and %v, got %v", MinMaxPayload, MaxMaxPayload, n.MaxPayload)
	}
	if n.MaxInflight < 1 {
		p.add("node.max_inflight", "must be >= 1, got %d", n.MaxInflight)
	}
	n.validateLimits(&p)
	if n.DataDir == "" {
		p.add("node.data_dir", "must not be empty")
	}
	if n.PingInterval.Duration <= 0 {
		p.add("node.ping_interval", "must be > 0, got %v", n.PingInterval)
	}
	if n.PingTimeout.Duration <= 0 {
		p.add("node.ping_timeout", "must be > 0, got %v", n.PingTimeout)
	}
	if n.SuspectAfter < 1 {
		p.add("node.suspect_after", "must be > 0, got %d", n.SuspectAfter)
	}
	if n.RefreshInterval.Duration <= 0 {
		p.add("node.refresh_interval", "must be > 0, got %v", n.RefreshInterval)
	}
	if n.IndirectProbes < 0 {
		p.add("node.indirect_probes", "must be >= 0, got %d", n.IndirectProbes)
	}
	if n.ProbesPerInterval < 1 {
		p.add("node.probes_per_interval", "must be >= 1, got %d", n.ProbesPerInterval)
	}
	if n.UploadTimeout.Duration <= 0 {
		p.add("node.upload_timeout", "must be > 0, got %v", n.UploadTimeout)
	}
	if n.NotifyQueue < 1 || n.NotifyQueue > proto.MaxNotifyQueue {
		p.add("node.notify_queue", "must be in 1..%d, got %d", proto.MaxNotifyQueue, n.NotifyQueue)
	}

	if a := c.Monitor.HTTPAddr; a != "" {
		if err := checkAddr(a, true); err != nil {
			p.add("monitor.http_addr", "%v", err)
		}
	}
	if c.Monitor.TopLength < 1 || c.Monitor.TopLength > MaxMonitorTopLength {
		p.add("monitor.top_length", "must be between 1 and %d, got %d", MaxMonitorTopLength, c.Monitor.TopLength)
	}
	if c.Monitor.TopPeriod.Duration <= 0 {
		p.add("monitor.top_period", "must be > 0, got %v", c.Monitor.TopPeriod)
	}
	c.HTTP.validate(&p, n.MaxPayload)
	c.Script.validate(&p, n.RequestTimeout.Duration)
	c.TLS.validate(&p, c.HTTP.TLS)
	c.Security.options(&p)
	if c.S3.Enabled {
		if _, err := c.S3.Options(nil); err != nil {
			p.add("s3", "%v", err)
		}
		if c.HTTP.Addr == "" {
			p.add("s3.enabled", "needs http.addr (or --http-api): S3 is served on the HTTP API's port")
		}
	}

	if c.Recovery.ObjectsRate < 0 {
		p.add("recovery.objects_rate", "must be >= 0, got %d", c.Recovery.ObjectsRate)
	}
	if c.Recovery.Concurrency < 1 {
		p.add("recovery.concurrency", "must be >= 1, got %d", c.Recovery.Concurrency)
	}
	if c.Recovery.MergeDelay.Duration <= 0 {
		p.add("recovery.merge_delay", "must be > 0, got %v", c.Recovery.MergeDelay)
	}
	if c.Recovery.LeaveAfter.Duration <= 0 {
		p.add("recovery.leave_after", "must be > 0, got %v", c.Recovery.LeaveAfter)
	}
	if ae := c.Recovery.AntiEntropy.Duration; ae < 0 {
		p.add("recovery.anti_entropy", "must be >= 0, got %v", c.Recovery.AntiEntropy)
	} else if ae > 0 && ae >= c.Recovery.TombstoneTTL.Duration {
		p.add("recovery.anti_entropy", "%v must be shorter than recovery.tombstone_ttl (%v): removes older than that are forgotten, and a comparison would bring their objects back",
			c.Recovery.AntiEntropy, c.Recovery.TombstoneTTL)
	}
	if c.Recovery.Scrub.Duration < 0 {
		p.add("recovery.scrub", "must be >= 0, got %v", c.Recovery.Scrub)
	}
	if c.Recovery.TombstoneTTL.Duration < 0 {
		p.add("recovery.tombstone_ttl", "must be >= 0, got %v", c.Recovery.TombstoneTTL)
	}
	if c.Recovery.HandoffWindow.Duration < 0 {
		p.add("recovery.handoff_window", "must be >= 0, got %v", c.Recovery.HandoffWindow)
	}

	if len(c.Backends) == 0 {
		p.add("backend", "needs at least one [[backend]]")
	}
	ids := map[int]int{}     // backend id -> index
	dirs := map[string]int{} // directory -> index
	for i, b := range c.Backends {
		field := func(name string) string { return fmt.Sprintf("backend[%d].%s", i, name) }
		switch {
		case b.ID < 0:
			p.add(field("id"), "must be >= 0, got %d", b.ID)
		case b.ID > math.MaxInt32:
			p.add(field("id"), "must be <= %d, got %d", math.MaxInt32, b.ID)
		default:
			if j, dup := ids[b.ID]; dup {
				p.add(field("id"), "%d already used by backend[%d]", b.ID, j)
			} else {
				ids[b.ID] = i
			}
		}
		switch {
		case b.Group <= 0:
			p.add(field("group"), "must be > 0, got %d", b.Group)
		case b.Group > math.MaxUint32:
			p.add(field("group"), "must be <= %d, got %d", uint32(math.MaxUint32), b.Group)
		}
		if b.Points < 1 || b.Points > route.MaxPoints {
			p.add(field("points"), "must be between 1 and %d, got %d", route.MaxPoints, b.Points)
		}
		t, ok := backendTypes[b.Type]
		if !ok {
			p.add(field("type"), "unknown type %q (known: %s)", b.Type, strings.Join(BackendTypes(), ", "))
			continue
		}
		if !slices.Contains(SyncModes, b.Sync) {
			p.add(field("sync"), "unknown mode %q (known: %s)", b.Sync, strings.Join(SyncModes, ", "))
		} else if b.Sync == "interval" && b.Type != "blob" {
			p.add(field("sync"), "\"interval\" is supported by the blob backend only")
		}
		if b.SyncInterval.Duration <= 0 {
			p.add(field("sync_interval"), "must be > 0, got %v", b.SyncInterval.Duration)
		}
		if b.BlobSize < 4*KiB || b.BlobSize > Size(blob.MaxFileSize) {
			p.add(field("blob_size"), "must be between 4KiB and %v, got %v", Size(blob.MaxFileSize), b.BlobSize)
		}
		if b.RecordsInBlob < 1 {
			p.add(field("records_in_blob"), "must be >= 1, got %d", b.RecordsInBlob)
		}
		if t.usesDir && n.DataDir != "" {
			dir := filepath.Clean(c.BackendDir(b))
			if j, dup := dirs[dir]; dup {
				p.add(field("dir"), "%s is already the directory of backend[%d]", dir, j)
			} else {
				dirs[dir] = i
			}
		}
	}
	return p.err()
}

// checkAddr checks a "host:port" address. A listen address may have an empty
// host (every interface) and port 0 (any free port); a remote may not.
func checkAddr(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port (%v)", addr, unwrapAddrErr(err))
	}
	n, err := strconv.ParseUint(port, 10, 64)
	if err != nil {
		return fmt.Errorf("%q: port %q is not a number", addr, port)
	}
	if n > 65535 {
		return fmt.Errorf("%q: port %d out of range 0..65535", addr, n)
	}
	if !listen {
		if host == "" {
			return fmt.Errorf("%q: missing host", addr)
		}
		if n == 0 {
			return fmt.Errorf("%q: port must be 1..65535", addr)
		}
	}
	return nil
}

func unwrapAddrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// BackendDir returns the directory of backend b: b.Dir, or
// <data_dir>/backend-<id> when b.Dir is empty.
func (c *Config) BackendDir(b Backend) string {
	if b.Dir != "" {
		return b.Dir
	}
	return filepath.Join(c.Node.DataDir, "backend-"+strconv.Itoa(b.ID))
}

// backendType is a storage engine the configuration can name.
type backendType struct {
	// usesDir says the backend keeps files in its directory, which
	// ServerOptions creates before open is called.
	usesDir bool
	open    func(dir string, b Backend, log *zap.Logger) (backend.Backend, error)
}

// backendTypes are the known values of backend.type.
var backendTypes = map[string]backendType{
	"mem": {open: func(string, Backend, *zap.Logger) (backend.Backend, error) { return mem.New(), nil }},
	"blob": {usesDir: true, open: func(dir string, b Backend, log *zap.Logger) (backend.Backend, error) {
		mode := map[string]blob.SyncMode{"always": blob.SyncAlways, "interval": blob.SyncInterval, "none": blob.SyncNone}[b.Sync]
		return blob.Open(dir, blob.Options{Sync: mode, SyncInterval: b.SyncInterval.Duration, BlobSize: uint64(b.BlobSize),
			RecordsInBlob: uint64(b.RecordsInBlob), Compress: b.Compress, NoMappedAppends: !b.MappedAppends, Logger: log})
	}},
	"file": {usesDir: true, open: func(dir string, b Backend, log *zap.Logger) (backend.Backend, error) {
		mode := filebackend.SyncAlways
		if b.Sync == "none" {
			mode = filebackend.SyncNone
		}
		return filebackend.Open(dir, filebackend.Options{Sync: mode, Logger: log})
	}},
}

// BackendTypes returns the accepted values of backend.type, sorted.
func BackendTypes() []string {
	out := make([]string, 0, len(backendTypes))
	for t := range backendTypes {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// ServerOptions validates c, opens every enabled backend (creating its
// directory if the type keeps files) and returns the options of a
// server.Server. Each server.BackendSpec gets an Open function that opens
// the backend again the same way (used to enable it at run time); a backend
// with enable = false is not opened and starts disabled. On error the
// backends already opened are closed again.
func (c *Config) ServerOptions(logger *zap.Logger) (server.Options, error) {
	if err := c.Validate(); err != nil {
		return server.Options{}, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	n := &c.Node
	opts := server.Options{
		Listen:          slices.Clone(n.Listen),
		MaxPayload:      uint64(n.MaxPayload),
		RequestTimeout:  n.RequestTimeout.Duration,
		ShutdownTimeout: n.ShutdownTimeout.Duration,
		MaxInflight:     n.MaxInflight,
		UploadTimeout:   n.UploadTimeout.Duration,
		NotifyQueue:     n.NotifyQueue,
		Limits:          n.connLimits(),
		Logger:          logger,
		Remotes:         slices.Clone(n.Remotes),
		Peer: client.Config{
			PingInterval:    n.PingInterval.Duration,
			PingTimeout:     n.PingTimeout.Duration,
			SuspectAfter:    n.SuspectAfter,
			RefreshInterval: n.RefreshInterval.Duration,

			ProbesPerInterval: n.ProbesPerInterval,
			IndirectProbes:    indirectProbes(n.IndirectProbes),
			ConnectOnDemand:   n.ConnectOnDemand,
		},
		Recovery: server.RecoveryOptions{
			Dir:           filepath.Join(n.DataDir, "recovery"),
			Limits:        recovery.Limits{BytesPerSec: int64(c.Recovery.Rate), ObjectsPerSec: c.Recovery.ObjectsRate},
			Concurrency:   c.Recovery.Concurrency,
			Manual:        !c.Recovery.Auto,
			MergeDelay:    c.Recovery.MergeDelay.Duration,
			HandoffWindow: c.Recovery.HandoffWindow.Duration,
			LeaveAfter:    c.Recovery.LeaveAfter.Duration,
			AntiEntropy:   c.Recovery.AntiEntropy.Duration,
			Scrub:         c.Recovery.Scrub.Duration,
		},
		Monitor: server.MonitorOptions{
			HTTPAddr:  c.Monitor.HTTPAddr,
			TopLength: c.Monitor.TopLength,
			TopPeriod: c.Monitor.TopPeriod.Duration,
			Pprof:     c.Monitor.Pprof,
		},
		Script: c.Script.options(),
		Auth:   c.Security.options(&problems{}), // validated above
	}
	tr, err := c.TLS.Transport() // [tls]: listen and dial the other nodes with TLS
	if err != nil {
		return server.Options{}, err
	}
	if tr != nil {
		opts.Transport, opts.Peer.Dial = tr, tr.Dial
	}
	if opts.Recovery.HandoffWindow == 0 {
		opts.Recovery.HandoffWindow = -1 // "0s" in the file: off
	}
	if opts.Recovery.TombstoneTTL = c.Recovery.TombstoneTTL.Duration; opts.Recovery.TombstoneTTL == 0 {
		opts.Recovery.TombstoneTTL = -1 // likewise
	}
	fail := func(err error) (server.Options, error) {
		for _, s := range opts.Backends {
			if s.Backend != nil {
				_ = s.Backend.Close()
			}
		}
		return server.Options{}, err
	}
	for i, b := range c.Backends {
		t := backendTypes[b.Type]
		dir := ""
		if t.usesDir {
			dir = c.BackendDir(b)
		}
		blog := logger.With(zap.Int("backend", b.ID), zap.Int64("group", b.Group))
		open := func() (backend.Backend, error) {
			if dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, fmt.Errorf("cannot create directory %s: %w", dir, err)
				}
			}
			return t.open(dir, b, blog)
		}
		// Every backend, files or not, keeps its ring points in its
		// directory, so its share of the ring survives restarts; b.Points
		// only counts when the ids file is created.
		points, err := route.LoadOrCreatePoints(c.BackendDir(b), b.Points)
		if err != nil {
			return fail(fmt.Errorf("backend[%d]: ring points: %w", i, err))
		}
		spec := server.BackendSpec{
			ID:       int32(b.ID),
			Group:    uint32(b.Group),
			ReadOnly: b.ReadOnly,
			Open:     open,
			Disabled: !b.Enable,
			Points:   points,
		}
		if b.Enable {
			be, err := open()
			if err != nil {
				return fail(fmt.Errorf("backend[%d]: open %s backend %d: %w", i, b.Type, b.ID, err))
			}
			spec.Backend = be
		}
		opts.Backends = append(opts.Backends, spec)
	}
	return opts, nil
}

// Marshal returns c as a TOML document.
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	shown := *c
	shown.Security = c.Security.redacted() // secrets stay out of printouts
	if err := enc.Encode(&shown); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Duration is a time.Duration written in TOML as a Go duration string
// ("30s", "1m30s", "250ms").
type Duration struct {
	time.Duration
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	s := string(text)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit, like \"30s\", \"500ms\" or \"1m30s\"", s)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.Duration.String()), nil
}

// Byte multiples of Size.
const (
	B   = 1
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
	TiB = 1 << 40
)

// Size is a number of bytes. In TOML it is an integer of bytes or a string
// accepted by ParseSize.
type Size uint64

var sizeUnits = map[string]uint64{
	"": B, "b": B,
	"k": KiB, "kb": KiB, "kib": KiB,
	"m": MiB, "mb": MiB, "mib": MiB,
	"g": GiB, "gb": GiB, "gib": GiB,
	"t": TiB, "tb": TiB, "tib": TiB,
}

// ParseSize parses a whole number of bytes with an optional unit: B, KiB,
// MiB, GiB, TiB (K/M/G/T and KB/MB/GB/TB are the same powers of 1024; case
// and a space before the unit do not matter). "160MiB", "64 KiB", "4096".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if i == 0 || !ok {
		return 0, fmt.Errorf("invalid size %q: want a whole number with an optional unit B, KiB, MiB, GiB, TiB (like \"160MiB\")", s)
	}
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if err != nil || n > math.MaxUint64/unit {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(n * unit), nil
}

// String writes the size with the largest unit that divides it exactly
// ("160MiB", "1000B"); ParseSize reads it back.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		mult uint64
	}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if s != 0 && uint64(s)%u.mult == 0 {
			return strconv.FormatUint(uint64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(s), 10) + "B"
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// indirectProbes maps the file's "0 = none" to client.Config's negative.
func indirectProbes(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
