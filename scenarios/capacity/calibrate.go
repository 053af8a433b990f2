package capacity

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim"
	"github.com/surgekit/surge/sim/queueing"
)

// Calibrate fits a capacity profile of the service a live search measured.
//
// When the target exports surge's stage metrics and its shape (the
// families refserver's describeProfile lists: stages, routes, platforms,
// rules), the profile has its stages: their workers, queues and policies
// as the service reports them, and each stage's service time fitted to the
// own-time histogram (surge_stage_own_seconds) of the lowest step. Without
// them it has a stage per request, fitted from the latencies and
// throughputs alone: the service time from the lowest step's answers (the
// distribution's shape fitted to their histogram, not only its mean); the
// workers from the saturation throughput (the most successful answers a
// second, times the service time: Little's law with every worker busy) or,
// where no step saturated it, from the latencies' rise (an Erlang C fit);
// the policy when full from the overload step (503s and 429s: it sheds,
// and its queue is what the successes waited; else nothing was shed and
// latency grew).
//
// Without stage metrics it then fits other structures beside the one
// stage per request and keeps the one that best reproduces every step it
// measured (candidates.go); res.Candidates lists each with its errors.
func Calibrate(ctx context.Context, res *Result, s *scenarios.Scenario, snaps []Snapshot, target string, seed uint64) (*profile.Profile, error) {
	if len(res.Steps) == 0 {
		return nil, fmt.Errorf("capacity: no step to calibrate from")
	}
	p := &profile.Profile{Name: "calibrated-" + s.Name, Stages: map[string]profile.Stage{}, Routes: map[string][]profile.Step{},
		Calibrated: &profile.Calibration{Target: target, Scenario: s.Name, At: time.Now().UTC().Format(time.RFC3339), Steps: len(res.Steps)}}
	if lowest, ok := lowestSnapshot(res, snaps); ok && shaped(lowest.After) {
		p.Calibrated.From = "stage metrics"
		p.Description = "Fitted by surge capacity from " + target + "'s stage metrics while it played " + s.Name + "."
		if err := fromStages(p, snaps, lowest); err != nil {
			return nil, err
		}
	} else {
		p.Calibrated.From = "latencies and throughputs"
		p.Description = "Fitted by surge capacity from the latencies and throughputs of " + target + " while it played " + s.Name +
			" (it exports no stage metrics): one stage per request."
		fromRequests(p, res, s)
		p = chooseStructure(ctx, res, s, p, seed)
	}
	p.Calibrated.Knee, p.Calibrated.MeasuredUpTo = res.Knee.ArrivalsPerS, measuredUpTo(res)
	if len(res.Candidates) > 0 {
		p.Calibrated.PastKneeP95Error, p.Calibrated.PastKneeErrorGap = pastKnee(res.Candidates[0], res.Knee.ArrivalsPerS)
		var note string
		p.Calibrated.CapacityUncertainty, note = capacityUncertainty(res.Candidates[0])
		p.Calibrated.Notes = append(p.Calibrated.Notes, note)
	}
	var pr spec.Problems
	p.Validate(&pr)
	if pr.Len() > 0 {
		return nil, fmt.Errorf("capacity: the calibrated profile does not validate (%d problems)", pr.Len())
	}
	return p, nil
}

// chooseStructure fits the candidate structures from p (one stage per
// request), simulates each against every step, records them in res and
// returns the best.
func chooseStructure(ctx context.Context, res *Result, s *scenarios.Scenario, p *profile.Profile, seed uint64) *profile.Profile {
	cands := candidates(p, res)
	var profiles map[string]*profile.Profile
	res.Candidates, profiles = choose(ctx, res, s, cands, seed)
	best := res.Candidates[0]
	chosen := profiles[best.Name]
	note := fmt.Sprintf("structure: %s (%s), chosen of %d fitted structures: its simulation of the %d steps scored %.3g", best.Name, best.Structure, len(cands), len(res.Steps), best.Score)
	if len(res.Candidates) > 1 {
		next := res.Candidates[1]
		note += fmt.Sprintf(" against %.3g for %s, the next best", next.Score, next.Name)
	}
	chosen.Calibrated.Notes = append(chosen.Calibrated.Notes, note)
	return chosen
}

