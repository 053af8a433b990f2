package capacity

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim"
)

// A service that exports no stage metrics is fitted from its answers
// alone, and the answers at the peak's mix do not tell apart the
// structures that could give them. The calibration fits several, simulates
// each against every measured step (the peak's mix below and past the
// knee, the overload step, each cohort alone) with the scenario's own
// clients, and keeps the one whose answers come closest:
//
//   - independent: a pool per request, sized from that request's own
//     saturation (what fromRequests fits);
//   - shared: one pool every request shares, each with its own service
//     time there, as many workers as the independent pools together (work
//     is conserved at saturation);
//   - each as above with the service finishing the work of clients who
//     have gone (server.abandoned: finish), which only an overload with
//     client timeouts tells apart;
//   - when the steps past the knee show them, a rate limit (each
//     request's own, or one in front of the service) and a server timeout
//     (on either pool structure): overload.go.
//
// The closeness (Candidate.Score) is, over every step and request with
// answers enough, |ln(predicted p95 / measured p95)| + 3 |predicted -
// measured error share| + 3 |ln(predicted successes / measured
// successes)|: a p95 twice too high costs 0.69, ten points of error share
// 0.3, 10% too many successes 0.29.

// candidate is one structure fitted.
type candidate struct {
	name, words string
	p           *profile.Profile
}

// minCandidateAnswers is how many answers a request needs in a step for
// that step to judge it.
const minCandidateAnswers = 20

// candidates are the structures fitted from the independent profile p
// and the steps.
func candidates(p *profile.Profile, res *Result) []candidate {
	shared := sharedProfile(p)
	if c := busyAtSaturation(shared, res); c > 0 {
		pool := shared.Stages["shared"]
		pool.Workers = c
		shared.Stages["shared"] = pool
	}
	out := []candidate{
		{"independent", independentWords(p), p},
		{"shared", sharedWords(shared), shared},
	}
	for _, c := range out[:2] {
		f := cloneProfile(c.p)
		f.Server.Abandoned = profile.AbandonedFinish
		keepQueued(f)
		out = append(out, candidate{c.name + "+finish", c.words + "; the work of clients who have gone is finished anyway", f})
	}
	transit := sharedTransit(shared, res)
	for _, tr := range transit {
		out = append(out, candidate{"shared+transit", "", tr})
	}
	for _, c := range cached(shared, res) {
		out = append(out, candidate{"cache", "", c})
	}
	for i := range out {
		out[i].words = structureWords(out[i])
	}
	return append(out, overloadCandidates(p, append([]*profile.Profile{shared}, transit...), res)...)
}

// requestStages are the pools of an independent profile, one per route:
// route name -> its pool (the route's last step; a transit stage, if any,
// comes before it).
func requestStages(p *profile.Profile) map[string]string {
	out := map[string]string{}
	for name, steps := range p.Routes {
		out[name] = steps[len(steps)-1].Stage
	}
	return out
}

// keepQueued drops the queue timeouts fitQueue set to the clients' wait
// (a queue as long as the clients wait) from a service that finishes the
// work of clients who have gone: their requests stay queued to be served,
// as the service keeps the work it was given, however long it waits. With
// the timeout kept, the queue never held more than a client's wait of
// work, and the simulated service recovered at once from a collapse a
// live one stays in (measured: predicted recovered 20 s after the peak, live
// stayed down to the end).
func keepQueued(p *profile.Profile) {
	for name, st := range p.Stages {
		if st.Queue >= 100_000 && st.QueueTimeout > 0 {
			st.QueueTimeout = 0
			p.Stages[name] = st
		}
	}
}

