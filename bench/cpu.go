package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of the times in /proc/PID/stat; it is 100
// on every Linux platform Go supports.
const clockTick = 10 * time.Millisecond

// ProcessCPU returns the CPU time (user + system, all threads) process pid
// has used so far; pid 0 means this process. It reads /proc and so works on
// Linux only (ok is false elsewhere). The resolution is 10ms.
func ProcessCPU(pid int) (d time.Duration, ok bool) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

// Counters are cumulative per-process counters from /proc.
type Counters struct {
	CPU         time.Duration // user + system
	ReadCalls   uint64        // read-like syscalls (syscr: read, recvfrom, ...)
	WriteCalls  uint64        // write-like syscalls (syscw: write, sendto, ...)
	CtxSwitches uint64        // voluntary + involuntary, summed over live threads

	// Machine-wide, from /proc/stat (set by MachineCounters, not
	// ProcessCounters): every CPU's non-idle time (user, nice, system, irq,
	// softirq) and the time the hypervisor ran something else (steal).
	MachineBusy  time.Duration
	MachineSteal time.Duration
}

// Add returns c + o.
func (c Counters) Add(o Counters) Counters {
	return Counters{CPU: c.CPU + o.CPU, ReadCalls: c.ReadCalls + o.ReadCalls,
		WriteCalls: c.WriteCalls + o.WriteCalls, CtxSwitches: c.CtxSwitches + o.CtxSwitches,
		MachineBusy: c.MachineBusy + o.MachineBusy, MachineSteal: c.MachineSteal + o.MachineSteal}
}

// Sub returns c - o.
func (c Counters) Sub(o Counters) Counters {
	return Counters{CPU: c.CPU - o.CPU, ReadCalls: c.ReadCalls - o.ReadCalls,
		WriteCalls: c.WriteCalls - o.WriteCalls, CtxSwitches: c.CtxSwitches - o.CtxSwitches,
		MachineBusy: c.MachineBusy - o.MachineBusy, MachineSteal: c.MachineSteal - o.MachineSteal}
}

// ProcessCounters reads the counters of process pid (0 = this process).
// Linux only; fields that cannot be read stay zero.
func ProcessCounters(pid int) Counters {
	var c Counters
	c.CPU, _ = ProcessCPU(pid)
	dir := "/proc/self"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d", pid)
	}
	if data, err := os.ReadFile(dir + "/io"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(line, ":")
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			switch k {
			case "syscr":
				c.ReadCalls = n
			case "syscw":
				c.WriteCalls = n
			}
		}
	}
	tasks, _ := os.ReadDir(dir + "/task")
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/task/" + t.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches" {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				c.CtxSwitches += n
			}
		}
	}
	return c
}

// MachineCounters returns the machine-wide CPU times of /proc/stat (Linux
// only; zero elsewhere).
func MachineCounters() Counters {
	var c Counters
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return c
	}
	tick := func(i int) time.Duration {
		n, _ := strconv.ParseUint(f[i], 10, 64)
		return time.Duration(n) * clockTick
	}
	// user nice system idle iowait irq softirq steal
	c.MachineBusy = tick(1) + tick(2) + tick(3) + tick(6) + tick(7)
	c.MachineSteal = tick(8)
	return c
}
