package capacity

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// What a service does of its own accord when overloaded shows only in the
// steps past the knee, in how its failures are answered:
//
//   - a rate limiter refuses at once (429, or 503: a shed) what comes past
//     its rate, while what it admits is served as fast as below the knee:
//     failures answered in under half the successes' median. Its rate is
//     the most successes a second a step had (for the whole service, or
//     each request's own); the pools behind it are sized so they do not
//     bind (twice the work at that rate), the limiter does.
//   - a server timeout answers every request still unfinished after T with
//     one status: failures of one kind answered at one latency (their
//     quartiles within 25% of their median), far above the service time
//     (4x the lowest step's median success). 503 answers are shed (retried
//     as such), 504 are 5xx.
//
// A bounded queue that sheds is fitted by fromRequests already (fitQueue);
// a service with no limit of its own is the candidates without these.

// minOverloadShare is the share of a step's answers that must fail the
// same way before the step says how the service fails.
const minOverloadShare = 0.05

// overloadCandidates are the rate-limit and server-timeout structures the
// steps show, built on the independent profile p and the shared ones (the
// shared pool, and its shared+transit variants: one candidate, variants
// choose keeps the best of); none when the steps show neither.
func overloadCandidates(p *profile.Profile, shared []*profile.Profile, res *Result) []candidate {
	var out []candidate
	if total, each := limitRates(res); total > 0 {
		own := limitedPools(p, each)
		out = append(out, candidate{"independent+limit", "", own})
		global := limitedPools(p, each)
		addLimiter(global, total)
		out = append(out, candidate{"global-limit", "", global})
	}
	if t, status := serverTimeout(res); t > 0 {
		bases := []struct {
			name string
			p    *profile.Profile
		}{{"independent", p}}
		for _, sh := range shared {
			bases = append(bases, struct {
				name string
				p    *profile.Profile
			}{"shared", sh})
		}
		for _, base := range bases {
			c := cloneProfile(base.p)
			c.Server.RequestTimeout, c.Server.TimeoutStatus = t, status
			unbounded(c) // its failures are the timeout's, not a full queue's
			out = append(out, candidate{base.name + "+timeout", "", c})
		}
	}
	for i := range out {
		out[i].words = structureWords(out[i])
	}
	return out
}

// unbounded takes every pool's queue bound off p.
func unbounded(p *profile.Profile) {
	for name, st := range p.Stages {
		if st.Workers < transitWorkers {
			st.Queue, st.QueueTimeout, st.WhenFull = 100_000, 0, profile.WhenFullShed
			p.Stages[name] = st
		}
	}
}

// limitRates is the most successes a second of any step where answers
// were refused at once: the service's (peak mix steps), and each
// request's (any step); 0 when no step refused that way.
func limitRates(res *Result) (total float64, each map[string]float64) {
	each = map[string]float64{}
	for i, st := range res.Steps {
		if st.Length <= 0 {
			continue
		}
		sum, refused := 0.0, false
		for name, e := range st.Endpoints {
			sum += e.Goodput
			each[name] = math.Max(each[name], e.Goodput)
			if re := res.runs[i].Endpoints[name]; re != nil && refusedAtOnce(re.Total) {
				refused = true
			}
		}
		if refused && st.Mix == "" {
			total = math.Max(total, sum)
		}
	}
	return total, each
}

// refusedAtOnce says a request's failures in a step are sheds answered in
// under half the time of its successes.
func refusedAtOnce(se *results.Series) bool {
	a := se.Answered()
	shed := se.Errors["shed"]
	if a < minCandidateAnswers || float64(shed) < minOverloadShare*float64(a) || se.Succeeded < minCandidateAnswers {
		return false
	}
	return se.FailedLatency.Percentile(50) < se.Latency.Percentile(50)/2
}

