package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server"
)

func TestDefault(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"127.0.0.1:1025"}, c.Node.Listen)
	require.Equal(t, []string{}, c.Node.Remotes)
	require.Equal(t, "info", c.Node.LogLevel)
	require.Equal(t, "console", c.Node.LogFormat)
	require.Equal(t, 30*time.Second, c.Node.RequestTimeout.Duration)
	require.Equal(t, 10*time.Second, c.Node.ShutdownTimeout.Duration)
	require.Equal(t, Size(160<<20), c.Node.MaxPayload)
	require.Equal(t, 1024, c.Node.MaxInflight)
	require.Equal(t, "./var", c.Node.DataDir)
	require.Equal(t, time.Second, c.Node.PingInterval.Duration)
	require.Equal(t, time.Second, c.Node.PingTimeout.Duration)
	require.Equal(t, 3, c.Node.SuspectAfter)
	require.Equal(t, 5*time.Second, c.Node.RefreshInterval.Duration)
	require.Equal(t, []Backend{testbackend(0, 1, "blob")}, c.Backends)
	require.Equal(t, route.DefaultPoints, c.Backends[0].Points)

	// Default returns a fresh value each time.
	c.Node.Listen[0] = "changed:1"
	c.Backends[0].Group = 9
	require.Equal(t, "127.0.0.1:1025", Default().Node.Listen[0])
	require.Equal(t, int64(1), Default().Backends[0].Group)
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n", "[node]\n"} {
		c, err := Parse([]byte(doc))
		require.NoError(t, err, doc)
		require.Equal(t, Default(), c, doc)
	}
}

func TestExampleFileIsDefault(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "node.example.toml")
	c, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, Default(), c)

	// The example sets every key: every field of Node and Backend appears.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, key := range []string{"listen", "remotes", "log_level", "log_format", "request_timeout",
		"shutdown_timeout", "max_payload", "max_inflight", "data_dir",
		"ping_interval", "ping_timeout", "suspect_after", "refresh_interval", "upload_timeout",
		"notify_queue", "probes_per_interval", "connect_on_demand",
		"id", "group", "type", "dir", "read_only", "enable", "sync", "sync_interval", "blob_size",
		"records_in_blob", "compress", "points",
		"auto", "rate", "objects_rate", "concurrency", "merge_delay", "leave_after", "tombstone_ttl", "anti_entropy", "handoff_window",
		"http_addr", "top_length", "top_period", "pprof",
		"addr", "groups", "max_body", "max_key", "chunk", "idle_timeout", "spool_dir",
		"enabled", "steps", "timeout", "read_bytes", "write_bytes", "result_bytes", "memory", "reload",
		"isolation", "worker_memory", "max_bulk_keys"} {
		require.Contains(t, string(data), "\n"+key+" = ", key)
	}
}

func TestLoadFixtures(t *testing.T) {
	full := Config{
		Node: Node{
			Listen:          []string{"127.0.0.1:2025", "[::1]:2026", ":2027"},
			Remotes:         []string{"10.0.0.2:1025", "node3.example:1025"},
			LogLevel:        "debug",
			LogFormat:       "json",
			RequestTimeout:  Duration{90 * time.Second},
			ShutdownTimeout: Duration{500 * time.Millisecond},
			MaxPayload:      64 * MiB,
			MaxInflight:     16,
			DataDir:         "/srv/elliptics",
			PingInterval:    Duration{250 * time.Millisecond},
			PingTimeout:     Duration{2 * time.Second},
			SuspectAfter:    5, IndirectProbes: 3,
			RefreshInterval: Duration{time.Minute},
			UploadTimeout:   Duration{2 * time.Hour},
			NotifyQueue:     64,

			ProbesPerInterval: 4,
			ConnectOnDemand:   true,

			MaxConnsPerAddr: 1024, FrameTimeout: Duration{30 * time.Second}, HandshakeTimeout: Duration{10 * time.Second},
			MaxBulkKeys: 65536,
		},
		Backends: []Backend{
			withPoints(withDir(withDisabled(withReadOnly(testbackend(3, 2, "mem"))), "/mnt/disk1"), 64),
			testbackend(7, 5, "blob"),
		},
		Recovery: Recovery{Auto: false, Rate: 10 * MiB, ObjectsRate: 500, Concurrency: 3, MergeDelay: Duration{5 * time.Second},
			LeaveAfter: Duration{time.Hour}, TombstoneTTL: Duration{48 * time.Hour},
			AntiEntropy: Duration{12 * time.Hour}, Scrub: Duration{72 * time.Hour}},
		Monitor: Monitor{HTTPAddr: "127.0.0.1:8080", TopLength: 20, TopPeriod: Duration{time.Minute}, Pprof: true},
		HTTP: HTTP{Addr: ":8081", Groups: []int64{2, 5}, MaxBody: GiB, MaxKey: 512, Chunk: MiB,
			IdleTimeout: Duration{30 * time.Second}, SpoolDir: "/srv/spool"},
		Script: Script{Enabled: false, Steps: 1000, Timeout: Duration{2 * time.Second}, ReadBytes: MiB, WriteBytes: 2 * MiB,
			ResultBytes: 3 * MiB, Memory: 64 * MiB, Concurrency: 4, Reload: Duration{time.Minute},
			Isolation: "process", WorkerMemory: 512 * MiB},
	}
	partial := Default()
	partial.Node.Listen = []string{"0.0.0.0:1025"}
	partial.Node.MaxPayload = MiB
	partial.Backends = []Backend{testbackend(0, 2, "blob"), testbackend(1, 3, "blob")}

	for _, tc := range []struct {
		file string
		want Config
	}{
		{"full.toml", full},
		{"partial.toml", partial},
		{"empty.toml", Default()},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			require.Equal(t, tc.want, c)
		})
	}
}

func TestLoadBadFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"bad_unknown_key.toml", []string{"bad_unknown_key.toml: line 3: unknown key node.lissten"}},
		{"bad_syntax.toml", []string{"bad_syntax.toml: line 1"}},
		{"bad_listen.toml", []string{
			`node.listen[1]: "127.0.0.1:70000": port 70000 out of range 0..65535`,
			`node.listen[2]: "nohost": want host:port (missing port in address)`,
		}},
		{"bad_duration.toml", []string{"line 2", "node.request_timeout", `invalid duration "30 seconds"`}},
		{"bad_backend.toml", []string{
			"backend[1].id: 1 already used by backend[0]",
			"backend[1].group: must be > 0, got 0",
			`backend[1].type: unknown type "rocksdb" (known: blob, file, mem)`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := Load(path)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), path+": "), err.Error())
			require.NotContains(t, err.Error(), "\n")
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "nope.toml")
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"unknown key", "[node]\nlisten = []\nfoo = 1\n", "line 3: unknown key node.foo"},
		{"unknown table", "[nodes]\nlisten = []\n", "line 1: unknown table nodes"},
		{"unknown backend key", "[[backend]]\nid = 0\ngroups = 2\n", "line 3: unknown key backend.groups"},
		{"unknown top-level key", "listen = [\"a:1\"]\n", "line 1: unknown key listen"},
		{"listen empty", "[node]\nlisten = []\n", "node.listen: needs at least one address"},
		{"listen no port", "[node]\nlisten = [\"127.0.0.1\"]\n", `node.listen[0]: "127.0.0.1": want host:port (missing port in address)`},
		{"listen port too big", "[node]\nlisten = [\"127.0.0.1:65536\"]\n", `node.listen[0]: "127.0.0.1:65536": port 65536 out of range 0..65535`},
		{"listen port not a number", "[node]\nlisten = [\"127.0.0.1:http\"]\n", `node.listen[0]: "127.0.0.1:http": port "http" is not a number`},
		{"listen negative port", "[node]\nlisten = [\"127.0.0.1:-1\"]\n", `node.listen[0]: "127.0.0.1:-1": port "-1" is not a number`},
		{"listen not a string", "[node]\nlisten = [1025]\n", "line 2, column 11: node.listen: got a TOML integer, want a string"},
		{"listen ipv6 without brackets", "[node]\nlisten = [\"::1:1025\"]\n", `node.listen[0]: "::1:1025": want host:port (too many colons in address)`},
		{"remote port 0", "[node]\nremotes = [\"10.0.0.1:0\"]\n", `node.remotes[0]: "10.0.0.1:0": port must be 1..65535`},
		{"remote no host", "[node]\nremotes = [\":1025\"]\n", `node.remotes[0]: ":1025": missing host`},
		{"remote port out of range", "[node]\nremotes = [\"a:99999\"]\n", `node.remotes[0]: "a:99999": port 99999 out of range 0..65535`},
		{"log level", "[node]\nlog_level = \"verbose\"\n", `node.log_level: "verbose" is not one of debug, info, warn, error`},
		{"log format", "[node]\nlog_format = \"text\"\n", `node.log_format: "text" is not one of console, json`},
		{"duration no unit", "[node]\nrequest_timeout = \"30\"\n", `line 2, column 19: node.request_timeout: invalid duration "30"`},
		{"duration integer", "[node]\nrequest_timeout = 30\n", `node.request_timeout: invalid duration "30"`},
		{"duration boolean", "[node]\nshutdown_timeout = true\n", `node.shutdown_timeout: invalid duration "true"`},
		{"duration array", "[node]\nshutdown_timeout = [\"1s\"]\n", "node.shutdown_timeout: got a TOML array"},
		{"size boolean", "[node]\nmax_payload = true\n", `node.max_payload: invalid size "true"`},
		{"size float", "[node]\nmax_payload = 1.5\n", `node.max_payload: invalid size "1.5"`},
		{"listen not an array", "[node]\nlisten = \"a:1\"\n", "line 2, column 10: node.listen: got a TOML string, want an array of strings"},
		{"max inflight string", "[node]\nmax_inflight = \"8\"\n", "node.max_inflight: got a TOML string, want an integer"},
		{"duration garbage", "[node]\nshutdown_timeout = \"soon\"\n", `node.shutdown_timeout: invalid duration "soon"`},
		{"duration zero", "[node]\nrequest_timeout = \"0s\"\n", "node.request_timeout: must be > 0, got 0s"},
		{"duration negative", "[node]\nshutdown_timeout = \"-1s\"\n", "node.shutdown_timeout: must be > 0, got -1s"},
		{"size garbage", "[node]\nmax_payload = \"lots\"\n", `node.max_payload: invalid size "lots"`},
		{"size bad unit", "[node]\nmax_payload = \"10PB\"\n", `node.max_payload: invalid size "10PB"`},
		{"size fraction", "[node]\nmax_payload = \"1.5MiB\"\n", `node.max_payload: invalid size "1.5MiB"`},
		{"size negative string", "[node]\nmax_payload = \"-1MiB\"\n", `node.max_payload: invalid size "-1MiB"`},
		{"size negative integer", "[node]\nmax_payload = -1\n", "node.max_payload: negative integer value -1"},
		{"size overflow", "[node]\nmax_payload = \"99999999999TiB\"\n", `invalid size "99999999999TiB": too large`},
		{"size too small", "[node]\nmax_payload = 1023\n", "node.max_payload: must be between 1KiB and 4GiB, got 1023B"},
		{"size too big", "[node]\nmax_payload = \"5GiB\"\n", "node.max_payload: must be between 1KiB and 4GiB, got 5GiB"},
		{"max inflight zero", "[node]\nmax_inflight = 0\n", "node.max_inflight: must be >= 1, got 0"},
		{"monitor addr", "[monitor]\nhttp_addr = \"nope\"\n", "monitor.http_addr: "},
		{"monitor top length", "[monitor]\ntop_length = 0\n", "monitor.top_length: must be between 1 and 10000, got 0"},
		{"monitor top period", "[monitor]\ntop_period = \"0s\"\n", "monitor.top_period: must be > 0, got 0s"},
		{"http addr", "[http]\naddr = \"nope\"\n", "http.addr: "},
		{"http group zero", "[http]\ngroups = [1, 0]\n", "http.groups: group [1] must be in 1..4294967295, got 0"},
		{"http max body", "[http]\nmax_body = 0\n", "http.max_body: must be > 0, got 0B"},
		{"http max key", "[http]\nmax_key = 0\n", "http.max_key: must be in 1..16384, got 0"},
		{"http chunk small", "[http]\nchunk = 1024\n", "http.chunk: must be between 4KiB and 64MiB, got 1KiB"},
		{"http chunk over frame", "[node]\nmax_payload = \"2MiB\"\n[http]\naddr = \":0\"\n",
			"http.chunk: 4MiB does not fit in a frame of node.max_payload 2MiB"},
		{"http idle timeout", "[http]\nidle_timeout = \"0s\"\n", "http.idle_timeout: must be > 0, got 0s"},
		{"script steps", "[script]\nsteps = 0\n", "script.steps: must be >= 1, got 0"},
		{"script timeout", "[script]\ntimeout = \"0s\"\n", "script.timeout: must be in 1ms..1h0m0s, got 0s"},
		{"script timeout over request", "[node]\nrequest_timeout = \"2s\"\n[script]\ntimeout = \"3s\"\n",
			"script.timeout: 3s is longer than node.request_timeout (2s)"},
		{"script memory", "[script]\nmemory = 0\n", "script.memory: must be > 0, got 0B"},
		{"script concurrency", "[script]\nconcurrency = -1\n", "script.concurrency: must be in 0.."},
		{"max bulk keys", "[node]\nmax_bulk_keys = 10\n", "node.max_bulk_keys: must be in 1024..65536, got 10"},
		{"script reload", "[script]\nreload = \"0s\"\n", "script.reload: must be > 0, got 0s"},
		{"script isolation", "[script]\nisolation = \"vm\"\n", `script.isolation: "vm" is not one of none, process`},
		{"script worker memory", "[script]\nworker_memory = \"1MiB\"\n", "script.worker_memory: must be >= 64MiB, got 1MiB"},
		{"max inflight negative", "[node]\nmax_inflight = -5\n", "node.max_inflight: must be >= 1, got -5"},
		{"data dir empty", "[node]\ndata_dir = \"\"\n", "node.data_dir: must not be empty"},
		{"ping interval zero", "[node]\nping_interval = \"0s\"\n", "node.ping_interval: must be > 0, got 0s"},
		{"ping interval integer", "[node]\nping_interval = 1\n", `node.ping_interval: invalid duration "1"`},
		{"ping timeout negative", "[node]\nping_timeout = \"-1s\"\n", "node.ping_timeout: must be > 0, got -1s"},
		{"ping timeout garbage", "[node]\nping_timeout = \"fast\"\n", `node.ping_timeout: invalid duration "fast"`},
		{"suspect after zero", "[node]\nsuspect_after = 0\n", "node.suspect_after: must be > 0, got 0"},
		{"probes per interval zero", "[node]\nprobes_per_interval = 0\n", "node.probes_per_interval: must be >= 1, got 0"},
		{"suspect after negative", "[node]\nsuspect_after = -2\n", "node.suspect_after: must be > 0, got -2"},
		{"suspect after string", "[node]\nsuspect_after = \"3\"\n", "node.suspect_after: got a TOML string, want an integer"},
		{"refresh interval zero", "[node]\nrefresh_interval = \"0s\"\n", "node.refresh_interval: must be > 0, got 0s"},
		{"upload timeout zero", "[node]\nupload_timeout = \"0s\"\n", "node.upload_timeout: must be > 0, got 0s"},
		{"refresh interval boolean", "[node]\nrefresh_interval = false\n", `node.refresh_interval: invalid duration "false"`},
		{"backend points zero", "[[backend]]\npoints = 0\n", "backend[0].points: must be between 1 and 4096, got 0"},
		{"backend points negative", "[[backend]]\npoints = -1\n", "backend[0].points: must be between 1 and 4096, got -1"},
		{"backend points too many", "[[backend]]\npoints = 4097\n", "backend[0].points: must be between 1 and 4096, got 4097"},
		{"backend points string", "[[backend]]\npoints = \"16\"\n", "backend.points: got a TOML string, want an integer"},
		{"backend id negative", "[[backend]]\nid = -1\n", "backend[0].id: must be >= 0, got -1"},
		{"backend id too big", "[[backend]]\nid = 2147483648\n", "backend[0].id: must be <= 2147483647, got 2147483648"},
		{"backend id duplicate", "[[backend]]\nid = 4\n[[backend]]\nid = 4\n", "backend[1].id: 4 already used by backend[0]"},
		{"backend id duplicate by default", "[[backend]]\n[[backend]]\nid = 0\n", "backend[1].id: 0 already used by backend[0]"},
		{"backend group zero", "[[backend]]\ngroup = 0\n", "backend[0].group: must be > 0, got 0"},
		{"backend group negative", "[[backend]]\ngroup = -3\n", "backend[0].group: must be > 0, got -3"},
		{"backend group too big", "[[backend]]\ngroup = 4294967296\n", "backend[0].group: must be <= 4294967295, got 4294967296"},
		{"backend type unknown", "[[backend]]\ntype = \"blobby\"\n", `backend[0].type: unknown type "blobby" (known: blob, file, mem)`},
		{"backend type empty", "[[backend]]\ntype = \"\"\n", `backend[0].type: unknown type "" (known: blob, file, mem)`},
		{"backend wrong type", "[[backend]]\nread_only = \"yes\"\n", "backend.read_only: got a TOML string, want a boolean"},
		{"syntax", "[node]\nlisten = [\"a:1\"\n", "line 2"},
		{"duplicate key", "[node]\nmax_inflight = 1\nmax_inflight = 2\n", "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Node.Listen = []string{"bad"}
	c.Node.MaxInflight = 0
	c.Backends = append(c.Backends, withDisabled(testbackend(0, 0, "mem")))
	err := c.Validate()
	require.ErrorContains(t, err, "node.listen[0]: ")
	require.ErrorContains(t, err, "node.max_inflight: ")
	require.ErrorContains(t, err, "backend[1].id: ")
	require.ErrorContains(t, err, "backend[1].group: ")

	c.Backends = nil
	require.ErrorContains(t, c.Validate(), "backend: needs at least one [[backend]]")
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"4096", 4096},
		{"10B", 10},
		{"1KiB", KiB},
		{"1K", KiB},
		{"1KB", KiB},
		{"1kb", KiB},
		{"64 KiB", 64 * KiB},
		{" 2MiB ", 2 * MiB},
		{"160MiB", 160 * MiB},
		{"3M", 3 * MiB},
		{"3MB", 3 * MiB},
		{"4GiB", 4 * GiB},
		{"4G", 4 * GiB},
		{"1GB", GiB},
		{"2TiB", 2 * TiB},
		{"16777215TiB", 16777215 * TiB},
	} {
		got, err := ParseSize(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, in := range []string{"", " ", "MiB", "1.5MiB", "-1", "1 2", "1XiB", "1PiB", "1e6", "0x10", "16777216TiB", "18446744073709551616"} {
		_, err := ParseSize(in)
		require.Error(t, err, in)
	}
}

func TestSizeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		size Size
		text string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1000B"},
		{KiB, "1KiB"},
		{1536, "1536B"},
		{3 * KiB, "3KiB"},
		{160 * MiB, "160MiB"},
		{MiB + KiB, "1025KiB"},
		{4 * GiB, "4GiB"},
		{5 * TiB, "5TiB"},
		{1<<64 - 1, "18446744073709551615B"},
	} {
		b, err := tc.size.MarshalText()
		require.NoError(t, err)
		require.Equal(t, tc.text, string(b))
		require.Equal(t, tc.text, tc.size.String())
		var back Size
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, tc.size, back)
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		text string
		want time.Duration
		out  string
	}{
		{"30s", 30 * time.Second, "30s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"1m30s", 90 * time.Second, "1m30s"},
		{"90s", 90 * time.Second, "1m30s"},
		{"10m", 10 * time.Minute, "10m0s"},
		{"2h", 2 * time.Hour, "2h0m0s"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"-1s", -time.Second, "-1s"},
	} {
		var d Duration
		require.NoError(t, d.UnmarshalText([]byte(tc.text)), tc.text)
		require.Equal(t, tc.want, d.Duration, tc.text)
		out, err := d.MarshalText()
		require.NoError(t, err)
		require.Equal(t, tc.out, string(out))
		var back Duration
		require.NoError(t, back.UnmarshalText(out))
		require.Equal(t, d, back)
	}
	var d Duration
	for _, bad := range []string{"", "30", "soon", "1 s"} {
		require.Error(t, d.UnmarshalText([]byte(bad)), bad)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	full, err := Load(filepath.Join("testdata", "full.toml"))
	require.NoError(t, err)
	for _, c := range []Config{Default(), full} {
		out, err := c.Marshal()
		require.NoError(t, err)
		back, err := Parse(out)
		require.NoError(t, err, string(out))
		require.Equal(t, c, back, string(out))
	}
	def := Default()
	out, err := def.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(out), "max_payload = '160MiB'")
	require.Contains(t, string(out), "request_timeout = '30s'")
	require.Contains(t, string(out), "remotes = []")
}

