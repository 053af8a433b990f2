package replay

import (
	"sync/atomic"
	"time"
)

// inFlightRing is how many seconds inFlight holds: the whole of any run
// shorter than about 68 minutes (a capacity step, a probe, most surges).
const inFlightRing = 1 << 12

// inFlight counts the attempts still out by the second of their intended
// send, on the run's clock: a ring of atomic counters, so that a send and
// its answer each cost one atomic add and no lock.
type inFlight [inFlightRing]atomic.Int32

func (f *inFlight) add(at time.Duration, n int32) {
	if at < 0 {
		at = 0
	}
	f[int(at/time.Second)&(inFlightRing-1)].Add(n)
}

// answeredBefore is the time on the run's clock before which every
// attempt intended is in its bucket at now: the start of the oldest second
// with an attempt still out, and at most a second before now truncated
// (an attempt intended a moment ago may not have begun: one more than a
// second late is the generator's limit, which a run's late p99 says). ok
// is false once the run is longer than the ring, where an old attempt
// still out would read as a recent one.
func (f *inFlight) answeredBefore(now time.Duration) (time.Duration, bool) {
	if now < 0 || now >= (inFlightRing-1)*time.Second {
		return 0, false
	}
	last := (now - time.Second).Truncate(time.Second)
	for s := time.Duration(0); s < last; s += time.Second {
		if f[int(s/time.Second)].Load() > 0 {
			return s, true
		}
	}
	return max(last, 0), true
}
