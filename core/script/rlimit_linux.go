package script

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// limitAddressSpace caps pid's address space at what it has mapped now
// plus extra bytes. Relative, because a Go process reserves address space
// it never touches (a race-enabled one, terabytes).
func limitAddressSpace(pid int, extra int64) error {
	if extra < 0 {
		return nil
	}
	vsz, err := statField(pid, 22) // vsize, bytes
	if err != nil {
		return err
	}
	lim := uint64(vsz) + uint64(extra)
	return unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: lim, Max: lim}, nil)
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
