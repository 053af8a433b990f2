package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim/queueing"
)

// StagePlan is one stage's sizing.
type StagePlan struct {
	Stage  string        `json:"stage"`
	Peak   float64       `json:"peak_visits_per_s"` // forecast peak visit rate (before the margin)
	PeakAt string        `json:"peak_at"`           // when, on the scenario's clock
	Hold   time.Duration `json:"mean_hold"`         // mean time a visit holds a worker (own service + nested calls)
	Load   float64       `json:"erlangs"`           // at peak x margin
	Budget time.Duration `json:"wait_p99_budget"`   // the p99 queueing wait it may add
	Needed int           `json:"workers_needed"`
	Has    int           `json:"workers"`
	// Headroom is the workers it has over the forecast peak's offered load
	// (erlangs, before the margin): at that multiple of the peak the stage
	// saturates.
	Headroom float64 `json:"headroom"`
	Go       bool    `json:"go"`
	Shortage string  `json:"shortfall,omitempty"`
}

// PlanResult is the plan of a scenario against a profile.
type PlanResult struct {
	Margin     float64         `json:"margin"`
	Go         bool            `json:"go"`
	Stages     []StagePlan     `json:"stages"`
	Bottleneck *PlanBottleneck `json:"bottleneck,omitempty"`
	// Band is the plan again at the low end of a calibrated profile's
	// capacity uncertainty (nil without one): what the stages need if the
	// service is as much slower as the calibration's evidence allows.
	Band *PlanBand `json:"band,omitempty"`
}

// PlanBand is a plan made at the capacity's low end (1 - Uncertainty):
// every service time divided by it, every rate limit times it.
type PlanBand struct {
	Uncertainty float64        `json:"capacity_uncertainty"`
	Go          bool           `json:"go"`
	Needed      map[string]int `json:"workers_needed"`
}

// Resized is p with every stage grown to the plan's need (a stage that
// needs fewer workers than it has keeps them; one no size meets is left).
func (r PlanResult) Resized(p *profile.Profile) *profile.Profile {
	needed := map[string]int{}
	for _, sp := range r.Stages {
		needed[sp.Stage] = sp.Needed
	}
	return resized(p, needed)
}

// Resized is p at the band's low end of capacity with every stage grown
// to what it needs there: the sizing that holds if the service is as
// slow as the calibration's evidence allows.
func (b *PlanBand) Resized(p *profile.Profile) *profile.Profile {
	low := resized(p, b.Needed).WithCapacity(1 - b.Uncertainty)
	low.Calibrated = nil
	return low
}

// resized is p with each stage grown to needed[stage] workers (one that
// needs fewer keeps them; one no size meets is left).
func resized(p *profile.Profile, needed map[string]int) *profile.Profile {
	q := *p
	q.Stages = make(map[string]profile.Stage, len(p.Stages))
	for name, st := range p.Stages {
		if n := needed[name]; n > st.Workers && n < 1<<20 {
			st.Workers = n
		}
		q.Stages[name] = st
	}
	return &q
}

// PlanBottleneck is the stage that saturates first as load grows: the one
// with the least headroom. It is the same definition a report applies to a
// run or a prediction (the first stage to saturate; see reports'
// Bottleneck): the stages that call it, directly or through others, hold
// their workers while they wait on it, so they saturate after it and
// because of it: its downstream effects.
type PlanBottleneck struct {
	Stage      string   `json:"stage"`
	Headroom   float64  `json:"headroom"`
	Downstream []string `json:"downstream,omitempty"`
}

