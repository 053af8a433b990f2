package arrival

import (
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// Pacer paces one stream of a plan for vegeta's attacker (it satisfies
// vegeta.Pacer without importing vegeta, so the simulator can use this
// package without the network stack): hit n (from 0) is due when the
// stream's Lambda reaches n + 1/2, the uniform schedule.
type Pacer struct {
	Plan   *Plan
	Stream int
}

// Pace says how long to wait before the next hit, and stops at the end.
func (pc Pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	seg := 0
	due, ok := pc.Plan.invert(pc.Stream, float64(hits)+0.5, &seg)
	if !ok {
		return 0, true
	}
	wait := spec.Seconds(due) - elapsed
	if wait < 0 {
		return 0, false
	}
	return wait, false
}

// Rate is the stream's rate in hits per nanosecond at elapsed, as vegeta's
// Pacer interface asks.
func (pc Pacer) Rate(elapsed time.Duration) float64 {
	return pc.Plan.Rate(pc.Stream, elapsed) / float64(time.Second)
}
