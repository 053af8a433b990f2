package sim

import (
	"math"
	"math/rand/v2"

	"github.com/surgekit/surge/scenarios/profile"
)

// stage is one profile stage on the virtual clock.
type stage struct {
	name    string
	cfg     profile.Stage
	limit   int
	queue   ring[visitRef] // FIFO; cancelled and freed entries are skipped lazily
	live    int            // queued and not cancelled
	busy    int
	rng     *rand.Rand
	visits  *rand.Rand // which requests make a visit with a share (profile.Step.Share)
	last    float64    // when busy or limit last changed
	busyInt float64    // integral of busy over time (worker-seconds)
	capInt  float64    // integral of max(limit, busy) over time: the worker-seconds it had
	served  int64
	shed    int64
	// arrivals and waits count visits that found no free worker (for P(wait)).
	arrivals, waited int64
	waitSum          float64
	faults           []*onFault // active on this stage
	expiries         *lane      // its queue timeouts' lane, once one is set

	window  profile.RateWindow  // arrivals per virtual second (slow_under_load)
	bucket  profile.TokenBucket // its rate limit (rate_limit), if any
	limited int64               // visits its rate limit refused (counted in shed too)
}

// arrived counts a visit for the stage's arrival rate at virtual time t.
func (st *stage) arrived(t float64) { st.window.Add(int64(t)) }

// rate is the arrivals per second over about the last second, as the
// reference server measures it.
func (st *stage) rate(t float64) float64 { return st.window.Rate(int64(t)) }

func newStage(name string, cfg profile.Stage, factor float64, seed uint64, idx int) *stage {
	c := cfg
	c.Workers = max(1, int(math.Round(float64(cfg.Workers)*factor)))
	c.Queue = int(math.Round(float64(cfg.Queue) * factor))
	c.RateLimit = cfg.RateLimit * factor // a limiter per replica, as the workers
	return &stage{name: name, cfg: c, limit: c.Workers, rng: rand.New(rand.NewPCG(seed, uint64(idx)+1000)),
		visits: rand.New(rand.NewPCG(seed, uint64(idx)+2000)), bucket: c.Bucket()}
}

// advance accumulates the busy and capacity integrals to time t; call it
// before busy or limit changes.
func (st *stage) advance(t float64) {
	st.busyInt += float64(st.busy) * (t - st.last)
	st.capInt += float64(max(st.limit, st.busy)) * (t - st.last)
	st.last = t
}

func (st *stage) wait() bool { return st.cfg.WhenFull == profile.WhenFullWait }

// idle says an arrival gets a worker at once: one is free and none waits.
func (st *stage) idle() bool { return st.busy < st.limit && st.live == 0 }

// full says an arrival that finds no worker is shed: the queue is at its
// bound and the stage sheds when full.
func (st *stage) full() bool { return !st.wait() && st.live >= st.cfg.Queue }