// lowestSnapshot is the snapshot pair of the lowest step.
func lowestSnapshot(res *Result, snaps []Snapshot) (Snapshot, bool) {
	best := -1
	for i, st := range res.Steps {
		if i < len(snaps) && snaps[i].Before != nil && snaps[i].After != nil && (best < 0 || st.Offered < res.Steps[best].Offered) {
			best = i
		}
	}
	if best < 0 {
		return Snapshot{}, false
	}
	return snaps[best], true
}

// shaped says a target exports its shape with its stage metrics.
func shaped(f map[string]*dto.MetricFamily) bool {
	return f["surge_stage_info"] != nil && f["surge_route_step"] != nil && f["surge_stage_own_seconds"] != nil
}

// fromRequests fits one stage per request.
func fromRequests(p *profile.Profile, res *Result, s *scenarios.Scenario) {
	steps, runs := sortedSteps(peakMixSteps(res))
	for _, name := range journeyRequests(s) {
		t, _ := s.Request(name)
		ep := t.EndpointName(name)
		if _, done := p.Stages[ep]; done {
			continue
		}
		st, delay, note := fitRequest(name, steps, runs, s.TimeoutFor(scenarios.Step{Request: name}))
		p.Stages[ep] = st
		p.Routes[ep] = []profile.Step{{Stage: ep}}
		if delay > 0 { // the time of an answer no worker holds: the network, the server's handling before its pool
			p.Stages[ep+".transit"] = profile.Stage{Workers: transitWorkers, Service: spec.Const(delay)}
			p.Routes[ep] = []profile.Step{{Stage: ep + ".transit"}, {Stage: ep}}
		}
		p.Calibrated.Notes = append(p.Calibrated.Notes, ep+": "+note)
	}
}

// transitWorkers is the size of a transit stage: no limit.
const transitWorkers = 100_000

// fitRequest fits a request's stage from the steps (sorted by rate), and
// the transit delay of its answers that no worker holds (0: none seen).
func fitRequest(name string, steps []Step, runs []*results.Run, timeout time.Duration) (profile.Stage, time.Duration, string) {
	var low *results.Series
	var lowRate float64
	for i, st := range steps {
		if e := runs[i].Endpoints[name]; e != nil && e.Total.Succeeded >= 20 {
			low, lowRate = e.Total, st.Offered
			break
		}
	}
	if low == nil {
		return profile.Stage{Workers: 1, Queue: 0, Service: spec.Const(time.Millisecond)}, 0,
			"no step had successful answers to fit: a placeholder (1 worker, 1ms)"
	}
	svc, fitErr := fitDist(low.Service.Mean(), hdrPoints(low.Service))
	// Little's law wants the mean the answers had, not the fitted shape's:
	// a lognormal fitted to a tail that scheduling noise lengthens has a
	// mean 10% or more above the sample's, one worker too many.
	mean := low.Service.Mean().Seconds()
	st := profile.Stage{Service: svc, WhenFull: profile.WhenFullShed}
	note := fmt.Sprintf("service %s fitted to %d answers at %.3g/s (CDF error %.3f)", svc, low.Succeeded, lowRate, fitErr)
	top, topRun := steps[len(steps)-1], runs[len(runs)-1]
	te := top.Endpoints[name]
	saturated := te.Offered > 0 && (te.Goodput < 0.8*te.Answered || te.Mean > 3*mean)
	var most float64
	for _, stp := range steps {
		most = math.Max(most, stp.Endpoints[name].Goodput)
	}
	var delay time.Duration
	if saturated {
		st.Workers = max(1, int(math.Round(most*mean)))
		note += fmt.Sprintf("; %d workers from the saturation throughput %.4g/s x the %s mean", st.Workers, most, secs(mean).Round(time.Microsecond))
		// The workers were busy c / X a second each: what the answers took
		// beyond that, no worker held (it is not capacity, only latency).
		if held := float64(st.Workers) / most; held < mean && held > 0.5*mean {
			delay = secs(mean - held)
			pts := hdrPoints(low.Service)
			for i := range pts {
				pts[i].x -= delay
			}
			st.Service, _ = fitDist(secs(held), pts)
			note += fmt.Sprintf(": each held its worker %s, the other %s of an answer is transit (a stage of its own, no queue)",
				secs(held).Round(time.Microsecond), delay.Round(time.Microsecond))
		}
	} else {
		st.Workers = erlangWorkers(name, steps, svc.Mean())
		note += fmt.Sprintf("; no step saturated it: %d workers from its latencies' rise (Erlang C), at least %.4g/s x the mean",
			st.Workers, most)
	}
	note += fitQueue(&st, topRun.Endpoints[name], top, name, mean, saturated, timeout)
	return st, delay, note
}

