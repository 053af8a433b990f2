package sim

// prefetch asks the CPU to start loading addr's cache line without waiting
// for it (PREFETCHT0): the simulator names the next event's user, visit or
// request while it handles the current one, so that miss overlaps work.
func prefetch(addr uintptr)
