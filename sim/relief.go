package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// Thinning keeps a share of the arrivals from a point of the played
// timeline on. A Poisson process thinned at random is a Poisson process at
// Keep times its rate, so the scenario's shape is kept and only its level
// falls; the users already there, their retries and their returns are not
// thinned (they are what keeps a collapsed service down).
type Thinning struct {
	From time.Duration
	Keep float64
}

// thinStream is the seed stream of the thinning's draws, apart from every
// other draw so the timeline before From plays exactly as unthinned.
const thinStream = 0x7417

// reliefSteps bounds the search: the share is found to 1/2^reliefSteps.
const reliefSteps = 6 // 1/64: a share of the planned arrivals, not a rate

// FindRelief searches how far the arrivals after the scenario's surge must
// fall for the service to recover: cfg is simulated again with a share of
// the planned arrivals after the surge's end kept (bisected from 1/64,
// about seven runs),
// and recovered judges each run (the caller's judgement, as reports
// judges recovery). It assumes cfg's own run did not recover; with no
// surge end in the scenario it is an error.
func FindRelief(ctx context.Context, cfg Config, recovered func(*results.Run) bool) (results.Relief, error) {
	plan := arrival.New(cfg.Scenario)
	end, ok := plan.SurgeEnd()
	played := plan.Played()
	if !ok || end >= played {
		return results.Relief{}, fmt.Errorf("sim: %s has no surge that ends before its timeline does", cfg.Scenario.Name)
	}
	var rel results.Relief
	for k := range plan.Streams() {
		rel.Planned += plan.Expected(k, end, played)
	}
	rel.Planned /= (played - end).Seconds()
	try := func(keep float64) (bool, error) {
		c := cfg
		c.Thin, c.Observe = &Thinning{From: end, Keep: keep}, nil
		run, _, err := Run(ctx, c)
		if err != nil {
			return false, err
		}
		return recovered(run), nil
	}
	// The least share tried is the bisection's resolution, not none at
	// all: with no arrivals there is nothing to judge recovery on.
	least := 1.0 / (1 << reliefSteps)
	ok, err := try(least)
	if err != nil || !ok {
		rel.None = err == nil
		return rel, err
	}
	lo, hi := least, 1.0 // recovered with lo kept, not with hi (cfg's own run)
	for hi-lo > least {
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return rel, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	rel.Keep, rel.Rate = lo, lo*rel.Planned
	return rel, nil
}

// thinned says the arrival at at is dropped by the configured thinning.
func (m *sim) thinned(at time.Duration) bool {
	th := m.cfg.Thin
	if th == nil || at < th.From {
		return false
	}
	if m.thin == nil {
		m.thin = rand.New(rand.NewPCG(m.cfg.Seed, thinStream))
	}
	return m.thin.Float64() >= th.Keep
}
