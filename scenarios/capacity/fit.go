package capacity

import (
	"math"
	"time"

	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// cdfPoint is one point of an empirical distribution: the share of the
// samples at or below x.
type cdfPoint struct {
	x time.Duration
	f float64
}

// hdrPoints are an HDR histogram's empirical CDF at the percentiles a fit
// reads.
func hdrPoints(h *results.Histogram) []cdfPoint {
	var out []cdfPoint
	for _, q := range []float64{5, 10, 25, 50, 75, 90, 95, 99} {
		out = append(out, cdfPoint{h.Percentile(q), q / 100})
	}
	return out
}

// fitDist fits a service-time distribution to an empirical CDF with the
// given mean: the mean is matched exactly and the shape chosen by least
// squares on the CDF, among a constant, an exponential, a uniform (of any
// width about the mean) and a lognormal (of any spread about it). A
// simpler family wins unless a richer one fits clearly better (by a
// quarter). It returns the distribution and its fit's root mean squared
// CDF error.
func fitDist(mean time.Duration, pts []cdfPoint) (spec.Dist, float64) {
	if mean <= 0 {
		return spec.Const(0), 0
	}
	m := mean.Seconds()
	errOf := func(d spec.Dist) float64 {
		var sum float64
		for _, p := range pts {
			e := d.CDF(p.x) - p.f
			sum += e * e
		}
		return math.Sqrt(sum / float64(max(1, len(pts))))
	}
	type cand struct {
		d   spec.Dist
		err float64
	}
	var best []cand // one per family, simplest first
	best = append(best, cand{spec.Const(mean), errOf(spec.Const(mean))}, cand{spec.Exp(mean), errOf(spec.Exp(mean))})
	u := cand{err: math.Inf(1)}
	for i := 1; i <= 40; i++ {
		w := m * float64(i) / 40
		d := spec.Uniform(secs(m-w), secs(m+w))
		if e := errOf(d); e < u.err {
			u = cand{d, e}
		}
	}
	best = append(best, u)
	l := cand{err: math.Inf(1)}
	for i := 1; i <= 60; i++ {
		s := 0.04 * float64(i) // sigma of the log, 0.04 to 2.4
		median := m * math.Exp(-s*s/2)
		d := spec.Lognormal(secs(median), secs(median*math.Exp(z90*s)))
		if e := errOf(d); e < l.err {
			l = cand{d, e}
		}
	}
	best = append(best, l)
	pick := best[0]
	for _, c := range best[1:] {
		if c.err < 0.75*pick.err {
			pick = c
		}
	}
	return pick.d, pick.err
}

const z90 = 1.2815515655446004

func secs(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