func TestBackendDir(t *testing.T) {
	c := Default()
	c.Node.DataDir = "/data"
	require.Equal(t, filepath.Join("/data", "backend-0"), c.BackendDir(c.Backends[0]))
	require.Equal(t, filepath.Join("/data", "backend-12"), c.BackendDir(Backend{ID: 12}))
	require.Equal(t, "/elsewhere", c.BackendDir(Backend{ID: 12, Dir: "/elsewhere"}))
}

func TestServerOptions(t *testing.T) {
	c := Default()
	c.Node.Listen = []string{"127.0.0.1:0"}
	c.Node.MaxPayload = 2 * MiB
	c.Node.RequestTimeout = Duration{5 * time.Second}
	c.Node.ShutdownTimeout = Duration{time.Second}
	c.Node.MaxInflight = 7
	c.Backends = []Backend{testbackend(0, 1, "mem"), withReadOnly(testbackend(5, 4294967295, "mem"))}
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:0"}, opts.Listen)
	require.Equal(t, uint64(2<<20), opts.MaxPayload)
	require.Equal(t, 5*time.Second, opts.RequestTimeout)
	require.Equal(t, time.Second, opts.ShutdownTimeout)
	require.Equal(t, 7, opts.MaxInflight)
	require.Equal(t, client.Config{PingInterval: time.Second, PingTimeout: time.Second, SuspectAfter: 3,
		RefreshInterval: 5 * time.Second, ProbesPerInterval: 16, IndirectProbes: 2}, opts.Peer, "peer settings at their defaults")
	c.Node.ConnectOnDemand = true
	opts, err = c.ServerOptions(nil)
	require.NoError(t, err)
	require.True(t, opts.Peer.ConnectOnDemand)
	require.Len(t, opts.Backends, 2)
	require.Equal(t, int32(5), opts.Backends[1].ID)
	require.Equal(t, uint32(4294967295), opts.Backends[1].Group)
	require.True(t, opts.Backends[1].ReadOnly)
	require.False(t, opts.Backends[0].ReadOnly)
	require.IsType(t, &mem.Backend{}, opts.Backends[0].Backend)
	require.NotSame(t, opts.Backends[0].Backend, opts.Backends[1].Backend)

	// The options make a working server.
	srv, err := server.New(opts)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	require.Len(t, srv.Addrs(), 1)
	require.NoError(t, srv.Shutdown(context.Background()))

	bad := Default()
	bad.Backends[0].Group = 0
	_, err = bad.ServerOptions(nil)
	require.ErrorContains(t, err, "backend[0].group")
}