// fitQueue sets the stage's queue from the highest step: a stage that shed
// (more than it timed out) gets the queue its successes waited in; one that
// did not, a queue as long as the clients wait. It says which.
func fitQueue(st *profile.Stage, e *results.Endpoint, top Step, name string, mean float64, saturated bool, timeout time.Duration) string {
	var shed, timeouts, answered int64
	if e != nil {
		shed, timeouts, answered = e.Total.Errors["shed"], e.Total.Errors["timeout"], e.Total.Answered()
	}
	if saturated && shed > timeouts && float64(shed) > 0.01*float64(answered) {
		te := top.Endpoints[name]
		st.Queue = queueFromWait(te.Answered, mean, st.Workers, te.Mean-mean)
		return fmt.Sprintf("; sheds when full (%d shed at %.3g/s), queue %d from what its successes waited", shed, top.Offered, st.Queue)
	}
	st.Queue = 100_000
	if timeout > 0 {
		st.QueueTimeout = timeout
	}
	return "; nothing shed: latency grows (a queue as long as the clients wait)"
}

// queueFromWait is the fewest waiting places with which an M/M/c/c+K
// queue of c workers of the mean, offered lambda a second, makes the
// requests it admits wait wait seconds on average (queueing.MMcK). The
// mean wait over a worker's share of the mean, wait*c/mean, is the queue
// an admitted request found on average, not its bound: past the knee
// but not far past it, most arrivals find the queue part full. Live, 2
// workers of 10 ms with 8 places at 1.16x their capacity read as 5 that
// way, and predicted twice the shedding and a p95 20% short.
func queueFromWait(lambda, mean float64, c int, wait float64) int {
	const most = 100_000
	if wait <= 0 || mean <= 0 || lambda <= 0 {
		return 0
	}
	for k := 0; k < most; k = max(k+1, k*9/8) {
		w, err := queueing.MMcK{Lambda: lambda, S: secs(mean), C: c, K: k}.AdmittedWait()
		if err != nil {
			return int(math.Round(wait / mean * float64(c)))
		}
		if w.Seconds() >= wait {
			return k
		}
	}
	return most
}

// erlangWorkers is the fewest workers with which an M/M/c queue of the
// service mean gives the measured p95s within 10% at every step, or, with
// none that close, the best fit.
func erlangWorkers(name string, steps []Step, mean time.Duration) int {
	type point struct{ lambda, p95 float64 }
	var pts []point
	for _, st := range steps {
		if e := st.Endpoints[name]; e.Answered > 0 && e.P95 > 0 {
			pts = append(pts, point{e.Answered, e.P95})
		}
	}
	best, bestErr := 1, math.Inf(1)
	for c := 1; c <= 4096; c++ {
		worst := 0.0
		ok := true
		for _, p := range pts {
			q := queueing.MMc{Lambda: p.lambda, S: mean, C: c}
			if q.Utilization() >= 1 {
				ok = false
				break
			}
			r, err := q.ResponseQuantile(0.95)
			if err != nil {
				ok = false
				break
			}
			worst = math.Max(worst, math.Abs(math.Log(r.Seconds()/p.p95)))
		}
		if !ok {
			continue
		}
		if worst < bestErr {
			best, bestErr = c, worst
		}
		if worst <= math.Log(1.1) {
			return c
		}
	}
	return best
}