// sharedProfile is p's pools merged into one that every request shares,
// each request with its own service time there.
func sharedProfile(p *profile.Profile) *profile.Profile {
	out := cloneProfile(p)
	pools := requestStages(p)
	var pool profile.Stage
	for _, route := range slices.Sorted(maps.Keys(pools)) {
		st := p.Stages[pools[route]]
		pool.Workers += st.Workers
		pool.Queue = min(pool.Queue+st.Queue, 100_000)
		pool.QueueTimeout = max(pool.QueueTimeout, st.QueueTimeout)
		if st.WhenFull != "" {
			pool.WhenFull = st.WhenFull
		}
		// The independent fit split a request's time into its pool's and
		// a transit no worker holds, from that request's own saturation,
		// which says nothing of a pool shared with others: here the
		// request's whole time is at the shared pool (shared+transit
		// splits off a delay common to all).
		svc := st.Service
		for _, step := range p.Routes[route][:len(p.Routes[route])-1] {
			if tr := p.Stages[step.Stage]; tr.Workers >= transitWorkers {
				m := svc.Mean()
				svc = svc.Scaled(float64(m+tr.Service.Mean()) / float64(m))
				delete(out.Stages, step.Stage)
			}
		}
		pool.Service = svc
		out.Routes[route] = []profile.Step{{Stage: "shared", Service: &svc}}
		delete(out.Stages, pools[route])
	}
	out.Stages["shared"] = pool
	return out
}

// sharedTransit are the shared pool a worker or a few smaller, each
// request's time in it shorter by a delay every request spends outside it
// (the network, a front tier whose slots do not bind, a request held in
// front while it waits on the pool: the classic web tier over a database
// pool), the delay what makes the smaller pool as busy as the busiest
// failing step was: sum X_r (s_r - tau) = c. The saturation alone does not
// tell c from tau (a pool of 2 and 2 ms outside it, or 1 and 6 ms, serve
// as much); the latencies below the knee do, so each is a variant of one
// candidate (choose keeps the best). None when no step failed.
func sharedTransit(shared *profile.Profile, res *Result) []*profile.Profile {
	st := busiestFailing(res)
	if st == nil {
		return nil
	}
	var busy, rate float64
	least := math.Inf(1)
	for name, e := range st.Endpoints {
		steps := shared.Routes[name]
		if len(steps) == 0 || steps[len(steps)-1].Service == nil {
			continue
		}
		s := steps[len(steps)-1].Service.Mean().Seconds()
		busy, rate, least = busy+e.Goodput*s, rate+e.Goodput, math.Min(least, s)
	}
	var out []*profile.Profile
	for c := int(math.Ceil(busy)) - 1; c >= 1 && len(out) < transitVariants; c-- {
		tau := (busy - float64(c)) / rate
		if rate <= 0 || tau <= 0 || tau > 0.8*least {
			break
		}
		out = append(out, withFront(shared, c, secs(tau)))
	}
	return out
}

// transitVariants is how many pool sizes sharedTransit tries.
const transitVariants = 3

// withFront is shared with a pool of c and tau of every request's time
// spent in front of it.
func withFront(shared *profile.Profile, c int, tau time.Duration) *profile.Profile {
	out := cloneProfile(shared)
	pool := out.Stages["shared"]
	pool.Workers = c
	out.Stages["shared"] = pool
	out.Stages[frontStage] = profile.Stage{Workers: transitWorkers, Service: spec.Const(tau)}
	for route, steps := range out.Routes {
		last := &steps[len(steps)-1]
		if last.Service != nil {
			m := last.Service.Mean()
			svc := last.Service.Scaled(float64(m-tau) / float64(m))
			last.Service = &svc
		}
		out.Routes[route] = append([]profile.Step{{Stage: frontStage}}, steps...)
	}
	return out
}

// frontStage is the delay every request spends outside a shared pool.
const frontStage = "front"

// busiestFailing is the step of the peak's mix that failed with the most
// successes a second (nil: none failed).
func busiestFailing(res *Result) *Step {
	var best *Step
	for i, st := range res.Steps {
		if st.Mix != "" || st.Pass || st.Length <= 0 {
			continue
		}
		if best == nil || st.Goodput > best.Goodput {
			best = &res.Steps[i]
		}
	}
	return best
}

