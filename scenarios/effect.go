package scenarios

import (
	"math/rand/v2"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
)

// KindRefused is a request that never reached the service: its connection
// was refused, or a client-side fault failed its send.
const KindRefused = "refused"

// Effect is what a fault in force does to a request it takes, before the
// request reaches the service.
type Effect struct {
	Kind  string        // the request ends unsent, failed with this error kind
	Delay time.Duration // it goes this much later
	Stall bool          // it waits until the fault is over
}

// Take draws from rng whether f takes a request (its share) and, when it
// does, what it does to it. It is the one rule both worlds play a
// request-level fault by: the live engine for client-side faults, the
// simulator for those and for the faults a chaos proxy injects ahead of
// the service. A client-side error or outage fails the send (refused); a
// proxy's error answers its status (503 when it names none) and its outage
// 503; latency and bandwidth delay the send (bandwidth by AssumedSize over
// the rate); stall holds it until the fault ends.
//
// The draws, in order: one Float64 for the share, then latency's sample.
func (f Fault) Take(rng *rand.Rand) (Effect, bool) {
	if rng.Float64() >= f.Share() {
		return Effect{}, false
	}
	switch f.Kind {
	case fault.Error, fault.Outage:
		switch {
		case f.ClientSide():
			return Effect{Kind: KindRefused}, true
		case f.Kind == fault.Outage || f.Status == 0:
			return Effect{Kind: KindShed}, true
		}
		return Effect{Kind: StatusKind(f.Status)}, true
	case fault.Latency:
		return Effect{Delay: f.Latency.Sample(rng)}, true
	case fault.Bandwidth:
		return Effect{Delay: time.Duration(f.AssumedSize() / float64(f.Bandwidth) * float64(time.Second))}, true
	case fault.Stall:
		return Effect{Stall: true}, true
	}
	return Effect{}, false
}
