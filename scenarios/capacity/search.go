package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// Runner plays the scenarios a search makes: live against a target
// (LiveRunner) or on a capacity profile in the simulator (SimRunner).
type Runner interface {
	// Steady plays a steady scenario and returns its run; drain is how
	// long its users may finish after the arrivals.
	Steady(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration) (*results.Run, error)
	// Closed plays the mix with users users at once for d.
	Closed(ctx context.Context, s *scenarios.Scenario, seed uint64, users int, d time.Duration) (*results.Run, error)
	// Cooldown waits for the service to be idle again after a step.
	Cooldown(ctx context.Context) error
	// Mode is "live" or "sim".
	Mode() string
}

// StepEnder is a Runner that can end a steady step's arrivals early: done
// is asked about once a second with the run so far, the step's clock (how
// long since its first arrival) and the time on that clock before which
// every answer is in (an answer still to come lands in the bucket of its
// send, so the search reads the run behind the clock; 0 when the runner
// does not know, and the search waits a client timeout), and the arrivals
// end when it says so (LiveRunner: the rest of the step is wall time
// saved; the simulator plays a step in a moment, and the search reads the
// decision after).
type StepEnder interface {
	SteadyUntil(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration,
		done func(run *results.Run, elapsed, answered time.Duration) bool) (*results.Run, error)
}

// Prober is a Runner that can play a probe between steps that is not a
// step (LiveRunner: no scrape of the target's metrics is taken for it).
// A search probes a live service after a step that failed until it answers
// as it did at a low rate again (settle).
type Prober interface {
	Probe(ctx context.Context, s *scenarios.Scenario, seed uint64) (*results.Run, error)
}

// Config is one search. Zero optional fields take the documented defaults.
type Config struct {
	Scenario *scenarios.Scenario
	Runner   Runner
	Seed     uint64
	// Start is the first step's arrivals/s (default a quarter of the
	// forecast peak); Max the most a step may offer (0: no bound).
	Start, Max float64
	// Budget bounds the search's wall time (0: none): no step starts
	// that would end after it.
	Budget time.Duration
	// Precision is how close the bisection brackets the knee:
	// (fail - pass) / pass (default 5%).
	Precision float64
	// MinStep is the shortest a step measures (default 20s); a step near
	// the knee measures long enough for its clauses' samples at its rate,
	// twice over, up to MaxStep (default 3m).
	MinStep, MaxStep time.Duration
	// Warmup is cut off the start of each step (default: twice a journey's
	// mean length, within 5s and 60s).
	Warmup time.Duration
	// Concurrency are the users of the closed-loop sweep for the USL (none:
	// no sweep); SweepStep is how long each measures (default 20s).
	Concurrency []int
	SweepStep   time.Duration
	// Overload: after the knee, one step at twice it (within Max), for the
	// calibration to see the service saturated (default on; set NoOverload
	// to skip it).
	NoOverload bool
	// NoIdentify skips the identification steps (identify.go): each cohort
	// alone, past its share of the knee, so that the calibration can tell
	// whether the requests share what limits them.
	NoIdentify bool
	// Sequential ends each step of the bracket as soon as its verdict is
	// decided (sequential.go), after a quarter of MinStep or 5 s at the
	// soonest, whichever is longer (a failure 10 s at least, its later
	// half failing too): the steps far from the knee are short, those
	// near it as long as they must be. surge capacity's default; off,
	// every step measures its whole length.
	Sequential bool
	// Now is the wall clock for the budget (default time.Now).
	Now func() time.Time
	// Progress, if set, is told each step as it ends.
	Progress func(Step)
	// Steps, if set, gets each step's whole run as it ends (to write it).
	Steps func(i int, st Step, run *results.Run) error
}

// Result is what a search found: the document (reports.Capacity) and
// each step's steady part.
type Result struct {
	reports.Capacity

	mix   Mix
	runs  []*results.Run // each step's steady part, as Steps
	mixes []Mix          // each step's mix, as Steps
}

// The document's types, by the names the search uses.
type (
	Step             = reports.CapacityStep
	StepEndpoint     = reports.CapacityEndpoint
	Knee             = reports.Knee
	USLResult        = reports.USLFit
	CalibrationCheck = reports.CalibrationCheck
	CheckEndpoint    = reports.CheckEndpoint
)

// Errors of a search that cannot be done.
var (
	ErrNoClauses  = errors.New("capacity: the scenario states no SLO clause a capacity search can judge (latency, error or user shares, retry amplification)")
	ErrNoArrivals = errors.New("capacity: the scenario forecasts no arrivals to take a mix from")
)