// fakeBackend records whether it was closed.
type fakeBackend struct {
	backend.Backend
	dir    string
	closed bool
}

func (f *fakeBackend) Close() error { f.closed = true; return nil }

// withType registers a backend type for one test (tests using it must not
// run in parallel).
func withType(t *testing.T, name string, typ backendType) {
	t.Helper()
	backendTypes[name] = typ
	t.Cleanup(func() { delete(backendTypes, name) })
}

func TestServerOptionsDirectories(t *testing.T) {
	var opened []*fakeBackend
	withType(t, "disk", backendType{usesDir: true, open: func(dir string, b Backend, _ *zap.Logger) (backend.Backend, error) {
		f := &fakeBackend{Backend: mem.New(), dir: dir}
		opened = append(opened, f)
		return f, nil
	}})
	root := t.TempDir()
	c := Default()
	c.Node.DataDir = filepath.Join(root, "var")
	c.Backends = []Backend{
		testbackend(0, 1, "disk"),
		withDir(testbackend(1, 1, "disk"), filepath.Join(root, "explicit", "b1")),
		testbackend(2, 1, "mem"),
	}
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	require.Len(t, opts.Backends, 3)
	require.Len(t, opened, 2)
	require.Equal(t, filepath.Join(root, "var", "backend-0"), opened[0].dir)
	require.Equal(t, filepath.Join(root, "explicit", "b1"), opened[1].dir)
	for _, f := range opened {
		st, err := os.Stat(f.dir)
		require.NoError(t, err)
		require.True(t, st.IsDir())
	}
	// The "mem" backend keeps only its ring points on disk.
	entries, err := os.ReadDir(filepath.Join(root, "var", "backend-2"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, route.IDsFileName, entries[0].Name())

	// Two dir backends may not share a directory.
	c.Backends[1].Dir = filepath.Join(c.Node.DataDir, "backend-0") + "/"
	require.ErrorContains(t, c.Validate(), "backend[1].dir: "+filepath.Join(root, "var", "backend-0")+" is already the directory of backend[0]")

	// A directory that cannot be created is reported, and backends opened
	// before it are closed again.
	opened = nil
	blocker := filepath.Join(root, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o644))
	c.Backends[1].Dir = filepath.Join(blocker, "sub")
	_, err = c.ServerOptions(nil)
	require.ErrorContains(t, err, "backend[1]: ring points")
	require.ErrorContains(t, err, blocker)
	require.Len(t, opened, 1)
	require.True(t, opened[0].closed)
}

