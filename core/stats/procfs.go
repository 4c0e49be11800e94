package stats

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// procRoot is where /proc is read from; tests point it elsewhere.
var procRoot = "/proc"

// ReadProc gathers the process's and host's figures. A figure whose
// source is missing or unreadable (no /proc: not Linux, a sandbox) is
// left out; reading never fails.
func ReadProc() *ProcStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p := &ProcStats{
		Goroutines: runtime.NumGoroutine(),
		HeapBytes:  ms.HeapAlloc,
		SysBytes:   ms.Sys,
		GCCount:    ms.NumGC,
	}
	p.LoadAvg = readLoadAvg(procRoot + "/loadavg")
	p.VM = readMemInfo(procRoot + "/meminfo")
	if rss, ok := readStatusField(procRoot+"/self/status", "VmRSS"); ok {
		p.RSSBytes = &rss
	}
	return p
}

// readLoadAvg parses the first three fields of /proc/loadavg.
func readLoadAvg(path string) []float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return nil
	}
	out := make([]float64, 3)
	for i := range out {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		out[i] = v
	}
	return out
}

// kbFields reads "Name:   123 kB" lines into bytes.
func kbFields(path string) map[string]uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			v <<= 10
		}
		out[name] = v
	}
	return out
}

func readMemInfo(path string) *HostMem {
	m := kbFields(path)
	total, ok := m["MemTotal"]
	if !ok {
		return nil
	}
	return &HostMem{TotalBytes: total, FreeBytes: m["MemFree"], AvailableBytes: m["MemAvailable"],
		CachedBytes: m["Cached"], BuffersBytes: m["Buffers"]}
}

func readStatusField(path, name string) (uint64, bool) {
	v, ok := kbFields(path)[name]
	return v, ok
}

// ReadDisk returns the figures of the file system holding dir, or nil if
// statfs fails (dir gone, not a file system path).
func ReadDisk(dir string) *DiskStats {
	if dir == "" {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil
	}
	bs := uint64(st.Bsize) //nolint:gosec // block size is positive
	return &DiskStats{TotalBytes: st.Blocks * bs, FreeBytes: st.Bavail * bs, TotalFiles: st.Files, FreeFiles: st.Ffree}
}
