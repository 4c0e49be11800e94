package main

/*
// Neither function calls back into Go: cgo can skip that bookkeeping.
#cgo nocallback ell_futex_wait
#cgo nocallback ell_futex_wake

#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// Sleeps while *word == old, at most timeout_ns (< 0: no limit). EAGAIN
// (the word already changed), EINTR and the timeout all just return: the
// caller checks the word again.
static void ell_futex_wait(int32_t *word, int32_t old, int64_t timeout_ns) {
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, old, tp, NULL, 0);
}

static void ell_futex_wake(int32_t *word) {
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
*/
import "C"

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// futexParker is the parker of the library's operations (see op): a thread
// in ell_async_wait sleeps in the kernel on the op's word, inside a cgo call,
// and the goroutine that completes the op wakes it with one FUTEX_WAKE. The
// word is Go memory, valid during each call (the op is live on both sides'
// stacks), and the kernel only reads it; no C code keeps the pointer.
type futexParker struct{}

func (futexParker) park(word *atomic.Int32, old int32, timeout time.Duration) {
	C.ell_futex_wait((*C.int32_t)(unsafe.Pointer(word)), C.int32_t(old), C.int64_t(timeout))
}

func (futexParker) unpark(word *atomic.Int32) {
	C.ell_futex_wake((*C.int32_t)(unsafe.Pointer(word)))
}