// Plan forecasts each stage's peak demand from the scenario (arrival
// curve x cohort and platform shares x the requests of each journey,
// nominal: no retries) through the profile's routes, and sizes the stage as
// an M/M/c queue with the mean hold time of its visits (own service plus
// the mean holds of its nested calls, queueing inside them ignored) at
// peak x margin. A stage's p99 wait budget is the slack of the tightest
// latency SLO of a request routed through it (limit minus the route's mean
// hold), shared among the route's stages; with no latency SLO it is half
// the stage's queue timeout, and with neither the stage must stay under
// 85% utilisation. A calibrated profile that says how uncertain its
// capacity is is planned again at the low end of it (PlanResult.Band).
func Plan(s *scenarios.Scenario, p *profile.Profile, margin float64) (PlanResult, error) {
	if margin < 1 {
		return PlanResult{}, fmt.Errorf("plan: the margin must be at least 1, have %v", margin)
	}
	if err := check(s, p); err != nil {
		return PlanResult{}, err
	}
	demand, peakAt := peakDemand(s, p)
	res := PlanResult{Margin: margin, Go: true}
	for _, name := range spec.SortedKeys(demand) {
		d := demand[name]
		sp := StagePlan{Stage: name, Peak: d.rate, PeakAt: peakAt[name].String(), Has: p.Stages[name].Workers}
		if d.rate > 0 {
			sp.Hold = time.Duration(d.erlangs / d.rate * 1e9)
		}
		sp.Load = d.erlangs * margin
		if d.erlangs > 0 {
			sp.Headroom = float64(sp.Has) / d.erlangs
		}
		sp.Budget = budget(s, p, name)
		sp.Needed = needed(d.rate*margin, sp.Hold, sp.Budget)
		sp.Go = sp.Has >= sp.Needed
		if !sp.Go {
			sp.Shortage = fmt.Sprintf("needs %d workers, has %d: %.3g visits/s x %.2g margin x %v mean hold = %.3g erlangs",
				sp.Needed, sp.Has, d.rate, margin, sp.Hold.Round(time.Millisecond), sp.Load)
		}
		res.Go = res.Go && sp.Go
		res.Stages = append(res.Stages, sp)
	}
	res.Bottleneck = planBottleneck(res.Stages, p.Calls())
	if c := p.Calibrated; c != nil && c.CapacityUncertainty > 0 {
		low := p.WithCapacity(1 - c.CapacityUncertainty)
		low.Calibrated = nil // planned once, without a band of its own
		lp, err := Plan(s, low, margin)
		if err != nil {
			return PlanResult{}, err
		}
		res.Band = &PlanBand{Uncertainty: c.CapacityUncertainty, Go: lp.Go, Needed: map[string]int{}}
		for _, sp := range lp.Stages {
			res.Band.Needed[sp.Stage] = sp.Needed
		}
	}
	return res, nil
}

// planBottleneck is the stage with the least headroom, and the stages
// that call it.
func planBottleneck(stages []StagePlan, calls map[string][]string) *PlanBottleneck {
	var b *StagePlan
	for i := range stages {
		if sp := &stages[i]; sp.Headroom > 0 && (b == nil || sp.Headroom < b.Headroom) {
			b = sp
		}
	}
	if b == nil {
		return nil
	}
	out := &PlanBottleneck{Stage: b.Stage, Headroom: b.Headroom}
	for _, sp := range stages {
		if sp.Stage != b.Stage && sp.Headroom > 0 && reaches(calls, sp.Stage, b.Stage) {
			out.Downstream = append(out.Downstream, sp.Stage)
		}
	}
	return out
}

// reaches says whether stage from calls stage to, directly or through others.
func reaches(calls map[string][]string, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(s string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		return slices.ContainsFunc(calls[s], func(c string) bool { return c == to || walk(c) })
	}
	return walk(from)
}

type load struct{ rate, erlangs float64 }

// peakDemand is each stage's greatest visit rate and offered load over the window.
func peakDemand(s *scenarios.Scenario, p *profile.Profile) (map[string]load, map[string]scenarios.Clock) {
	plan := arrival.New(s)
	peak := map[string]load{}
	at := map[string]scenarios.Clock{}
	for _, name := range p.StageNames() {
		peak[name] = load{}
	}
	const samples = 2000
	for i := range samples {
		t := time.Duration(float64(plan.Played()) * (float64(i) + 0.5) / samples)
		now := map[string]load{}
		for k, stream := range plan.Streams() {
			rate := plan.Rate(k, t)
			if rate == 0 {
				continue
			}
			for journey, share := range streamJourneys(s, k, stream, plan.Clock(t)) {
				for platform, ps := range share {
					visitJourney(s, p, journey, platform, rate*ps, now)
				}
			}
		}
		for st, l := range now {
			if l.erlangs > peak[st].erlangs {
				peak[st], at[st] = l, plan.Clock(t)
			}
		}
	}
	return peak, at
}

