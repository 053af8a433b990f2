package sim

import "unsafe"

// prefetch asks the CPU to start loading p's cache line without waiting
// for it (PREFETCHT0): the simulator names the next event's user, visit or
// request while it handles the current one, so that miss overlaps work.
//
//go:noescape
func prefetch(p unsafe.Pointer)