// busyAtSaturation is the workers a shared pool keeps busy in the busiest
// step of the peak's mix that failed, rounded to the nearest (a saturated
// pool is busy all the time, so the figure is its size give or take the
// few percent the fitted service times are off; refine moves it by one
// when the steps say so): each request's successes a second times its
// service time there, summed (its work is its successes'); 0 when no step
// failed.
func busyAtSaturation(shared *profile.Profile, res *Result) int {
	busiest := 0.0
	for _, st := range res.Steps {
		if st.Mix != "" || st.Pass || st.Length <= 0 {
			continue
		}
		busy := 0.0
		for name, e := range st.Endpoints {
			if steps := shared.Routes[name]; len(steps) > 0 && steps[len(steps)-1].Service != nil {
				busy += e.Goodput * steps[len(steps)-1].Service.Mean().Seconds()
			}
		}
		busiest = math.Max(busiest, busy)
	}
	return int(math.Round(busiest))
}

func cloneProfile(p *profile.Profile) *profile.Profile {
	c := *p
	c.Stages = maps.Clone(p.Stages)
	c.Routes = map[string][]profile.Step{}
	for k, v := range p.Routes {
		c.Routes[k] = slices.Clone(v)
	}
	if p.Calibrated != nil {
		cal := *p.Calibrated
		cal.Notes = slices.Clone(p.Calibrated.Notes)
		c.Calibrated = &cal
	}
	return &c
}

func independentWords(p *profile.Profile) string {
	var parts []string
	pools := requestStages(p)
	for _, route := range slices.Sorted(maps.Keys(pools)) {
		st := p.Stages[pools[route]]
		parts = append(parts, fmt.Sprintf("%s a pool of its own of ~%d (%v each)", route, st.Workers, st.Service.Mean().Round(time.Microsecond)))
	}
	return strings.Join(parts, "; ")
}

func sharedWords(p *profile.Profile) string {
	var each []string
	routes := slices.Sorted(maps.Keys(p.Routes))
	for _, route := range routes {
		steps := p.Routes[route]
		each = append(each, fmt.Sprintf("%s %v", route, steps[len(steps)-1].Service.Mean().Round(time.Microsecond)))
	}
	words := fmt.Sprintf("%s share a pool of ~%d (%s each)", strings.Join(routes, " and "), p.Stages["shared"].Workers, strings.Join(each, ", "))
	if front, ok := p.Stages[frontStage]; ok {
		words += fmt.Sprintf(", and each spends ~%v outside it (in front of it, or on the way)", front.Service.Mean().Round(time.Microsecond))
	}
	return words
}

// choose simulates every candidate against every step, refines each
// one's pool sizes (refine), and returns them best first, with their
// refined profiles by name.
func choose(ctx context.Context, res *Result, s *scenarios.Scenario, cands []candidate, seed uint64) ([]reports.Candidate, map[string]*profile.Profile) {
	out := make([]reports.Candidate, 0, len(cands))
	profiles := map[string]*profile.Profile{}
	byName := map[string]candidate{}
	for _, c := range cands {
		sc := score(ctx, res, s, c, seed)
		if _, seen := byName[c.name]; seen { // a variant of a candidate: the better one stands for it
			i := slices.IndexFunc(out, func(o reports.Candidate) bool { return o.Name == c.name })
			if !better([]reports.Candidate{sc, out[i]})(0, 1) {
				continue
			}
			out[i] = sc
		} else {
			out = append(out, sc)
		}
		profiles[c.name], byName[c.name] = c.p, c
	}
	sort.SliceStable(out, better(out))
	// Refining costs a few dozen simulations of every step: only the two
	// best are refined, which the refining may reorder.
	for i := range min(refined, len(out)) {
		c, scored := refine(ctx, res, s, byName[out[i].Name], seed)
		out[i], profiles[c.name] = scored, c.p
	}
	sort.SliceStable(out, better(out))
	return out, profiles
}

