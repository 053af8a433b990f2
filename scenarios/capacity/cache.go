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

// A cache in front of a store answers most of a request's calls at once
// and sends the rest, its misses, to the store. Below the knee such a
// request's answers have two modes, a fast one (its hits) and a slow one
// (its misses, which looked in the cache first); past it the hits go on
// succeeding while the misses queue at the store, so its error share
// stops near its miss share, where one queue for every call fails them
// all alike. The candidate "cache" is the shared pool as the store, each
// request whose answers have two modes (twoModes) answering its hits from
// a cache of its own (no queue) and sending the rest, the visit's share,
// to the store. The share is the profile's what-if too: a cold cache (a
// surge of first-time users) is the same profile with a larger share.

// modes are a request's answers split as a cache's.
type modes struct {
	hit        float64   // the fast mode's share of the answers
	hitErr     float64   // its 95% sampling error
	fast, miss spec.Dist // a hit's time; a miss's time beyond it, at the store
	// apart is the time between the modes (the geometric mean of their
	// means): an answer slower than it was a miss.
	apart time.Duration
}

// cacheApart is how many times the fast mode's mean a slow mode's must
// be for the answers to count as two modes (a cache read of a
// millisecond in front of a store of 5ms or more); cacheLeast is the
// least share of the answers either mode must have; cacheAnswers the
// answers a split needs.
const (
	cacheApart   = 4.0
	cacheLeast   = 0.05
	cacheAnswers = 200
)

// cached are the cache candidate from the shared one, its pool sized
// two ways from the busiest failing step: the store's work is its misses'
// successes', read either as the successes slower than the modes' split
// (a hit does not wait for the store; but where the hits wait for slots
// the misses hold, they are slow too) or as the successes less the hits
// (every hit succeeds; but not where they wait behind the misses). A
// variant each where the two differ; none when no request's answers have
// two modes or no step of the peak's mix failed.
func cached(shared *profile.Profile, res *Result) []*profile.Profile {
	st := busiestFailing(res)
	if st == nil {
		return nil
	}
	var stRun *results.Run
	for i := range res.Steps {
		if &res.Steps[i] == st {
			stRun = res.runs[i]
		}
	}
	steps, runs := sortedSteps(peakMixSteps(res))
	out := cloneProfile(shared)
	var slow, less float64 // the store's busy workers, read each way
	split := 0
	for _, route := range slices.Sorted(maps.Keys(out.Routes)) {
		last := out.Routes[route][len(out.Routes[route])-1]
		if last.Service == nil {
			return nil
		}
		e := st.Endpoints[route]
		m, ok := lowModes(route, steps, runs)
		if !ok {
			slow += e.Goodput * last.Service.Mean().Seconds()
			less += e.Goodput * last.Service.Mean().Seconds()
			continue
		}
		misses := e.Goodput
		if se := stRun.Endpoints[route]; se != nil && se.Total.Succeeded > 0 {
			misses *= slowerThan(se.Total.Service, m.apart)
		}
		split++
		share, svc, fast := spec.Percent(1-m.hit), m.miss, m.fast
		stage := route + ".cache"
		out.Stages[stage] = profile.Stage{Workers: transitWorkers, Service: fast}
		out.Routes[route] = []profile.Step{{Stage: stage}, {Stage: "shared", Service: &svc, Share: &share}}
		slow += misses * svc.Mean().Seconds()
		less += math.Max(0, e.Goodput-m.hit*e.Answered) * svc.Mean().Seconds()
	}
	if split == 0 {
		return nil
	}
	var variants []*profile.Profile
	for _, busy := range []float64{slow, less} {
		c := max(1, int(math.Round(busy)))
		if len(variants) == 1 && variants[0].Stages["shared"].Workers == c {
			break
		}
		v := cloneProfile(out)
		pool := v.Stages["shared"]
		pool.Workers = c
		v.Stages["shared"] = pool
		variants = append(variants, v)
	}
	return variants
}

// lowModes splits the answers of route as a cache's, from the steps of
// the peak's mix that passed at half the knee or less: the store
// queues little there (higher, a service whose hits wait for slots the
// misses hold shows fewer fast answers). None with fewer than
// cacheAnswers answers.
func lowModes(route string, steps []Step, runs []*results.Run) (modes, bool) {
	knee := 0.0
	for _, st := range steps {
		if st.Pass {
			knee = max(knee, st.Offered)
		}
	}
	var h *results.Histogram
	for i, st := range steps {
		e := runs[i].Endpoints[route]
		if !st.Pass || st.Offered > knee/2 || e == nil {
			continue
		}
		if h == nil {
			h = results.NewHistogram(e.Total.Service.Digits())
		}
		h.Merge(e.Total.Service)
	}
	if h == nil || h.Count() < cacheAnswers {
		return modes{}, false
	}
	return twoModes(h)
}