// journeyRequests are the requests the scenario's journeys send, sorted.
func journeyRequests(s *scenarios.Scenario) []string {
	var out []string
	for _, steps := range s.Journeys {
		for _, st := range steps {
			if st.Request != "" && !slices.Contains(out, st.Request) {
				out = append(out, st.Request)
			}
		}
	}
	sort.Strings(out)
	return out
}

// fromStages builds the profile from the target's exported shape, and
// fits each stage's service time to its own-time histogram over the
// lowest step.
func fromStages(p *profile.Profile, snaps []Snapshot, lowest Snapshot) error {
	shape := lowest.After
	gauge := func(family, stage string) float64 {
		for _, m := range shape[family].GetMetric() {
			if v, _ := replay.Label(m, "stage"); v == stage {
				return m.GetGauge().GetValue()
			}
		}
		return 0
	}
	for _, m := range shape["surge_stage_info"].GetMetric() {
		name, _ := replay.Label(m, "stage")
		when, _ := replay.Label(m, "when_full")
		st := profile.Stage{Workers: int(gauge("surge_stage_workers", name)), Queue: int(gauge("surge_stage_queue_capacity", name)), WhenFull: when,
			QueueTimeout: labelSeconds(m, "queue_timeout_seconds"), RetryAfter: labelSeconds(m, "retry_after_seconds")}
		st.Service = ownTime(name, lowest, snaps)
		p.Calibrated.Notes = append(p.Calibrated.Notes, fmt.Sprintf("%s: %d workers, queue %d, %s when full (as it reports them); service %s fitted to its own-time histogram",
			name, st.Workers, st.Queue, when, st.Service))
		p.Stages[name] = st
	}
	routes, err := routesOf(shape["surge_route_step"])
	if err != nil {
		return err
	}
	p.Routes = routes
	for _, m := range shape["surge_platform_info"].GetMetric() {
		pl, _ := replay.Label(m, "platform")
		proof, _ := replay.Label(m, "proof")
		if p.Platforms == nil {
			p.Platforms = map[string]profile.Platform{}
		}
		p.Platforms[pl] = profile.Platform{Proof: proof}
	}
	for _, m := range shape["surge_rule_info"].GetMetric() {
		r := profile.Rule{}
		r.Name, _ = replay.Label(m, "name")
		r.Expires, _ = replay.Label(m, "expires")
		r.Limit, _ = replay.Label(m, "limit")
		r.After, r.Per = labelSeconds(m, "after_seconds"), labelSeconds(m, "per_seconds")
		r.Requests, _ = strconv.Atoi(labelOr(m, "requests", "0"))
		r.Answer.Status, _ = strconv.Atoi(labelOr(m, "status", "0"))
		r.Answer.Code, _ = replay.Label(m, "code")
		p.Rules = append(p.Rules, r)
	}
	sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].Name < p.Rules[j].Name })
	if f := shape["surge_server_request_timeout_seconds"]; f != nil && len(f.GetMetric()) > 0 {
		p.Server.RequestTimeout = secs(f.GetMetric()[0].GetGauge().GetValue())
	}
	return nil
}

// ownTime fits a stage's service time to its own-time histogram: the
// lowest step's visits, else any step's.
func ownTime(stage string, lowest Snapshot, snaps []Snapshot) spec.Dist {
	for _, sn := range append([]Snapshot{lowest}, snaps...) {
		count, sum, pts := histogramDelta(sn, "surge_stage_own_seconds", stage)
		if count >= 20 {
			d, _ := fitDist(secs(sum/count), pts)
			return d
		}
	}
	return spec.Const(time.Millisecond) // never visited: nothing to fit
}