// better orders candidates by score, those compared on nothing last.
func better(cs []reports.Candidate) func(i, j int) bool {
	return func(i, j int) bool {
		if (cs[i].Compared == 0) != (cs[j].Compared == 0) {
			return cs[j].Compared == 0
		}
		return cs[i].Score < cs[j].Score
	}
}

// refined is how many of the best candidates refine adjusts.
const refined = 2

// refine moves each pool of c by a worker up or down while that brings its
// simulation closer to the steps (a pool sized from saturation alone is
// often one off: the saturation a step shows is rounded, and a pool that
// never saturated was sized from its latencies), at most refineRounds
// times over.
func refine(ctx context.Context, res *Result, s *scenarios.Scenario, c candidate, seed uint64) (candidate, reports.Candidate) {
	best := score(ctx, res, s, c, seed) // (scored twice: a simulation costs less than keeping the score beside the candidate)
	// Pools of their own first to the capacities the overloaded steps
	// measured: one that no step of the mix saturated was sized from its
	// latencies alone and can start a worker or more off, further than the
	// moves below go in their rounds. (A shared pool was sized from its
	// saturation; moving it first did worse on the held web and database.)
	if _, shared := c.p.Stages["shared"]; !shared {
		c, best = matchCapacity(ctx, res, s, c, best, seed)
	}
	for range refineRounds {
		improved := false
		for _, try := range serviceMoves(c.p) {
			if sc := score(ctx, res, s, candidate{c.name, c.words, try}, seed); sc.Compared > 0 && sc.Score < best.Score {
				c.p, best, improved = try, sc, true
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.p.Stages)) {
			st := c.p.Stages[name]
			if st.Workers >= transitWorkers {
				continue
			}
			for _, d := range []int{-1, 1} {
				if st.Workers+d < 1 {
					continue
				}
				try := cloneProfile(c.p)
				moved := st
				moved.Workers += d
				try.Stages[name] = moved
				if sc := score(ctx, res, s, candidate{c.name, c.words, try}, seed); sc.Compared > 0 && sc.Score < best.Score {
					c.p, best, improved = try, sc, true
					break
				}
			}
		}
		if !improved || ctx.Err() != nil {
			break
		}
	}
	c, best = matchCapacity(ctx, res, s, c, best, seed)
	c.words = structureWords(c)
	best.Structure = c.words
	return c, best
}

const refineRounds = 4

// serviceStep is how far refine moves a service time: the lowest step's
// mean, from which it was fitted, is a few hundred answers and has some
// queueing in it.
const serviceStep = 0.05

// serviceMoves are p with one request's service time at its pool moved
// serviceStep up or down, or 2% (a surge past the knee turns on a few
// percent of capacity).
func serviceMoves(p *profile.Profile) []*profile.Profile {
	var out []*profile.Profile
	for _, route := range slices.Sorted(maps.Keys(p.Routes)) {
		for _, f := range []float64{1 - serviceStep, 1 + serviceStep, 1 - serviceStep/2.5, 1 + serviceStep/2.5} {
			try := cloneProfile(p)
			steps := try.Routes[route]
			last := &steps[len(steps)-1]
			if last.Service != nil {
				svc := last.Service.Scaled(f)
				last.Service = &svc
			} else {
				st := try.Stages[last.Stage]
				st.Service = st.Service.Scaled(f)
				try.Stages[last.Stage] = st
			}
			out = append(out, try)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Stages)) {
		if p.Stages[name].RateLimit <= 0 {
			continue
		}
		for _, f := range []float64{1 - serviceStep/2.5, 1 + serviceStep/2.5} {
			try := cloneProfile(p)
			st := try.Stages[name]
			st.RateLimit *= f
			try.Stages[name] = st
			out = append(out, try)
		}
	}
	return out
}

