package stats

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseCategories(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"", CategoryAll, true},
		{"all", CategoryAll, true},
		{"-1", CategoryAll, true},
		{"4", CategoryCommands, true},
		{"0x14", CategoryCommands | CategoryBackend, true},
		{"commands,backend", CategoryCommands | CategoryBackend, true},
		{" Procfs , top ", CategoryProcfs | CategoryTop, true},
		{"recovery", CategoryRecovery, true},
		{"commands,all", CategoryAll, true},
		{"nope", 0, false},
		{"commands,", 0, false},
	} {
		got, ok := ParseCategories(tc.in)
		require.Equal(t, tc.ok, ok, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
	}
	require.Contains(t, CategoryNames(), "procfs")
}

func TestTimestamp(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	ts := NewTimestamp(at)
	require.Equal(t, Timestamp{Sec: 1700000000, Usec: 123456}, ts)
	require.Equal(t, at.Truncate(time.Microsecond), ts.Time())
}

// The top-level names are the documented shape (docs/monitoring.md):
// clients in other languages read them.
func TestSnapshotJSONNames(t *testing.T) {
	s := Snapshot{MonitorStatus: "enabled", Commands: map[string]CommandStats{"WRITE": {Cmd: 4, Storage: &CommandFigures{Count: 1}}},
		Backends: map[string]BackendStats{"0": {}}, IO: &IOStats{}, Stats: &NodeStats{}, Procfs: &ProcStats{},
		Top: &TopStats{}}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"monitor_status", "timestamp", "string_timestamp", "address", "categories",
		"commands", "backends", "io", "stats", "procfs", "top"} {
		require.Contains(t, m, k)
	}
	b, err = json.Marshal(Snapshot{MonitorStatus: "enabled"})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotContains(t, string(b), "commands", "sections not asked for are left out")
}

func TestReadProc(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(text), 0o644))
	}
	write("loadavg", "0.50 1.25 2.00 3/456 7890\n")
	write("meminfo", "MemTotal:       16000 kB\nMemFree:        1000 kB\nMemAvailable:   8000 kB\nBuffers: 10 kB\nCached: 20 kB\n")
	write("self/status", "Name:\tellipticsd\nVmRSS:\t   2048 kB\n")
	old := procRoot
	procRoot = root
	defer func() { procRoot = old }()

	p := ReadProc()
	require.Equal(t, []float64{0.5, 1.25, 2}, p.LoadAvg)
	require.Equal(t, &HostMem{TotalBytes: 16000 << 10, FreeBytes: 1000 << 10, AvailableBytes: 8000 << 10,
		BuffersBytes: 10 << 10, CachedBytes: 20 << 10}, p.VM)
	require.Equal(t, uint64(2048<<10), *p.RSSBytes)
	require.NotZero(t, p.Goroutines)

	// No /proc at all: the figures are left out, nothing fails.
	procRoot = filepath.Join(root, "missing")
	p = ReadProc()
	require.Nil(t, p.LoadAvg)
	require.Nil(t, p.VM)
	require.Nil(t, p.RSSBytes)
	require.NotZero(t, p.HeapBytes)

	write("loadavg", "garbage\n")
	require.Nil(t, readLoadAvg(filepath.Join(root, "loadavg")))
}

func TestReadDisk(t *testing.T) {
	d := ReadDisk(t.TempDir())
	require.NotNil(t, d)
	require.NotZero(t, d.TotalBytes)
	require.LessOrEqual(t, d.FreeBytes, d.TotalBytes)
	require.Nil(t, ReadDisk(filepath.Join(t.TempDir(), "gone")))
	require.Nil(t, ReadDisk(""))
}