// histogramDelta is a histogram's visits, sum and CDF over a snapshot.
func histogramDelta(sn Snapshot, family, stage string) (count, sum float64, pts []cdfPoint) {
	find := func(f map[string]*dto.MetricFamily) *dto.Histogram {
		for _, m := range f[family].GetMetric() {
			if v, _ := replay.Label(m, "stage"); v == stage {
				return m.GetHistogram()
			}
		}
		return nil
	}
	a, b := find(sn.Before), find(sn.After)
	if b == nil {
		return 0, 0, nil
	}
	count, sum = float64(b.GetSampleCount()), b.GetSampleSum()
	before := map[float64]float64{}
	if a != nil {
		count -= float64(a.GetSampleCount())
		sum -= a.GetSampleSum()
		for _, bk := range a.GetBucket() {
			before[bk.GetUpperBound()] = float64(bk.GetCumulativeCount())
		}
	}
	if count <= 0 {
		return 0, 0, nil
	}
	for _, bk := range b.GetBucket() {
		f := (float64(bk.GetCumulativeCount()) - before[bk.GetUpperBound()]) / count
		if f > 0.001 && f < 0.999 { // the informative part of the CDF
			pts = append(pts, cdfPoint{secs(bk.GetUpperBound()), f})
		}
	}
	return count, sum, pts
}

// routesOf rebuilds the routes from surge_route_step samples: each a
// stage visit at a path ("0", "0.1": call 1 of step 0).
func routesOf(f *dto.MetricFamily) (map[string][]profile.Step, error) {
	type visit struct {
		path  []int
		stage string
		async bool
	}
	byRoute := map[string][]visit{}
	for _, m := range f.GetMetric() {
		route, _ := replay.Label(m, "route")
		path, _ := replay.Label(m, "path")
		stage, _ := replay.Label(m, "stage")
		async, _ := replay.Label(m, "async")
		var idx []int
		for _, part := range strings.Split(path, ".") {
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i > 1000 {
				return nil, fmt.Errorf("capacity: surge_route_step{route=%q}: path %q is not N or N.N...", route, path)
			}
			idx = append(idx, i)
		}
		byRoute[route] = append(byRoute[route], visit{idx, stage, async == "true"})
	}
	out := map[string][]profile.Step{}
	for route, vs := range byRoute {
		sort.Slice(vs, func(i, j int) bool { return slices.Compare(vs[i].path, vs[j].path) < 0 })
		var root []profile.Step
		for _, v := range vs {
			list := &root
			for _, i := range v.path[:len(v.path)-1] {
				if i >= len(*list) {
					return nil, fmt.Errorf("capacity: surge_route_step{route=%q}: a call below a step that is not there", route)
				}
				list = &(*list)[i].Calls
			}
			*list = append(*list, profile.Step{Stage: v.stage, Async: v.async})
		}
		out[route] = root
	}
	return out, nil
}

func labelSeconds(m *dto.Metric, name string) time.Duration {
	v, _ := strconv.ParseFloat(labelOr(m, name, "0"), 64)
	return secs(v)
}

func labelOr(m *dto.Metric, name, def string) string {
	if v, ok := replay.Label(m, name); ok && v != "" {
		return v
	}
	return def
}

// Check simulates the calibrated profile at each measured step's rate (the
// same mix, length and seed) and compares each request's p95.
func Check(ctx context.Context, res *Result, s *scenarios.Scenario, p *profile.Profile, seed uint64) []CalibrationCheck {
	var out []CalibrationCheck
	for i, st := range res.Steps {
		if ctx.Err() != nil {
			break
		}
		sc, err := Steady(s, res.mixes[i], st.Offered, st.Warmup+st.Length)
		if err != nil {
			continue
		}
		run, _, err := sim.Run(ctx, sim.Config{Scenario: sc, Profile: p, Seed: seed, Bucket: time.Second, Drain: 2 * time.Minute})
		if err != nil {
			continue
		}
		pred := run.Slice(st.Warmup, st.Warmup+st.Length)
		c := CalibrationCheck{Offered: st.Offered, Endpoints: map[string]CheckEndpoint{}}
		for _, name := range res.runs[i].EndpointNames() {
			me, pe := res.runs[i].Endpoints[name].Total, pred.Endpoints[name]
			if me.Succeeded < 100 || pe == nil || pe.Total.Succeeded < 100 {
				continue
			}
			ce := CheckEndpoint{Measured: me.Latency.Percentile(95).Seconds(), Predicted: pe.Total.Latency.Percentile(95).Seconds()}
			if ce.Measured > 0 {
				ce.Error = (ce.Predicted - ce.Measured) / ce.Measured
			}
			c.Endpoints[name] = ce
			c.MaxError = math.Max(c.MaxError, math.Abs(ce.Error))
		}
		out = append(out, c)
	}
	return out
}

