package script

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// limitMemory caps pid's private writable memory (RLIMIT_DATA:
// heap, thread stacks, anonymous mappings) at what it has now plus extra
// bytes. RLIMIT_DATA rather than RLIMIT_AS because a Go process reserves
// address space it never touches (arenas, and glibc's per-thread malloc
// arenas in a cgo binary, all PROT_NONE until used): under an AS limit a
// worker fails to start threads long before its heap is big.
func limitMemory(pid int, extra int64) error {
	if extra < 0 {
		return nil
	}
	data, err := statusKB(pid, "VmData")
	if err != nil {
		return err
	}
	lim := uint64(data)<<10 + uint64(extra)
	return unix.Prlimit(pid, unix.RLIMIT_DATA, &unix.Rlimit{Cur: lim, Max: lim}, nil)
}

// statusKB returns a "kB" field of /proc/pid/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// limitCPU lets pid use seconds more of CPU time from now; past it the
// kernel sends SIGXCPU, which ends the process. Only the soft limit moves:
// raising a hard limit needs privileges, and it moves up every call.
func limitCPU(pid int, seconds uint64) error {
	utime, err := statField(pid, 14)
	if err != nil {
		return err
	}
	stime, err := statField(pid, 15)
	if err != nil {
		return err
	}
	const ticks = 100 // USER_HZ on every Linux architecture Go supports
	used := uint64(utime+stime)/ticks + 1
	var cur unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_CPU, nil, &cur); err != nil {
		return err
	}
	cur.Cur = min(used+seconds, cur.Max)
	return unix.Prlimit(pid, unix.RLIMIT_CPU, &cur, nil)
}

// statField returns field n (1-based, as in proc(5)) of /proc/pid/stat.
func statField(pid, n int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields restart after ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	if n-3 >= len(fields) || n < 3 {
		return 0, fmt.Errorf("/proc/%d/stat: no field %d", pid, n)
	}
	return strconv.ParseInt(fields[n-3], 10, 64)
}
