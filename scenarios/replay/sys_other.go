//go:build !(linux || freebsd || netbsd || openbsd)

package replay

import (
	"syscall"
	"time"
)

const timerSlack = 0 // no precise nap here: the timer does it all

func nap(d time.Duration) { time.Sleep(d) }
