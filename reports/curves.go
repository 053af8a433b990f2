package reports

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/surgekit/surge/scenarios/results"
)

// point is one value of a curve at a time (x in seconds of the played
// timeline, at the start of its window); y is NaN where there is no value.
type point struct{ x, y float64 }

// epCurves are one endpoint's curves over the run.
type epCurves struct {
	rate, p50, p95, p99, p99u, p99f []point
}

func endpointCurves(r *results.Run, e *results.Endpoint) epCurves {
	w := windowsOf(r)
	secs := w.width().Seconds()
	var c epCurves
	for i := 0; i < w.count; i++ {
		x := w.start(i)
		s := w.series(e, i)
		if s == nil {
			nan := point{x, math.NaN()}
			c.rate = append(c.rate, point{x, 0})
			c.p50, c.p95, c.p99, c.p99u = append(c.p50, nan), append(c.p95, nan), append(c.p99, nan), append(c.p99u, nan)
			c.p99f = append(c.p99f, nan)
			continue
		}
		c.rate = append(c.rate, point{x, float64(s.Attempted) / secs})
		c.p50 = append(c.p50, quantilePoint(x, s.Latency, 50))
		c.p95 = append(c.p95, quantilePoint(x, s.Latency, 95))
		c.p99 = append(c.p99, quantilePoint(x, s.Latency, 99))
		c.p99u = append(c.p99u, quantilePoint(x, s.Service, 99))
		c.p99f = append(c.p99f, quantilePoint(x, s.FailedLatency, 99))
	}
	return c
}

// quantilePoint is a histogram's quantile at x, or a gap when it is empty
// (a window whose answers all failed has no successful p99).
func quantilePoint(x float64, h *results.Histogram, q float64) point {
	if h.Count() == 0 {
		return point{x, math.NaN()}
	}
	return point{x, h.Percentile(q).Seconds()}
}

// traffic are the run's rates over time: demand (first attempts), all
// attempts (with retries), successes, users completing their journey, and
// errors per kind.
type traffic struct {
	offered, attempted, succeeded, goodput []point
	errors                                 map[string][]point
}

func trafficCurves(r *results.Run) traffic {
	w := windowsOf(r)
	secs := w.width().Seconds()
	t := traffic{errors: map[string][]point{}}
	kinds := map[string]bool{}
	for _, e := range r.Endpoints {
		for k := range e.Total.Errors {
			kinds[k] = true
		}
	}
	for i := 0; i < w.count; i++ {
		x := w.start(i)
		offered, attempted, succeeded, errs := w.counts(i)
		t.offered = append(t.offered, point{x, float64(offered) / secs})
		t.attempted = append(t.attempted, point{x, float64(attempted) / secs})
		t.succeeded = append(t.succeeded, point{x, float64(succeeded) / secs})
		t.goodput = append(t.goodput, point{x, float64(w.users(i).Completed) / secs})
		for k := range kinds {
			t.errors[k] = append(t.errors[k], point{x, float64(errs[k]) / secs})
		}
	}
	return t
}

// span is a stretch of the run a chart shades: a fault while it was on.
type span struct {
	name     string
	from, to float64
}

// faultSpans pairs every fault-on event with its fault-off (or the run's
// end, for a fault still on when it ended).
func faultSpans(r *results.Run) []span {
	var out []span
	open := map[string]int{}
	for _, ev := range r.Events {
		name, _, _ := strings.Cut(ev.Detail, ":")
		switch ev.Kind {
		case "fault-on":
			open[name] = len(out)
			out = append(out, span{name: name, from: ev.At.Seconds(), to: -1})
		case "fault-off":
			if i, ok := open[name]; ok {
				out[i].to = ev.At.Seconds()
				delete(open, name)
			}
		}
	}
	end := r.Meta.Elapsed.Seconds()
	for i := range out {
		if out[i].to < 0 {
			out[i].to = end
		}
	}
	return out
}

// percentileSpectrum is a histogram as (percentile, latency) pairs at the
// percentiles a reader looks for, up to the maximum.
var spectrum = []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100}

func percentileLabels() []string {
	out := make([]string, len(spectrum))
	for i, q := range spectrum {
		switch q {
		case 0:
			out[i] = "min"
		case 100:
			out[i] = "max"
		default:
			out[i] = "p" + strconv.FormatFloat(q, 'f', -1, 64)
		}
	}
	return out
}

func spectrumOf(h *results.Histogram) []float64 {
	out := make([]float64, len(spectrum))
	for i, q := range spectrum {
		if q == 100 {
			out[i] = h.Max().Seconds()
		} else {
			out[i] = h.Percentile(q).Seconds()
		}
	}
	return out
}

// errorsByEndpoint is a table: kind x endpoint -> count, with the kinds and
// endpoint names sorted.
func errorsByEndpoint(r *results.Run) (kinds []string, names []string, count map[string]map[string]int64) {
	count = map[string]map[string]int64{}
	seen := map[string]bool{}
	for _, name := range r.EndpointNames() {
		for k, n := range r.Endpoints[name].Total.Errors {
			if count[k] == nil {
				count[k] = map[string]int64{}
			}
			count[k][name] += n
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	sort.Strings(kinds)
	return kinds, r.EndpointNames(), count
}