// limitedPools is p with each request's pool limited to its rate in each
// and enlarged to twice the work that rate brings (so the limiter, not the
// pool, binds), its queue unbounded.
func limitedPools(p *profile.Profile, each map[string]float64) *profile.Profile {
	out := cloneProfile(p)
	pools := requestStages(p)
	for _, route := range slices.Sorted(maps.Keys(pools)) {
		st := out.Stages[pools[route]]
		rate := each[route]
		if rate <= 0 {
			continue
		}
		st.RateLimit, st.Burst = rate, 0
		st.Workers = max(st.Workers, int(math.Ceil(2*rate*st.Service.Mean().Seconds())))
		st.Queue, st.QueueTimeout = 100_000, 0
		out.Stages[pools[route]] = st
	}
	return out
}

// limiterStage is the name of the one rate limiter in front of a service.
const limiterStage = "limiter"

// addLimiter puts one limiter of rate visits a second in front of every
// route of p (and takes the pools' own limits off).
func addLimiter(p *profile.Profile, rate float64) {
	for name, st := range p.Stages {
		st.RateLimit = 0
		p.Stages[name] = st
	}
	p.Stages[limiterStage] = profile.Stage{Workers: transitWorkers, Service: spec.Const(0), RateLimit: rate}
	for route, steps := range p.Routes {
		p.Routes[route] = append([]profile.Step{{Stage: limiterStage}}, steps...)
	}
}

// serverTimeout is the latency at which failures of one kind are answered
// in every step where they are many, and the status that says it (503 for
// sheds, 504 for 5xx); 0 when no step shows one.
func serverTimeout(res *Result) (time.Duration, int) {
	lowest := lowestMedian(res)
	if lowest <= 0 {
		return 0, 0
	}
	for _, kind := range []string{"5xx", "shed"} {
		var medians []float64
		for i := range res.Steps {
			for _, e := range res.runs[i].Endpoints {
				tot := e.Total
				a := tot.Answered()
				if a < minCandidateAnswers || float64(tot.Errors[kind]) < minOverloadShare*float64(a) || float64(tot.Errors[kind]) < 0.8*float64(a-tot.Succeeded) {
					continue
				}
				fl := tot.FailedLatency
				q25, q50, q75 := fl.Percentile(25).Seconds(), fl.Percentile(50).Seconds(), fl.Percentile(75).Seconds()
				if q25 >= 0.8*q50 && q75 <= 1.25*q50 && q50 >= 4*lowest {
					medians = append(medians, q50)
				}
			}
		}
		if len(medians) > 0 {
			slices.Sort(medians)
			status := 504
			if kind == "shed" {
				status = 503
			}
			return secs(medians[len(medians)/2]).Round(time.Millisecond), status
		}
	}
	return 0, 0
}

// lowestMedian is the median success latency, in seconds, of the lowest
// step of the peak's mix with answers enough.
func lowestMedian(res *Result) float64 {
	steps, runs := sortedSteps(peakMixSteps(res))
	for i := range steps {
		var n int64
		var sum float64
		for _, e := range runs[i].Endpoints {
			if e.Total.Succeeded >= minCandidateAnswers {
				n += e.Total.Succeeded
				sum += float64(e.Total.Succeeded) * e.Total.Latency.Percentile(50).Seconds()
			}
		}
		if n > 0 {
			return sum / float64(n)
		}
	}
	return 0
}

// limitWords says the rate limits and the server timeout of p, if any.
func limitWords(p *profile.Profile) string {
	var parts []string
	if st, ok := p.Stages[limiterStage]; ok {
		parts = append(parts, fmt.Sprintf("a rate limit of ~%.4g/s in front of everything", st.RateLimit))
	}
	var own []string
	for _, route := range slices.Sorted(maps.Keys(p.Routes)) {
		steps := p.Routes[route]
		if st := p.Stages[steps[len(steps)-1].Stage]; st.RateLimit > 0 {
			own = append(own, fmt.Sprintf("%s ~%.4g/s", route, st.RateLimit))
		}
	}
	if len(own) > 0 {
		parts = append(parts, "rate limits of their own ("+strings.Join(own, ", ")+")")
	}
	if t := p.Server.RequestTimeout; t > 0 {
		parts = append(parts, fmt.Sprintf("the service answers %d to what it has not finished after ~%v", p.Server.TimeoutAnswer(), t))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}