// peakMixSteps are the steps of the peak's mix (not identification steps)
// with their runs.
func peakMixSteps(res *Result) ([]Step, []*results.Run) {
	var steps []Step
	var runs []*results.Run
	for i, st := range res.Steps {
		if st.Mix == "" {
			steps, runs = append(steps, st), append(runs, res.runs[i])
		}
	}
	return steps, runs
}

// measuredUpTo is the highest rate of the peak's mix the search played.
func measuredUpTo(res *Result) float64 {
	most := 0.0
	for _, st := range res.Steps {
		if st.Mix == "" {
			most = math.Max(most, st.Offered)
		}
	}
	return most
}

// pastKnee is a candidate's worst p95 error and error-share gap over the
// steps of the peak's mix past the knee, signed.
func pastKnee(c reports.Candidate, knee float64) (p95Err, gap float64) {
	for _, st := range c.Steps {
		if st.Mix != "" || st.Offered <= knee {
			continue
		}
		for _, e := range st.Endpoints {
			if e.MeasuredP95 > 0 && e.PredictedP95 > 0 {
				if x := (e.PredictedP95 - e.MeasuredP95) / e.MeasuredP95; math.Abs(x) > math.Abs(p95Err) {
					p95Err = x
				}
			}
			if x := e.PredictedErrors - e.MeasuredErrors; math.Abs(x) > math.Abs(gap) {
				gap = x
			}
		}
	}
	return p95Err, gap
}

// mostUncertainty bounds capacityUncertainty: past half, the band would
// say only that the capacity is not known.
const mostUncertainty = 0.5

// capacityUncertainty is the relative 95% uncertainty of the capacity a
// candidate was fitted to, from the steps that filled the service (a
// request failing 5% or more with successes enough to count): there its
// successes a second are the capacity. Two parts, added in quadrature:
// the successes' own sampling error (1.96/sqrt(n) of the n successes
// counted: a pool's completions in a fixed time vary as its service
// times do, which for exponential work is the Poisson count's) and how
// far the candidate's simulation of those steps was off (the root mean
// square of ln(predicted / measured successes), weighted by the
// successes). 0 when no step filled the service.
func capacityUncertainty(c reports.Candidate) (float64, string) {
	var n, sq float64
	for _, st := range c.Steps {
		for _, e := range st.Endpoints {
			if e.MeasuredErrors < saturatedShare || e.MeasuredSuccesses < minCandidateAnswers {
				continue
			}
			m := float64(e.MeasuredSuccesses)
			r := math.Log(float64(e.PredictedSuccesses+1) / (m + 1))
			n, sq = n+m, sq+m*r*r
		}
	}
	if n == 0 {
		return 0, "capacity: no step filled the service, so how well its capacity is known is not known (surge sim plays no band)"
	}
	sampling, misfit := 1.96/math.Sqrt(n), math.Sqrt(sq/n)
	u := math.Min(math.Hypot(sampling, misfit), mostUncertainty)
	return u, fmt.Sprintf("capacity: known within %.1f%% (95%%): the sampling error of the %.0f successes of the steps that filled the service (%.1f%%) and the chosen structure's simulation of them, off by %.1f%% (root mean square); surge sim plays a prediction again at both ends",
		100*u, n, 100*sampling, 100*misfit)
}