// NoCapacity is the error of a service that met the clauses at no rate
// tried: a gate failure (exit 2), not a search that could not run.
type NoCapacity struct {
	Rate float64
	Why  string
}

func (e *NoCapacity) Error() string {
	return fmt.Sprintf("no capacity at %.3g arrivals/s: %s", e.Rate, e.Why)
}

// Unwrap makes it a NO-GO (reports.ErrNoGo).
func (e *NoCapacity) Unwrap() error { return reports.ErrNoGo }

// search is one search in progress.
type search struct {
	cfg     Config
	s       *scenarios.Scenario
	clauses []scenarios.Clause
	mix     Mix
	per     map[string]float64
	warm    time.Duration
	began   time.Time
	res     *Result
}

// Search finds the knee. It returns the result so far with an error when
// it stops early for a reason that is not the service's (an interrupted
// search returns its steps and no error: Ended says so).
func Search(ctx context.Context, cfg Config) (*Result, error) {
	q, err := newSearch(cfg)
	if err != nil {
		return nil, err
	}
	if err := q.bracket(ctx); err != nil {
		return q.res, err
	}
	q.overload(ctx)
	q.identify(ctx)
	q.sweep(ctx)
	q.conclude()
	if q.res.Ended == "no capacity" {
		return q.res, &NoCapacity{Rate: q.res.Steps[len(q.res.Steps)-1].Offered, Why: q.res.Note}
	}
	return q.res, nil
}

func newSearch(cfg Config) (*search, error) {
	s := cfg.Scenario
	q := &search{cfg: cfg, s: s, clauses: searchClauses(s), mix: PeakMix(s)}
	if len(q.clauses) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoClauses, s.Name)
	}
	if q.mix.Peak <= 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoArrivals, s.Name)
	}
	if q.cfg.Precision <= 0 {
		q.cfg.Precision = 0.05
	}
	if q.cfg.MinStep <= 0 {
		q.cfg.MinStep = 20 * time.Second
	}
	if q.cfg.MaxStep <= 0 {
		q.cfg.MaxStep = 3 * time.Minute
	}
	if q.cfg.SweepStep <= 0 {
		q.cfg.SweepStep = 20 * time.Second
	}
	if q.cfg.Now == nil {
		q.cfg.Now = time.Now
	}
	if q.cfg.Start <= 0 {
		q.cfg.Start = q.mix.Peak / 4
	}
	if q.cfg.Max > 0 && q.cfg.Max < q.cfg.Start {
		return nil, fmt.Errorf("capacity: the most a step may offer (%.3g/s) is below the first step (%.3g/s)", q.cfg.Max, q.cfg.Start)
	}
	q.warm = q.cfg.Warmup
	if q.warm <= 0 {
		q.warm = min(max(2*journeyTime(s, q.mix), 5*time.Second), time.Minute)
	}
	q.per = perArrival(s, q.mix)
	q.began = q.cfg.Now()
	q.res = &Result{Capacity: reports.Capacity{Scenario: s.Name, Mode: cfg.Runner.Mode(), Peak: q.mix.Peak}, mix: q.mix}
	return q, nil
}

// drain is how long a step's users may finish after its arrivals.
func (q *search) drain() time.Duration { return max(time.Minute, 2*q.warm) }

// fits says a step of length d (after its warm-up) can end within the
// budget.
func (q *search) fits(d time.Duration) bool { return q.within(q.warm + d) }

// within says d more of the search's wall time ends within the budget.
func (q *search) within(d time.Duration) bool {
	return q.cfg.Budget <= 0 || q.cfg.Now().Sub(q.began)+d <= q.cfg.Budget
}

// step plays and measures one steady rate of the peak's mix.
func (q *search) step(ctx context.Context, rate float64, length time.Duration) (Step, *results.Run, error) {
	return q.play(ctx, q.mix, "", rate, length, false)
}

// play plays and measures one steady rate of mix m (label: how it
// differs from the peak's; "" for none); with seq (and Config.Sequential)
// it ends when its verdict is decided (sequential.go).
func (q *search) play(ctx context.Context, m Mix, label string, rate float64, length time.Duration, seq bool) (Step, *results.Run, error) {
	sc, err := Steady(q.s, m, rate, q.warm+length)
	if err != nil {
		return Step{}, nil, err
	}
	run, measured, err := q.run(ctx, sc, length, seq && q.cfg.Sequential)
	if err != nil {
		return Step{}, nil, err
	}
	st, steady := measure(q.s, rate, run, q.warm, measured, q.clauses)
	st.Mix = label
	if measured < length {
		st.Planned = length
	}
	q.res.Steps = append(q.res.Steps, st)
	q.res.runs = append(q.res.runs, steady)
	q.res.mixes = append(q.res.mixes, m)
	if q.cfg.Steps != nil {
		if err := q.cfg.Steps(len(q.res.Steps)-1, st, run); err != nil {
			return st, run, err
		}
	}
	if q.cfg.Progress != nil {
		q.cfg.Progress(st)
	}
	if err := q.cfg.Runner.Cooldown(ctx); err != nil && ctx.Err() == nil {
		return st, run, err
	}
	if failedShare(st) > 0 || !st.Pass {
		q.settle(ctx, len(q.res.Steps)-1)
	}
	return st, run, nil
}

