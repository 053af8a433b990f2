//go:build linux || freebsd || netbsd || openbsd

package replay

import (
	"syscall"
	"time"
	"unsafe"
)

// timerSlack is how early a Go timer must wake the dispatcher: the rest of
// the wait is napped.
const timerSlack = 1500 * time.Microsecond

// nap sleeps d (at most timerSlack) with nanosleep, without giving up the
// thread or its P: the scheduler's hand-off would cost more than the nap.
func nap(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}