// structureWords says c's structure with its pools as refined.
func structureWords(c candidate) string {
	words := independentWords(c.p)
	if _, ok := c.p.Stages["shared"]; ok {
		words = cacheWords(c.p) + sharedWords(c.p)
	}
	words += limitWords(c.p)
	if c.p.Server.Abandoned == profile.AbandonedFinish {
		words += "; the work of clients who have gone is finished anyway"
	}
	return words
}

// score simulates candidate c at each measured step (its mix, rate and
// length) and compares each request's p95, error share and successes.
func score(ctx context.Context, res *Result, s *scenarios.Scenario, c candidate, seed uint64) reports.Candidate {
	out := reports.Candidate{Name: c.name, Structure: c.words}
	var sum float64
	var n int
	for i, st := range res.Steps {
		if ctx.Err() != nil {
			break
		}
		pred := simulateStep(ctx, s, res.mixes[i], st, c.p, seed)
		cs := reports.CandidateStep{Offered: st.Offered, Mix: st.Mix, Endpoints: map[string]reports.CandidateEndpoint{}}
		for _, name := range res.runs[i].EndpointNames() {
			me := res.runs[i].Endpoints[name].Total
			if me.Answered() < minCandidateAnswers || pred == nil {
				continue
			}
			ce := predicted(me, pred.Endpoints[name])
			cs.Endpoints[name] = ce
			sum += distance(ce)
			n++
		}
		out.Steps = append(out.Steps, cs)
	}
	if out.Compared = n; n > 0 {
		out.Score = sum / float64(n)
	}
	return out
}

// predicted is a request's measurement me beside its prediction pe (nil:
// never answered, as bad as every answer failing). The simulation draws
// its own arrivals: its successes are compared for the arrivals the step
// measured (a step of 500 arrivals differs by 5% between two draws, as
// much as a service time misfitted by 5%).
func predicted(me *results.Series, pe *results.Endpoint) reports.CandidateEndpoint {
	ce := reports.CandidateEndpoint{MeasuredP95: p95(me), MeasuredErrors: errorShare(me), MeasuredSuccesses: me.Succeeded, PredictedErrors: 1}
	if pe == nil {
		return ce
	}
	ce.PredictedP95, ce.PredictedErrors, ce.PredictedSuccesses = p95(pe.Total), errorShare(pe.Total), pe.Total.Succeeded
	if pe.Total.Offered > 0 && me.Offered > 0 {
		ce.PredictedSuccesses = int64(math.Round(float64(pe.Total.Succeeded) * float64(me.Offered) / float64(pe.Total.Offered)))
	}
	return ce
}

// distance is how far one request's prediction is from its measurement.
// The successes weigh most past the knee: there they are the capacity,
// which the latencies (all near the clients' timeout) no longer show.
func distance(ce reports.CandidateEndpoint) float64 {
	d := 3 * math.Abs(ce.PredictedErrors-ce.MeasuredErrors)
	if ce.MeasuredSuccesses > 0 && ce.PredictedSuccesses > 0 {
		d += 3 * math.Min(math.Abs(math.Log(float64(ce.PredictedSuccesses)/float64(ce.MeasuredSuccesses))), math.Log(10))
	} else if ce.MeasuredSuccesses > 0 || ce.PredictedSuccesses > 0 {
		d += math.Log(10)
	}
	switch {
	case ce.MeasuredP95 > 0 && ce.PredictedP95 > 0:
		d += math.Min(math.Abs(math.Log(ce.PredictedP95/ce.MeasuredP95)), math.Log(10))
	case ce.MeasuredP95 > 0 || ce.PredictedP95 > 0: // successes on one side only
		d += math.Log(10)
	}
	return d
}

