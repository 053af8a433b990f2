//go:build !(linux || freebsd || netbsd || openbsd)

package client

import "syscall"

func peerClosed(syscall.RawConn) bool { return false } // no peek here: a closed connection fails the request