func TestServerOptionsOpenError(t *testing.T) {
	withType(t, "broken", backendType{open: func(string, Backend, *zap.Logger) (backend.Backend, error) {
		return nil, os.ErrPermission
	}})
	c := Default()
	c.Backends = []Backend{testbackend(0, 1, "mem"), testbackend(9, 1, "broken")}
	opts, err := c.ServerOptions(nil)
	require.ErrorIs(t, err, os.ErrPermission)
	require.ErrorContains(t, err, "backend[1]: open broken backend 9")
	require.Empty(t, opts.Backends)
}

// A backend with enable = false is not opened at start; the Open function
// of every backend opens the same type in the same directory again.
func TestServerOptionsEnableAndReopen(t *testing.T) {
	var opened []string
	withType(t, "disk", backendType{usesDir: true, open: func(dir string, b Backend, _ *zap.Logger) (backend.Backend, error) {
		opened = append(opened, dir)
		return &fakeBackend{Backend: mem.New(), dir: dir}, nil
	}})
	root := t.TempDir()
	c, err := Parse([]byte(`[node]
data_dir = "` + filepath.ToSlash(root) + `"

[[backend]]
type = "disk"

[[backend]]
type = "disk"
enable = false

[[backend]]
type = "mem"
enable = false
`))
	require.NoError(t, err)
	require.True(t, c.Backends[0].Enable, "enable defaults to true")
	require.False(t, c.Backends[1].Enable)
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(root, "backend-0")}, opened, "disabled backends are not opened")
	require.False(t, opts.Backends[0].Disabled)
	require.NotNil(t, opts.Backends[0].Backend)
	for _, i := range []int{1, 2} {
		require.True(t, opts.Backends[i].Disabled)
		require.Nil(t, opts.Backends[i].Backend)
		require.NotNil(t, opts.Backends[i].Open)
	}

	// Open opens the type again, in the backend's directory (created).
	require.NoError(t, os.RemoveAll(filepath.Join(root, "backend-0")))
	be, err := opts.Backends[0].Open()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "backend-0"), be.(*fakeBackend).dir)
	require.DirExists(t, filepath.Join(root, "backend-0"))
	be, err = opts.Backends[1].Open()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "backend-1"), be.(*fakeBackend).dir)
	be, err = opts.Backends[2].Open()
	require.NoError(t, err)
	require.IsType(t, &mem.Backend{}, be)
	require.Len(t, opened, 3)

	// The options make a server whose disabled backends can be enabled.
	opts.Listen = []string{"127.0.0.1:0"}
	srv, err := server.New(opts)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	defer func() { _ = srv.Shutdown(context.Background()) }()
	st, err := srv.ControlBackend(context.Background(), 1, proto.ControlEnable)
	require.NoError(t, err)
	require.Equal(t, proto.StateEnabled, st.State)
	require.Len(t, opened, 4)
}