// twoModes splits a histogram of answer times in two by
// expectation-maximisation of a mixture of a hit's time (exponential) and
// a miss's (that and the store's, exponential: missDensity), started
// from the best split of the log-times in two (Otsu's): each answer is
// the fast mode's with the probability the fit gives it. The modes are
// fitted (fitDist) to their answers so weighed, the slow one less the
// fast one's mean (a miss looked in the cache first), both above the
// answers' floor (their 1st percentile). ok only when the
// modes are cacheApart apart and each has cacheLeast of the answers.
func twoModes(h *results.Histogram) (modes, bool) {
	var xs, ns []float64
	h.Each(func(d time.Duration, n int64) {
		if n > 0 {
			xs, ns = append(xs, math.Max(d.Seconds(), 1e-6)), append(ns, float64(n))
		}
	})
	if len(xs) < 2 {
		return modes{}, false
	}
	// Every answer's floor (the network, the client, the server's own
	// handling) is no mode's: the modes are fitted above it. Live, with
	// the floor left in, a cache of 80% hits read as 86%.
	floor := h.Percentile(1).Seconds()
	for i := range xs {
		xs[i] = math.Max(xs[i]-floor, 1e-6)
	}
	hit, m1, m2 := otsu(xs, ns)
	r := make([]float64, len(xs))
	for range 200 {
		var w, s1, s2, total float64
		for i, x := range xs {
			f1 := hit / m1 * math.Exp(-x/m1)
			f2 := (1 - hit) * missDensity(x, m1, m2-m1)
			r[i] = 0.5
			if f1+f2 > 0 {
				r[i] = f1 / (f1 + f2)
			}
			w += ns[i] * r[i]
			s1 += ns[i] * r[i] * x
			s2 += ns[i] * (1 - r[i]) * x
			total += ns[i]
		}
		if w <= 0 || w >= total {
			return modes{}, false
		}
		hit, m1, m2 = w/total, s1/w, s2/(total-w)
	}
	if m2 < cacheApart*m1 || hit < cacheLeast || hit > 1-cacheLeast {
		return modes{}, false
	}
	fast, _ := fitDist(secs(floor+m1), weighedPoints(xs, ns, r, 0, func(x float64) float64 { return floor + x }))
	miss, _ := fitDist(secs(m2-m1), weighedPoints(xs, ns, r, 1, func(x float64) float64 { return math.Max(0, x-m1) }))
	// The share's sampling error from its observed information,
	// sum n ((f1 - f2) / f)^2: sqrt(hit (1-hit) / n) when the modes do
	// not overlap, more as they do (an answer between them says little).
	var info float64
	for i, x := range xs {
		f1, f2 := math.Exp(-x/m1)/m1, missDensity(x, m1, m2-m1)
		if f := hit*f1 + (1-hit)*f2; f > 0 {
			info += ns[i] * (f1 - f2) * (f1 - f2) / (f * f)
		}
	}
	return modes{hit: hit, hitErr: 1.96 / math.Sqrt(math.Max(info, 1e-9)), fast: fast, miss: miss,
		apart: secs(floor + math.Sqrt(m1*m2))}, true
}

// missDensity is the density at x of a miss's time: a look in the cache
// (exponential, mean lookup) and then the store (exponential, mean store),
// their sum's (hypoexponential) density.
func missDensity(x, lookup, store float64) float64 {
	if store <= 0 {
		return 0
	}
	if math.Abs(store-lookup) < 1e-3*store { // the two means alike: Erlang-2
		return x / (store * store) * math.Exp(-x/store)
	}
	return (math.Exp(-x/store) - math.Exp(-x/lookup)) / (store - lookup)
}

// slowerThan is the share of h's answers slower than d.
func slowerThan(h *results.Histogram, d time.Duration) float64 {
	var above, all int64
	h.Each(func(x time.Duration, n int64) {
		all += n
		if x > d {
			above += n
		}
	})
	if all == 0 {
		return 0
	}
	return float64(above) / float64(all)
}

// otsu is the split of the sorted times xs (counts ns) in two that makes
// their log-times' means furthest apart for their weights, as the fast
// share and each side's mean.
func otsu(xs, ns []float64) (share, lo, hi float64) {
	var total, sumLog float64
	for i, x := range xs {
		total += ns[i]
		sumLog += ns[i] * math.Log(x)
	}
	best := -1.0
	var w, wLog, wx, allX float64
	for i := range xs {
		allX += ns[i] * xs[i]
	}
	for i := 0; i < len(xs)-1; i++ {
		w, wLog, wx = w+ns[i], wLog+ns[i]*math.Log(xs[i]), wx+ns[i]*xs[i]
		d := wLog/w - (sumLog-wLog)/(total-w)
		if v := w * (total - w) * d * d; v > best {
			best, share, lo, hi = v, w/total, wx/w, (allX-wx)/(total-w)
		}
	}
	return share, lo, hi
}

// weighedPoints are the empirical CDF, at the percentiles hdrPoints reads,
// of the times xs (counts ns) weighed for one mode: r for the fast one
// (which 0), 1-r for the slow (which 1), each time moved by at.
func weighedPoints(xs, ns, r []float64, which int, at func(float64) float64) []cdfPoint {
	ws := make([]float64, len(xs))
	var total float64
	for i := range xs {
		ws[i] = ns[i] * r[i]
		if which == 1 {
			ws[i] = ns[i] * (1 - r[i])
		}
		total += ws[i]
	}
	var out []cdfPoint
	var cum float64
	i := 0
	for _, q := range []float64{5, 10, 25, 50, 75, 90, 95, 99} {
		for i < len(xs)-1 && (cum+ws[i])/total < q/100 {
			cum += ws[i]
			i++
		}
		out = append(out, cdfPoint{secs(at(xs[i])), q / 100})
	}
	return out
}

// cacheWords says which requests answer from a cache, and how much.
func cacheWords(p *profile.Profile) string {
	var parts []string
	for _, route := range slices.Sorted(maps.Keys(p.Routes)) {
		steps := p.Routes[route]
		last := steps[len(steps)-1]
		if last.Share == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s answers %.0f%% from a cache (~%v), the rest from the pool", route,
			100*(1-last.Visits()), p.Stages[steps[0].Stage].Service.Mean().Round(time.Microsecond)))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + "; "
}
