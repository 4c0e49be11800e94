//go:build !linux

package script

// Without prlimit the worker runs unbounded by the kernel; the in-worker
// limits still apply.
func limitMemory(int, int64) error { return nil }
func limitCPU(int, uint64) error   { return nil }
