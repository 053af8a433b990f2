//go:build !unix

package main

import "time"

// processCPU is unknown here: the live page is then redrawn each second.
func processCPU() time.Duration { return 0 }
