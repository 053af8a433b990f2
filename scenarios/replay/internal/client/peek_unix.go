//go:build linux || freebsd || netbsd || openbsd

package client

import "syscall"

// peerClosed says whether the server has closed (or reset) the connection,
// or sent something unasked: a peek at the socket that neither waits nor
// takes any byte.
func peerClosed(c syscall.RawConn) bool {
	if c == nil {
		return false
	}
	closed := false
	c.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// No error: the server closed (0 bytes) or sent something unasked.
		// EAGAIN: open and quiet. Any other: reset.
		closed = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
		return true // done, whatever it found: never wait for the socket
	})
	return closed
}