// run plays a steady step planned to measure length after its warm-up,
// and says how long it measured: with seq, as long as it took to decide
// its verdict (a runner that can end a step early ends it then; another
// plays it whole and the search reads the decision after).
func (q *search) run(ctx context.Context, sc *scenarios.Scenario, length time.Duration, seq bool) (*results.Run, time.Duration, error) {
	seq = seq && length > q.seqShortest()
	if ender, ok := q.cfg.Runner.(StepEnder); seq && ok {
		at, lags := length, q.lags()
		run, err := ender.SteadyUntil(ctx, sc, q.cfg.Seed, q.drain(), func(run *results.Run, elapsed, answered time.Duration) bool {
			if l := q.decidedLive(run, elapsed, answered, length, lags); l > 0 {
				at = l
				return true
			}
			return false
		})
		return run, at, err
	}
	run, err := q.cfg.Runner.Steady(ctx, sc, q.cfg.Seed, q.drain())
	if err != nil || !seq {
		return run, length, err
	}
	return run, q.earliest(run, length), nil
}

// bracket ramps geometrically to the first breach, then bisects.
func (q *search) bracket(ctx context.Context) error {
	lo, hi := 0.0, math.Inf(1)
	r, downs := q.cfg.Start, 0
	k := &q.res.Knee
	for {
		// Far from the knee a clause passes or fails by a wide margin: the
		// ramp's steps measure MinStep. Near it (bisecting) a step measures
		// long enough for its clauses' samples, and twice that, up to
		// maxStep: the verdict is closer.
		length := q.cfg.MinStep
		if lo > 0 && !math.IsInf(hi, 1) {
			length = min(2*stepLength(q.clauses, q.per, r, q.cfg.MinStep), max(q.cfg.MaxStep, q.cfg.MinStep))
		}
		if !q.fits(length) {
			q.res.Ended, k.Limit = "budget", "budget"
			break
		}
		st, _, err := q.play(ctx, q.mix, "", r, length, true)
		if ctx.Err() != nil {
			q.res.Ended = "interrupted"
			break
		}
		if err != nil {
			return err
		}
		if st.Behind {
			q.res.Ended, k.Limit = "generator", "generator"
			q.res.Note = fmt.Sprintf("surge could not keep the schedule at %.3g arrivals/s (sends late by p99 %v): the generator is the limit here, not the service; the knee is at least the last rate it drove cleanly",
				r, st.LateP99.Round(time.Millisecond))
			break
		}
		if st.Pass {
			lo = r
		} else {
			hi = r
		}
		var how turn
		if r, downs, how = q.next(st, lo, hi, r, downs); how == noCapacity {
			return nil
		} else if how == stop {
			break
		}
	}
	k.ArrivalsPerS = lo
	if !math.IsInf(hi, 1) {
		k.Below = hi
	}
	return nil
}

// turn is what the search does after a step.
type turn int

const (
	again      turn = iota // step again at the next rate
	stop                   // the knee is bracketed (or the search may go no higher)
	noCapacity             // it failed at every rate down to a few halvings
)

// next is the rate after a step at r that passed or failed (lo, the highest
// that passed; hi, the lowest that failed): halve below the first failure
// (up to three times), double to the first failure, then bisect to the
// precision; it records why the search ends when it does.
func (q *search) next(st Step, lo, hi, r float64, downs int) (float64, int, turn) {
	k := &q.res.Knee
	switch {
	case !st.Pass && lo == 0 && (st.AllFailed || downs >= 3):
		q.res.Ended, k.Limit = "no capacity", "service"
		q.res.Note = "every clause must hold, and " + st.Broke
		if st.AllFailed {
			q.res.Note = "not one answer succeeded"
		}
		return r, downs, noCapacity
	case !st.Pass && lo == 0:
		return r / 2, downs + 1, again
	case math.IsInf(hi, 1) && q.cfg.Max > 0 && r >= q.cfg.Max:
		q.res.Ended, k.Limit = "max", "max"
	case math.IsInf(hi, 1):
		r = 2 * r
		if q.cfg.Max > 0 {
			r = math.Min(r, q.cfg.Max)
		}
		return r, downs, again
	case (hi-lo)/lo <= q.cfg.Precision:
		q.res.Ended, k.Limit, k.Found = "found", "service", true
	default:
		return (lo + hi) / 2, downs, again
	}
	return r, downs, stop
}