func TestBackendTypes(t *testing.T) {
	require.Equal(t, []string{"blob", "file", "mem"}, BackendTypes())
	// The in-memory backend opens empty.
	be := backendTypes["mem"]
	b, err := be.open("", Backend{}, zap.NewNop())
	require.NoError(t, err)
	_, _, err = b.Read(context.Background(), backend.Key{ID: id.ID{}}, 0, 0)
	require.Error(t, err)
	require.NoError(t, b.Close())
}

func testbackend(id int, group int64, typ string) Backend {
	b := DefaultBackend(id)
	b.Group, b.Type = group, typ
	return b
}

func withReadOnly(b Backend) Backend { b.ReadOnly = true; return b }
func withDisabled(b Backend) Backend { b.Enable = false; return b }

func withDir(b Backend, dir string) Backend { b.Dir = dir; return b }

func withPoints(b Backend, n int) Backend { b.Points = n; return b }

func TestBlobAndFileOptions(t *testing.T) {
	root := t.TempDir()
	c, err := Parse([]byte(`
[node]
listen = ["127.0.0.1:0"]
data_dir = "` + root + `"

[[backend]]
type = "blob"
sync = "interval"
sync_interval = "50ms"
blob_size = "64MiB"
records_in_blob = 1000
compress = true

[[backend]]
group = 2
type = "file"
sync = "none"
`))
	require.NoError(t, err)
	require.Equal(t, "interval", c.Backends[0].Sync)
	require.Equal(t, 50*time.Millisecond, c.Backends[0].SyncInterval.Duration)
	require.Equal(t, Size(64*MiB), c.Backends[0].BlobSize)
	require.Equal(t, int64(1000), c.Backends[0].RecordsInBlob)
	require.True(t, c.Backends[0].Compress)
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	defer func() {
		for _, b := range opts.Backends {
			_ = b.Backend.Close()
		}
	}()
	require.DirExists(t, filepath.Join(root, "backend-0"))
	require.FileExists(t, filepath.Join(root, "backend-1", "FORMAT"))

	for _, bad := range []struct{ doc, want string }{
		{"[[backend]]\nsync = \"sometimes\"\n", "backend[0].sync"},
		{"[[backend]]\ntype = \"file\"\nsync = \"interval\"\n", "blob backend only"},
		{"[[backend]]\nblob_size = \"1KiB\"\n", "backend[0].blob_size"},
		{"[[backend]]\nrecords_in_blob = 0\n", "backend[0].records_in_blob"},
		{"[[backend]]\nsync_interval = \"-1s\"\n", "backend[0].sync_interval"},
	} {
		_, err := Parse([]byte(bad.doc))
		require.ErrorContains(t, err, bad.want, bad.doc)
	}
}

