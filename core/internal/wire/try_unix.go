//go:build unix

package wire

import "syscall"

const canTryWrite = true

// writeNonBlocking writes b to the socket fd, which the runtime keeps in
// non-blocking mode. It returns 0 and no error when the write would block.
func writeNonBlocking(fd uintptr, b []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), b)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, err
		}
	}
}
