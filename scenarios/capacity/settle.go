package capacity

import (
	"context"
	"math"
	"time"
)

// A service that keeps working for clients who have gone (it finishes
// what they abandoned) carries the backlog of an overloaded step into the
// next: measured live, a cohort played alone at half its capacity after
// the overload step failed 96% of its requests, its service still busy
// with the last step's. Whatever the next step is then measures the
// backlog, not its own rate. So after a step that failed, a live search
// probes the service with its lowest passing rate for settleProbe at a
// time until it answers as it did there (every answer good, each
// request's p95 within twice its p95 there, or 10 ms more), for at most
// settleMost, and says on the step how long that took.

// settleProbe is one probe's length; settleMost bounds the probing after
// one step.
const (
	settleProbe = 2 * time.Second
	settleMost  = time.Minute
)

// settle probes after step i until the service answers as at the lowest
// passing step, and records on the step how long before the probe that
// found it so began (Settled; 0 when the first did) or that none did
// within settleMost, or before the search's budget ran out (Unsettled):
// probes are the search's wall time too.
func (q *search) settle(ctx context.Context, i int) {
	p, ok := q.cfg.Runner.(Prober)
	base := q.lowestPass()
	if !ok || base == nil {
		return
	}
	begin := q.cfg.Now()
	for n := uint64(0); q.cfg.Now().Sub(begin) < settleMost && q.within(settleProbe) && ctx.Err() == nil; n++ {
		at := begin // the first probe: settled at once when it finds it so
		if n > 0 {
			at = q.cfg.Now()
		}
		sc, err := Steady(q.s, q.mix, base.Offered, settleProbe)
		if err != nil {
			return
		}
		run, err := p.Probe(ctx, sc, q.cfg.Seed+1000+n)
		if err != nil {
			return
		}
		probe, _ := measure(q.s, base.Offered, run, 0, settleProbe, q.clauses)
		if settled(probe, *base) {
			q.res.Steps[i].Settled = at.Sub(begin) // 0: settled at once
			return
		}
	}
	q.res.Steps[i].Unsettled = ctx.Err() == nil
}

// settled says a probe answered as the lowest passing step did.
func settled(probe, base Step) bool {
	if failedShare(probe) > 0 {
		return false
	}
	for name, e := range probe.Endpoints {
		b, ok := base.Endpoints[name]
		if ok && e.P95 > math.Max(2*b.P95, b.P95+0.010) {
			return false
		}
	}
	return true
}
