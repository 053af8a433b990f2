package sim

// prefetch asks the CPU to start loading addr's cache line without waiting
// for it (PREFETCHT0): the simulator names the next event's user, visit or
// request while it handles the current one, so that miss overlaps work.
func prefetch(addr uintptr)

// prefetchUser prefetches the six cache lines from addr: a whole user
// (userLines). Only the first four, its hot part, were prefetched until
// session 6; the walker's give-up counts and its list of requests wanted
// beyond four then missed the cache, and the national run was 3-9% slower
// (three pairs of runs side by side).
func prefetchUser(addr uintptr)
