//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package replay

import "time"

const timerSlack = 0 // no precise nap here: the timer does it all

func nap(d time.Duration) { time.Sleep(d) }

func napYielding(d time.Duration) { time.Sleep(d) }