// simulateStep is candidate profile p's run of step st, over its steady part.
func simulateStep(ctx context.Context, s *scenarios.Scenario, m Mix, st Step, p *profile.Profile, seed uint64) *results.Run {
	sc, err := Steady(s, m, st.Offered, st.Warmup+st.Length)
	if err != nil {
		return nil
	}
	run, _, err := sim.Run(ctx, sim.Config{Scenario: sc, Profile: p, Seed: seed, Bucket: time.Second, Drain: 2 * time.Minute})
	if err != nil {
		return nil
	}
	return run.Slice(st.Warmup, st.Warmup+st.Length)
}

// p95 of the successful answers, in seconds (0: none).
func p95(se *results.Series) float64 {
	if se.Succeeded == 0 {
		return 0
	}
	return se.Latency.Percentile(95).Seconds()
}

// errorShare is the failed share of the answers.
func errorShare(se *results.Series) float64 {
	a := se.Answered()
	if a == 0 {
		return 0
	}
	return float64(a-se.Succeeded) / float64(a)
}

// Past the knee a prediction turns on a few percent of capacity: a
// service time 3% long, which the steps below the knee cannot tell,
// becomes ten points of error share in a surge 40% past it with retries.
// The overloaded steps measure the capacity itself (a saturated pool's
// successes a second, many thousands of answers: the firmest figure a
// search has). So the last refinement scales each request's capacity knob
// (its service time at its pool, or its rate limit) toward the simulated
// successes there being the measured ones, one factor for a pool or a
// limiter several requests share, one per request otherwise, while that
// brings the score down. (Forcing the match regardless of the score was
// tried, on every candidate and on the chosen one: it fitted collapsing
// services' capacity to their collapse, and chose the wrong structure for
// them; on the others it helped one seed and hurt another. A 20-second
// step's successes are themselves a few percent uncertain.)

// saturatedShare is the error share from which a step measured a request's
// capacity.
const saturatedShare = 0.05

// matchRounds is how many times matchCapacity rescales: each round is a
// Newton step on a nearly proportional relation.
const matchRounds = 3

// matchCapacity rescales c's capacity knobs to the overloaded steps'
// successes while the score falls (best is c's score as it was).
func matchCapacity(ctx context.Context, res *Result, s *scenarios.Scenario, c candidate, best reports.Candidate, seed uint64) (candidate, reports.Candidate) {
	for range matchRounds {
		ratio, alone := capacityRatios(best, res)
		if len(ratio) == 0 || ctx.Err() != nil {
			break
		}
		try := scaleCapacity(c.p, ratio, alone)
		sc := score(ctx, res, s, candidate{c.name, c.words, try}, seed)
		if sc.Compared == 0 || sc.Score >= best.Score {
			break
		}
		c.p, best = try, sc
	}
	return c, best
}

// capacityRatios is, per request, its predicted successes over its
// measured ones at its capacity: the step where it failed saturatedShare
// or more (measured) with the most successes a second. Above 1, the model
// serves too much. The most, not every such step: a service that
// collapses when overloaded (finishing abandoned work) serves less past
// its capacity, and that is the structure's to say, not the capacity's.
// alone says the request's step played it without the others (an
// identification step): its ratio is its own, not its share of a pool's.
func capacityRatios(sc reports.Candidate, res *Result) (ratio map[string]float64, alone map[string]bool) {
	type at struct {
		rate, pred, meas float64
		alone            bool
	}
	top := map[string]at{}
	for i, st := range sc.Steps {
		length := res.Steps[i].Length.Seconds()
		for name, e := range st.Endpoints {
			if e.MeasuredErrors < saturatedShare || e.MeasuredSuccesses == 0 || length <= 0 {
				continue
			}
			if r := float64(e.MeasuredSuccesses) / length; r > top[name].rate {
				top[name] = at{r, float64(e.PredictedSuccesses), float64(e.MeasuredSuccesses), playedAlone(res.Steps[i], name)}
			}
		}
	}
	ratio, alone = map[string]float64{}, map[string]bool{}
	for name, t := range top {
		if r := t.pred / t.meas; r > 0 && math.Abs(r-1) > 0.002 {
			ratio[name], alone[name] = r, t.alone
		}
	}
	return ratio, alone
}

