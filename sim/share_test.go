package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim/queueing"
)

// TestShareThinsAVisit: a cache (1ms, unbounded) in front of a store (2
// workers of exp(20ms)) that a quarter of the requests visit, their
// misses: the store sees a quarter of the requests (within its binomial
// 99.9% interval), waits as an M/M/2 at that rate does (Erlang C), three
// quarters of the answers take the cache's 1ms alone, and surge plan
// sizes the store for a quarter of the rate with the 20ms the step holds
// it (the step's own service time, not the stage's 1s).
func TestShareThinsAVisit(t *testing.T) {
	const lambda, share = 200.0, 0.25
	s, _ := queueModel(t, lambda, 1, "1ms", 10*time.Minute)
	p, err := profile.Parse("cache.yaml", []byte(`name: cache
stages: {cache: {workers: 100000, queue: 0, service: 1ms}, store: {workers: 2, queue: 100000, service: 1s}}
routes: {hit: [{stage: cache, calls: [{stage: store, share: 25%, service: "exp(20ms)"}]}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var answers, fast int
	_, stats, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Drain: time.Minute,
		Observe: func(_ string, o results.Outcome) {
			answers++
			if o.Corrected < 1500*time.Microsecond {
				fast++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	store := stats.Stages["store"]
	n := float64(stats.Stages["cache"].Arrivals)
	half := 3.29 * math.Sqrt(share*(1-share)/n) // 99.9%
	if got := float64(store.Arrivals) / n; math.Abs(got-share) > half {
		t.Errorf("the store saw %.4f of the requests, want %.2f +- %.4f", got, share, half)
	}
	cw, _ := queueing.ErlangC(2, lambda*share*0.020)
	if math.Abs(store.PWait()-cw) > 0.02 {
		t.Errorf("the store's P(wait) %.4f, Erlang C at a quarter of the rate %.4f", store.PWait(), cw)
	}
	// A miss answers within 1.5ms only if its store visit took under
	// 0.5ms and found a worker free: about 1.6% of misses.
	if got, want := float64(fast)/float64(answers), (1-share)+share*0.016; math.Abs(got-want) > 0.01 {
		t.Errorf("%.4f of the answers took the cache's time alone, want %.4f", got, want)
	}
	plan, err := Plan(s, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, st := range plan.Stages {
		switch st.Stage {
		case "store":
			if math.Abs(st.Peak-lambda*share) > 1e-6*lambda || math.Abs(st.Load-lambda*share*0.020) > 1e-6 {
				t.Errorf("plan: the store at %.2f visits/s, %.3f erlangs; want %.0f and %.1f", st.Peak, st.Load, lambda*share, lambda*share*0.020)
			}
		case "cache":
			if want := time.Millisecond + time.Duration(share*float64(20*time.Millisecond)); st.Hold != want {
				t.Errorf("plan: the cache's visits hold %v, want %v (1ms and a quarter of the store's 20ms)", st.Hold, want)
			}
		}
		seen++
	}
	if seen != 2 {
		t.Errorf("plan has %d stages, want the cache and the store", seen)
	}
}

// TestPlanBudgetWeighsNestedShares: the wait a stage may add is the SLO's
// bound less the request's mean path (a call's time by its share of its
// caller's visits, nested), over the stages it visits: a disk of 40ms
// under a store a quarter of the requests visit adds 10ms to the path,
// not 40ms.
func TestPlanBudgetWeighsNestedShares(t *testing.T) {
	s, _ := queueModel(t, 100, 1, "1ms", 10*time.Minute)
	c, err := scenarios.ParseClause("hit p99 <= 100ms")
	if err != nil {
		t.Fatal(err)
	}
	s.SLO = append(s.SLO, c)
	p, err := profile.Parse("nested.yaml", []byte(`name: nested
stages: {cache: {workers: 100000, queue: 0, service: 1ms}, store: {workers: 4, queue: 100000, service: 20ms}, disk: {workers: 4, queue: 1000, service: 40ms}}
routes: {hit: [{stage: cache, calls: [{stage: store, share: 25%, calls: [{stage: disk}]}]}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(s, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := (100*time.Millisecond - time.Millisecond - 5*time.Millisecond - 10*time.Millisecond) / 3
	if len(plan.Stages) != 3 {
		t.Errorf("plan has %d stages, want the cache, the store and the disk", len(plan.Stages))
	}
	for _, st := range plan.Stages {
		if d := st.Budget - want; d > time.Microsecond || d < -time.Microsecond {
			t.Errorf("plan: %s may add %v of wait, want %v", st.Stage, st.Budget, want)
		}
	}
}
