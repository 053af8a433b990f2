package sim

// prefetch asks the CPU to start loading addr's cache line without waiting
// for it (PREFETCHT0): the simulator names the next event's user, visit or
// request while it handles the current one, so that miss overlaps work.
func prefetch(addr uintptr)

// prefetchUser prefetches the three cache lines from addr: a whole user
// (userLines). Every line of a user is read in its journey; when a user
// was six lines and only four were prefetched, the other two missed and
// the national run was 3-9% slower.
func prefetchUser(addr uintptr)
