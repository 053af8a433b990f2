package sim

// prefetch asks the CPU to start loading addr's cache line without waiting
// for it (PREFETCHT0): the simulator names the next event's user, visit or
// request while it handles the current one, so that miss overlaps work.
func prefetch(addr uintptr)

// prefetch4 prefetches the four cache lines from addr (a user's hot part).
func prefetch4(addr uintptr)
