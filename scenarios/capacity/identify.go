package capacity

import (
	"context"
	"fmt"
	"math"
)

// identifyFactor is how far past its share of the knee a cohort plays
// alone. At the peak's mix a pool shared by every request and one pool per
// request sized in proportion behave alike; alone, a cohort that had its
// own pool overloads it at 1.5 times its share of the knee, while one that
// shares a pool with the others finds it mostly free. The identification
// steps show which (and the calibration simulates both against them).
const identifyFactor = 1.5

// fillFactor is how far past a shared pool's estimated capacity for a
// cohort alone fill plays it. The estimate is low: the knee sits below the
// pool's capacity, and the work per arrival counts the time spent outside
// the pool too (2 ms of a front tier in front of a 5 ms visit of a pool of
// 2 made 1.5 fall short of it). Past capacity the successes a second are
// the capacity, so going further costs nothing but the step's failures.
const fillFactor = 2.0

// fillMost bounds a fill step at this many times the knee (and --max
// bounds it as every step): a cohort whose requests cost a fiftieth of the
// mix's would otherwise be asked of the generator at a hundred times it.
const fillMost = 8.0

// identify plays, after the knee is found, each cohort of the peak's mix
// alone at identifyFactor times its arrivals at the knee, within the
// budget. It needs two cohorts or more, and a knee.
func (q *search) identify(ctx context.Context) {
	k := q.res.Knee.ArrivalsPerS
	if q.cfg.NoIdentify || k <= 0 || ctx.Err() != nil || q.res.Ended == "generator" || q.res.Ended == "interrupted" {
		return
	}
	var cohorts []int
	for i, share := range q.mix.Cohorts {
		if share > 0 && q.mix.Main > 0 {
			cohorts = append(cohorts, i)
		}
	}
	if len(cohorts) < 2 {
		return
	}
	for _, i := range cohorts {
		m := alone(q.mix, i)
		rate := identifyFactor * k * q.mix.Main * q.mix.Cohorts[i]
		if !q.fits(q.cfg.MinStep) || ctx.Err() != nil {
			return
		}
		label := fmt.Sprintf("only %s, at %.3gx its share of the knee", q.s.Cohorts[i].Name, identifyFactor)
		st, _, err := q.play(ctx, m, label, rate, q.cfg.MinStep, false)
		if err != nil {
			return
		}
		if !q.fill(ctx, i, st) {
			return
		}
	}
}

// fill plays cohort i alone once more, fast enough to fill a pool the
// mix's requests would share, when its first step alone (st) did not
// saturate it (its clauses are no guide: the others' have no samples): a
// pool shared at the knee serves a cohort alone at about the knee times
// the mix's work per arrival over the cohort's (each request's work its
// mean latency at the lowest passing step of the mix), and a cohort's
// share of such a pool is what the steps of the peak's mix cannot tell (there every request's
// successes fall together, whatever their split of the pool's time). A
// cheap request's service time off by a millisecond in a pool of two is
// ten points of errors in a surge past the knee. False when the budget or
// the context ends the identification.
func (q *search) fill(ctx context.Context, i int, st Step) bool {
	mixed := q.lowestPass()
	if mixed == nil || failedShare(st) >= saturatedShare {
		return true // it measured the cohort's capacity already
	}
	rate := math.Min(fillFactor*workAt(*mixed, *mixed)/workAt(st, *mixed), fillMost) * q.res.Knee.ArrivalsPerS
	if q.cfg.Max > 0 {
		rate = math.Min(rate, q.cfg.Max)
	}
	if rate <= st.Offered || math.IsNaN(rate) {
		return true
	}
	if !q.fits(q.cfg.MinStep) || ctx.Err() != nil {
		return false
	}
	label := fmt.Sprintf("only %s, at %.3gx the knee: enough to fill a pool the requests would share", q.s.Cohorts[i].Name, rate/q.res.Knee.ArrivalsPerS)
	_, _, err := q.play(ctx, alone(q.mix, i), label, rate, q.cfg.MinStep, false)
	return err == nil
}

// workAt is a step's requests' mean latency summed per arrival (the time
// an arrival keeps the service busy, give or take what it spends outside
// it), each request's mean read at base (a lower rate) where base has it:
// st's requests per arrival at base's cost each. A cohort played alone at 1.5 times its share of the knee may
// already wait in a pool it nearly fills; its own latencies there made
// its work look a third higher, and the fill step a third too slow to
// fill the pool (measured: 0.78x the knee where 1.7x was wanted).
func workAt(st, base Step) float64 {
	if st.Achieved <= 0 {
		return math.NaN()
	}
	w := 0.0
	for name, e := range st.Endpoints {
		mean := e.Mean
		if b, ok := base.Endpoints[name]; ok && b.Mean > 0 {
			mean = b.Mean
		}
		w += e.Answered * mean
	}
	return w / st.Achieved
}

// lowestPass is the passing step of the peak's mix at the lowest rate (the
// service's work least inflated by waiting), or nil.
func (q *search) lowestPass() *Step {
	var out *Step
	for i, st := range q.res.Steps {
		if st.Mix == "" && st.Pass && !st.Behind && (out == nil || st.Offered < out.Offered) {
			out = &q.res.Steps[i]
		}
	}
	return out
}

// alone is mix m with only cohort i arriving (on the main stream).
func alone(m Mix, i int) Mix {
	out := Mix{Peak: m.Peak, At: m.At, Main: 1, Extra: make([]float64, len(m.Extra)), Cohorts: make([]float64, len(m.Cohorts))}
	out.Cohorts[i] = 1
	return out
}

// failedShare is the share of a step's answers that failed.
func failedShare(st Step) float64 {
	var answered, good float64
	for _, e := range st.Endpoints {
		answered, good = answered+e.Answered, good+e.Goodput
	}
	if answered == 0 {
		return 0
	}
	return 1 - good/answered
}