// streamJourneys splits a stream's users by journey and platform (shares).
func streamJourneys(s *scenarios.Scenario, k int, name string, c scenarios.Clock) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	add := func(journey string, share float64, platforms map[string]scenarios.Percent) {
		if platforms == nil {
			platforms = s.Platforms
		}
		if out[journey] == nil {
			out[journey] = map[string]float64{}
		}
		for pl, ps := range platforms {
			out[journey][pl] += share * float64(ps)
		}
	}
	if k > 0 {
		x := s.Extra[k-1]
		add(x.Journey, 1, x.Platforms)
		return out
	}
	for _, co := range s.Cohorts {
		add(co.Journey, float64(co.ShareAt(c)), co.Platforms)
	}
	return out
}

// visitJourney adds the stage visits of one journey's requests at rate.
func visitJourney(s *scenarios.Scenario, p *profile.Profile, journey, platform string, rate float64, into map[string]load) {
	for _, st := range s.Journeys[journey] {
		if st.Request == "" {
			continue
		}
		t, _ := s.Request(st.Request)
		steps, _ := p.Route(t.EndpointName(st.Request), platform)
		for _, step := range steps {
			holdOf(p, step, platform, rate*step.Visits(), into)
		}
	}
}

// holdOf adds a step's visits at rate and their load (with its calls',
// made by their shares of it) and returns its mean hold.
func holdOf(p *profile.Profile, step profile.Step, platform string, rate float64, into map[string]load) float64 {
	name := profile.StageName(step.Stage, platform)
	h := serviceOf(p, step, name).Seconds()
	for _, c := range step.Calls {
		h += c.Visits() * holdOf(p, c, platform, rate*c.Visits(), into)
	}
	l := into[name]
	l.rate += rate
	l.erlangs += rate * h
	into[name] = l
	return h
}

// serviceOf is a step's mean service time at stage name: its own, or the
// stage's.
func serviceOf(p *profile.Profile, step profile.Step, name string) time.Duration {
	if step.Service != nil {
		return step.Service.Mean()
	}
	return p.Stages[name].Service.Mean()
}

// budget is the p99 queueing wait a stage may add (see Plan).
func budget(s *scenarios.Scenario, p *profile.Profile, stage string) time.Duration {
	best := time.Duration(math.MaxInt64)
	for _, c := range s.SLO {
		if c.Percentile() == 0 || c.Endpoint == "" {
			continue
		}
		t, _ := s.Request(c.Endpoint)
		for pl := range s.Platforms {
			steps, _ := p.Route(t.EndpointName(c.Endpoint), pl)
			var stages []string
			var hold float64
			var walk func(steps []profile.Step, visits float64) // a call's visits are its share of its caller's
			walk = func(steps []profile.Step, visits float64) {
				for _, st := range steps {
					n, v := profile.StageName(st.Stage, pl), visits*st.Visits()
					stages = append(stages, n)
					hold += v * serviceOf(p, st, n).Seconds()
					walk(st.Calls, v)
				}
			}
			walk(steps, 1)
			if !slices.Contains(stages, stage) {
				continue
			}
			slack := (c.Duration.Seconds() - hold) / float64(len(stages))
			best = min(best, time.Duration(max(slack, 1e-6)*1e9))
		}
	}
	if best == time.Duration(math.MaxInt64) {
		return p.Stages[stage].QueueTimeout / 2
	}
	return best
}

// needed is the fewest workers keeping the p99 wait within budget at rate,
// or under 85% utilisation when there is no budget.
func needed(rate float64, hold, budget time.Duration) int {
	if rate == 0 || hold == 0 {
		return 1
	}
	o := queueing.Utilization(0.85)
	if budget > 0 {
		o = queueing.WaitPercentile(0.99, budget)
	}
	sz, err := queueing.Size(rate, hold, []queueing.SLO{o}, false)
	if err != nil || !sz.Feasible {
		return math.MaxInt32
	}
	return sz.Servers
}