// overload plays one step at twice the knee, if none ran past 1.5x it, so
// the calibration sees the service saturated: its throughput there gives
// its workers, and how it failed gives its policy when full.
func (q *search) overload(ctx context.Context) {
	k := q.res.Knee
	if q.cfg.NoOverload || k.ArrivalsPerS <= 0 || ctx.Err() != nil || q.res.Ended == "generator" {
		return
	}
	for _, st := range q.res.Steps {
		if st.Offered >= 1.5*k.ArrivalsPerS {
			return
		}
	}
	r := 2 * k.ArrivalsPerS
	if q.cfg.Max > 0 {
		r = math.Min(r, q.cfg.Max)
	}
	if r < 1.5*k.ArrivalsPerS {
		return
	}
	if length := q.cfg.MinStep; q.fits(length) {
		q.step(ctx, r, length)
	}
}

// conclude works out the knee's requests, the headroom, the bottleneck and
// the gate.
func (q *search) conclude() {
	res := q.res
	k := &res.Knee
	if k.ArrivalsPerS > 0 {
		res.Headroom = k.ArrivalsPerS / res.Peak
	}
	var pass, fail *Step
	var failRun *results.Run
	for i := range res.Steps {
		st := &res.Steps[i]
		if st.Mix != "" {
			continue // an identification step: another mix, no knee
		}
		if st.Pass && st.Offered == k.ArrivalsPerS {
			pass = st
		}
		if !st.Pass && (fail == nil || st.Offered < fail.Offered) {
			fail, failRun = st, res.runs[i]
		}
	}
	if pass != nil {
		k.RequestsPerS = pass.Requests
	}
	if fail != nil {
		res.Bottleneck, res.BottleneckWhy = bottleneck(q.s, fail, failRun)
	}
	for _, c := range q.s.SLO {
		if c.Metric == "headroom" {
			res.Gate = append(res.Gate, q.headroom(c.Text, c.Value))
		}
	}
	if h := q.s.Gate.Headroom; h > 0 {
		res.Gate = append(res.Gate, q.headroom(fmt.Sprintf("headroom >= %gx", h), h))
	}
}

// headroom judges a headroom clause on the knee; a knee the search did not
// pin down (it held to --max, or ran out of budget or generator) is judged
// on what it showed.
func (q *search) headroom(text string, limit float64) reports.ClauseResult {
	c := reports.EvaluateHeadroom(text, limit, q.res.Knee.ArrivalsPerS, q.res.Peak)
	if !q.res.Knee.Found && c.Pass {
		c.Note = "the knee is at least this: the search stopped at its " + q.res.Knee.Limit
	}
	return c
}

// bottleneck names what limits the knee: the stage that saturated first
// in the lowest step that broke (when the target exports stage metrics),
// else the request whose clause broke.
func bottleneck(s *scenarios.Scenario, fail *Step, run *results.Run) (string, string) {
	if len(run.Stages) > 0 {
		if b := reports.Summarize(reports.New(s, run)).Bottleneck; b != nil {
			return b.Stage, b.Reason
		}
	}
	worst, margin := "", math.Inf(1)
	for _, c := range fail.Clauses {
		if c.Evaluated() && !c.Pass && c.Margin < margin {
			worst, margin = c.Clause, c.Margin
		}
	}
	return requestOf(s, worst), "no stage metrics: the request whose clause broke first, " + fail.Broke
}

// requestOf is the request a clause's text names, or "all requests".
func requestOf(s *scenarios.Scenario, text string) string {
	for _, c := range s.SLO {
		if c.Text == text && c.Endpoint != "" {
			return c.Endpoint
		}
	}
	return "all requests"
}

// Go says whether the headroom gate passed (true with no headroom clause).
func (r *Result) Go() bool {
	return r.Err() == nil
}

// Err is the search's NO-GO (wrapping reports.ErrNoGo): the headroom
// clauses that failed, with what was measured, or no capacity at all; nil
// on GO.
func (r *Result) Err() error {
	var failed []string
	for _, g := range r.Gate {
		if g.Evaluated() && !g.Pass {
			failed = append(failed, fmt.Sprintf("%s (measured %.2fx)", g.Clause, g.Measured))
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("%w: %s", reports.ErrNoGo, strings.Join(failed, "; "))
	case r.Ended == "no capacity":
		return fmt.Errorf("%w: no step met the SLOs", reports.ErrNoGo)
	}
	return nil
}