// The [node] peer keys reach server.Options.Peer.
func TestServerOptionsPeer(t *testing.T) {
	c, err := Parse([]byte(`[node]
listen = ["127.0.0.1:0"]
data_dir = "` + filepath.ToSlash(t.TempDir()) + `"
ping_interval = "200ms"
ping_timeout = "150ms"
suspect_after = 7
refresh_interval = "2s"

[[backend]]
type = "mem"
`))
	require.NoError(t, err)
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	require.Equal(t, 200*time.Millisecond, opts.Peer.PingInterval)
	require.Equal(t, 150*time.Millisecond, opts.Peer.PingTimeout)
	require.Equal(t, 7, opts.Peer.SuspectAfter)
	require.Equal(t, 2*time.Second, opts.Peer.RefreshInterval)

	srv, err := server.New(opts)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	defer func() { _ = srv.Shutdown(context.Background()) }()
	got := srv.Peers().Config()
	require.Equal(t, 200*time.Millisecond, got.PingInterval)
	require.Equal(t, 150*time.Millisecond, got.PingTimeout)
	require.Equal(t, 7, got.SuspectAfter)
	require.Equal(t, 2*time.Second, got.RefreshInterval)
}

// backend.points counts only when the ids file is created: the points are
// persisted, and a later change of the key leaves them alone.
func TestBackendPoints(t *testing.T) {
	root := t.TempDir()
	doc := func(points string) []byte {
		return []byte(`[node]
data_dir = "` + filepath.ToSlash(root) + `"

[[backend]]
type = "mem"
` + points + `

[[backend]]
type = "mem"
group = 2
`)
	}
	c, err := Parse(doc("points = 5"))
	require.NoError(t, err)
	require.Equal(t, 5, c.Backends[0].Points)
	require.Equal(t, DefaultPoints, c.Backends[1].Points)
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	require.Len(t, opts.Backends[0].Points, 5)
	require.Len(t, opts.Backends[1].Points, route.DefaultPoints)
	first := opts.Backends[0].Points
	ids, err := os.ReadFile(filepath.Join(root, "backend-0", route.IDsFileName))
	require.NoError(t, err)
	require.Equal(t, 1+5, strings.Count(string(ids), "\n"), "header and five points")

	for _, later := range []string{"points = 100", ""} {
		c, err = Parse(doc(later))
		require.NoError(t, err)
		opts, err = c.ServerOptions(nil)
		require.NoError(t, err)
		require.Equal(t, first, opts.Backends[0].Points, "points are read back, %q ignored", later)
	}
	after, err := os.ReadFile(filepath.Join(root, "backend-0", route.IDsFileName))
	require.NoError(t, err)
	require.Equal(t, ids, after, "the ids file is never rewritten")
}

// Anti-entropy must run more often than removes are forgotten.
func TestAntiEntropyNeedsTombstones(t *testing.T) {
	_, err := Parse([]byte("[recovery]\nanti_entropy = \"48h\"\ntombstone_ttl = \"24h\"\n"))
	require.ErrorContains(t, err, "recovery.anti_entropy")
	_, err = Parse([]byte("[recovery]\nanti_entropy = \"1h\"\ntombstone_ttl = \"0s\"\n"))
	require.ErrorContains(t, err, "shorter than recovery.tombstone_ttl")
	c, err := Parse([]byte("[recovery]\nanti_entropy = \"0s\"\ntombstone_ttl = \"0s\"\n"))
	require.NoError(t, err)
	require.Zero(t, c.Recovery.AntiEntropy.Duration)
}