// playedAlone says step played request name and no other.
func playedAlone(st Step, name string) bool {
	for other, e := range st.Endpoints {
		if other != name && e.Offered > 0 {
			return false
		}
	}
	return st.Mix != ""
}

// scaleCapacity is p with each request's capacity knob moved by its
// ratio: the rate limit it meets (divided: a limit too high lets too much
// through), else its service time at its pool (multiplied). A knob several
// requests share moves by their ratios' mean, weighed alike, but for a
// request measured alone (alone): its own time at a shared pool moves by
// its own ratio, the split of the pool the mixed steps cannot tell.
func scaleCapacity(p *profile.Profile, ratio map[string]float64, alone map[string]bool) *profile.Profile {
	out := cloneProfile(p)
	shared := map[string][]float64{} // a shared knob's stage -> its requests' ratios
	for _, route := range slices.Sorted(maps.Keys(ratio)) {
		steps := out.Routes[route]
		if len(steps) == 0 {
			continue
		}
		if _, ok := out.Stages[limiterStage]; ok {
			shared[limiterStage] = append(shared[limiterStage], ratio[route])
			continue
		}
		last := &steps[len(steps)-1]
		st := out.Stages[last.Stage]
		switch {
		case st.RateLimit > 0 && len(routesVia(out, last.Stage)) == 1:
			st.RateLimit /= ratio[route]
			out.Stages[last.Stage] = st
		case st.RateLimit == 0 && last.Service != nil && alone[route]:
			svc := last.Service.Scaled(ratio[route])
			last.Service = &svc
		case st.RateLimit > 0 || len(routesVia(out, last.Stage)) > 1:
			shared[last.Stage] = append(shared[last.Stage], ratio[route])
		default:
			out.Stages[last.Stage] = scaleOwnPool(st, last, ratio[route])
		}
	}
	for name, rs := range shared {
		f := 0.0
		for _, r := range rs {
			f += r / float64(len(rs))
		}
		st := out.Stages[name]
		if st.RateLimit > 0 {
			st.RateLimit /= f
			out.Stages[name] = st
			continue
		}
		for _, route := range routesVia(out, name) {
			steps := out.Routes[route]
			if _, own := ratio[route]; own && alone[route] {
				continue // moved by its own ratio above
			}
			if last := &steps[len(steps)-1]; last.Service != nil {
				svc := last.Service.Scaled(f)
				last.Service = &svc
			}
		}
		st.Service = st.Service.Scaled(f)
		out.Stages[name] = st
	}
	return out
}

// scaleOwnPool is st, a pool of its own that step visits, with its
// capacity moved by ratio f. Its service time came from its latencies
// below the knee, which say it well; its workers, when no step of the mix
// saturated it, from their rise, which says them less well. So a capacity
// off by a worker or more moves the workers, and the service time only
// the rest of the way.
func scaleOwnPool(st profile.Stage, step *profile.Step, f float64) profile.Stage {
	c := float64(st.Workers)
	if w := max(1, math.Round(c/f)); w != c && st.Workers < transitWorkers {
		st.Workers, f = int(w), f*w/c
	}
	if step.Service != nil {
		svc := step.Service.Scaled(f)
		step.Service = &svc
	} else {
		st.Service = st.Service.Scaled(f)
	}
	return st
}

// routesVia are the routes whose last step is at stage, sorted.
func routesVia(p *profile.Profile, stage string) []string {
	var out []string
	for _, route := range slices.Sorted(maps.Keys(p.Routes)) {
		if steps := p.Routes[route]; steps[len(steps)-1].Stage == stage {
			out = append(out, route)
		}
	}
	return out
}
