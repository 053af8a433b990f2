package capacity

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// behindLate is how late the generator's sends may go out (p99) before a
// step is the generator's limit rather than the service's.
const behindLate = 10 * time.Millisecond

// minLateSends is how many sends a step's late p99 is read from before it
// can say the generator is behind (below 100, a p99 is the latest send).
const minLateSends = 100

// measure judges a step's run: its steady part (returned beside the step)
// is [warm, warm+length).
func measure(s *scenarios.Scenario, rate float64, run *results.Run, warm, length time.Duration, clauses []scenarios.Clause) (Step, *results.Run) {
	sl := run.Slice(warm, warm+length)
	secs := length.Seconds()
	st := Step{Offered: rate, Achieved: float64(sl.Users.Arrived) / secs, Endpoints: map[string]StepEndpoint{},
		Warmup: warm, Length: length, LateP99: run.Generator.Late.Percentile(99), ConnWaited: run.Generator.ConnWaited}
	var succeeded int64
	for _, name := range sl.EndpointNames() {
		t := sl.Endpoints[name].Total
		all := t.AllLatency()
		st.Requests += float64(t.Offered) / secs
		st.Answered += float64(t.Answered()) / secs
		st.Goodput += float64(t.Succeeded) / secs
		st.Concurrency += float64(t.Answered()) / secs * all.Mean().Seconds()
		succeeded += t.Succeeded
		st.Endpoints[name] = StepEndpoint{Offered: float64(t.Offered) / secs, Answered: float64(t.Answered()) / secs,
			Goodput: float64(t.Succeeded) / secs, Mean: t.Latency.Mean().Seconds(), P50: t.Latency.Percentile(50).Seconds(),
			P95: t.Latency.Percentile(95).Seconds(), P99: t.Latency.Percentile(99).Seconds(), Errors: t.Errors}
	}
	st.AllFailed = succeeded == 0
	st.Pass = true
	for _, c := range clauses {
		cr := reports.Measure(c, sl)
		st.Clauses = append(st.Clauses, cr)
		if cr.Evaluated() && !cr.Pass {
			if st.Pass {
				st.Broke = fmt.Sprintf("%s (measured %s)", c.Text, fmtValue(cr))
				if c.Endpoint != "" {
					st.Broke += " on " + c.Endpoint
				} else if e := worstEndpoint(c, sl); e != "" {
					st.Broke += ", worst on " + e
				}
			}
			st.Pass = false
		}
	}
	// A late p99 of fewer than minLateSends sends is their latest one (on a
	// busy machine, one scheduling hiccup), not the generator's limit: the
	// step is behind when enough sends say so, or when the users' cap held
	// arrivals back. The engine's generator-behind event is one send late
	// by 50 ms: a hiccup too (measured in CI: a rate limiter's search ended
	// "generator" at 150/s on it, its sends late by p99 3 ms).
	st.Behind = generatorBehind(run)
	return st, sl
}

// generatorBehind says the generator, not the service, set run's pace:
// its sends' late p99, read from minLateSends or more, is past behindLate,
// or the users' cap held arrivals back.
func generatorBehind(run *results.Run) bool {
	behind := run.Generator.Late.Percentile(99) > behindLate && run.Generator.Late.Count() >= minLateSends
	for _, ev := range run.Events {
		behind = behind || ev.Kind == "client-queue"
	}
	return behind
}

// worstEndpoint is the request a clause over every request reads worst on.
func worstEndpoint(c scenarios.Clause, r *results.Run) string {
	best, worst := "", math.Inf(-1)
	for _, name := range r.EndpointNames() {
		one := c
		one.Endpoint = name
		cr := reports.Measure(one, r)
		if !cr.Evaluated() || cr.Samples == 0 {
			continue
		}
		if -cr.Margin > worst {
			best, worst = name, -cr.Margin
		}
	}
	return best
}

func fmtValue(c reports.ClauseResult) string {
	switch c.Unit {
	case "s":
		return time.Duration(c.Measured * float64(time.Second)).Round(time.Millisecond).String()
	case "ratio":
		return fmt.Sprintf("%.2fx", c.Measured)
	}
	return fmt.Sprintf("%.2f%%", 100*c.Measured)
}

// searchClauses are the scenario's clauses a steady step can judge: not
// recovery (there is no fault) nor headroom (the search's answer). A
// scenario that bounds no error share gets an implicit errors <= 1%: its
// latency clauses judge the successful answers, and a service that sheds
// most of its load at once keeps those fast; that is no capacity.
func searchClauses(s *scenarios.Scenario) []scenarios.Clause {
	var out []scenarios.Clause
	errors := false
	for _, c := range s.SLO {
		if c.Metric != "recovery" && c.Metric != "headroom" {
			out = append(out, c)
			errors = errors || c.Metric == "errors" && c.Endpoint == ""
		}
	}
	if len(out) > 0 && !errors {
		out = append(out, ImplicitErrors)
	}
	return out
}

// ImplicitErrors is the clause a search adds when the scenario bounds no
// error share over every request.
var ImplicitErrors = scenarios.Clause{Text: "errors <= 1% (implicit: add an errors clause to set another)", Metric: "errors", Op: "<=", Value: 0.01}

// needed is how many samples a clause needs to mean something: for a
// percentile q, twenty beyond it (2,000 for a p99: a p99 estimated from
// fewer wanders by a fifth at high utilisation, where successive answers
// wait alike); for a share limit L, ten at it (1,000 for errors <= 1%);
// at most 20,000.
func needed(c scenarios.Clause) float64 {
	var n float64
	switch q := c.Percentile(); {
	case q > 0 && q < 100:
		n = 20 / (1 - q/100)
	case q != 0: // max, mean
		n = 200
	default:
		l := c.Limit()
		if c.Op == ">=" || c.Op == ">" {
			l = 1 - l // goodput >= 99%: the 1% that may fail
		}
		n = 10 / max(l, 1e-4)
	}
	return math.Min(20000, math.Max(n, 50))
}

// stepLength is how long a step at rate must measure for every clause to
// have its samples: at least min.
func stepLength(clauses []scenarios.Clause, per map[string]float64, rate float64, min time.Duration) time.Duration {
	var total float64
	for _, v := range per {
		total += v
	}
	need := min.Seconds()
	for _, c := range clauses {
		var perS float64
		switch {
		case c.Metric == "goodput" || c.Metric == "abandonment":
			perS = rate
		case c.Endpoint != "":
			perS = rate * per[c.Endpoint]
		default:
			perS = rate * total
		}
		if perS > 0 {
			need = math.Max(need, needed(c)/perS)
		}
	}
	return time.Duration(math.Ceil(need)) * time.Second
}

// sortedSteps are the steps and their steady runs, by offered rate.
func sortedSteps(steps []Step, runs []*results.Run) ([]Step, []*results.Run) {
	idx := make([]int, len(steps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return steps[idx[a]].Offered < steps[idx[b]].Offered })
	s, r := make([]Step, len(idx)), make([]*results.Run, len(idx))
	for k, i := range idx {
		s[k], r[k] = steps[i], runs[i]
	}
	return s, r
}
