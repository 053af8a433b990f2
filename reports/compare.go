package reports

import (
	"math"
	"sort"

	"github.com/surgekit/surge/scenarios/results"
)

// Comparison is one metric of this run against another run of the same
// scenario: a stored baseline, or the simulator's prediction.
type Comparison struct {
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"` // as ClauseResult.Unit
	This   float64 `json:"this"`
	Other  float64 `json:"other"`
	// Change is This-Other for shares, (This-Other)/Other for the rest.
	Change float64 `json:"change"`
	// Regression (baseline only): this run is worse beyond the tolerance.
	Regression bool `json:"regression,omitempty"`
}

// Regression tolerances against a baseline: latencies may grow by 10% (and
// at least a millisecond), shares worsen by half a percentage point, ratios
// by 5%, before the report flags them.
const (
	latencyTolerance = 0.10
	latencyFloor     = 0.001
	shareTolerance   = 0.005
	ratioTolerance   = 0.05
)

// metric is one comparable figure of a run; higherIsWorse says which way
// a change is a regression.
type metric struct {
	name, unit    string
	value         float64
	higherIsWorse bool
	ok            bool
}

func runMetrics(r *results.Run) []metric {
	var out []metric
	for _, name := range r.EndpointNames() {
		t := r.Endpoints[name].Total
		has := t.Latency.Count() > 0
		out = append(out,
			metric{name + " p50", "s", t.Latency.Percentile(50).Seconds(), true, has},
			metric{name + " p95", "s", t.Latency.Percentile(95).Seconds(), true, has},
			metric{name + " p99", "s", t.Latency.Percentile(99).Seconds(), true, has},
			metric{name + " errors", "share", t.ErrorRate(), true, t.Attempted > 0},
			metric{name + " attempted", "count", float64(t.Attempted), false, true},
		)
	}
	o := r.Overall()
	out = append(out,
		metric{"all p99", "s", o.Latency.Percentile(99).Seconds(), true, o.Latency.Count() > 0},
		metric{"all errors", "share", o.ErrorRate(), true, o.Attempted > 0},
		metric{"goodput", "share", r.Users.Goodput(), false, r.Users.Arrived > 0},
		metric{"abandonment", "share", r.Users.Abandonment(), true, r.Users.Arrived > 0},
		metric{"retry amplification", "ratio", r.RetryAmplification(), true, o.Offered > 0},
	)
	return out
}

// compare lines up the metrics both runs have; flag marks regressions.
func compare(this, other *results.Run, flag bool) []Comparison {
	theirs := map[string]metric{}
	for _, m := range runMetrics(other) {
		theirs[m.name] = m
	}
	var out []Comparison
	for _, m := range runMetrics(this) {
		o, found := theirs[m.name]
		if !found || !m.ok || !o.ok {
			continue
		}
		c := Comparison{Metric: m.name, Unit: m.unit, This: m.value, Other: o.value}
		worse := m.value - o.value
		if !m.higherIsWorse {
			worse = -worse
		}
		switch m.unit {
		case "share":
			c.Change = m.value - o.value
			c.Regression = worse > shareTolerance
		default:
			if o.value != 0 {
				c.Change = (m.value - o.value) / o.value
			}
			tol := ratioTolerance
			if m.unit == "s" {
				tol = latencyTolerance
				c.Regression = worse > latencyFloor && worse > tol*o.value
			} else if m.unit == "ratio" {
				c.Regression = worse > tol*o.value
			}
		}
		c.Regression = flag && c.Regression
		out = append(out, c)
	}
	return out
}

// CurveError is how far a prediction's curve is from the measured one over
// the windows both have: the median and the largest relative difference.
type CurveError struct {
	Curve   string  `json:"curve"`
	Windows int     `json:"windows"`
	Median  float64 `json:"median_relative_error"`
	Max     float64 `json:"max_relative_error"`
}

// curveErrors compares the measured and predicted per-window attempted
// rate and p99 of every endpoint both runs have.
func curveErrors(measured, predicted *results.Run) []CurveError {
	var out []CurveError
	for _, name := range measured.EndpointNames() {
		pe := predicted.Endpoints[name]
		if pe == nil {
			continue
		}
		m := endpointCurves(measured, measured.Endpoints[name])
		p := endpointCurves(predicted, pe)
		out = append(out, relErr(name+" attempted/s", m.rate, p.rate), relErr(name+" p99", m.p99, p.p99))
	}
	return out
}

// relErr matches two curves at the same times (seconds) and summarises
// |p-m|/m over the points where the measurement is not zero.
func relErr(name string, m, p []point) CurveError {
	at := map[float64]float64{}
	for _, q := range p {
		at[q.x] = q.y
	}
	var errs []float64
	for _, q := range m {
		if pv, ok := at[q.x]; ok && q.y > 0 && !math.IsNaN(pv) && !math.IsNaN(q.y) {
			errs = append(errs, math.Abs(pv-q.y)/q.y)
		}
	}
	ce := CurveError{Curve: name, Windows: len(errs)}
	if len(errs) == 0 {
		return ce
	}
	sort.Float64s(errs)
	ce.Median, ce.Max = errs[len(errs)/2], errs[len(errs)-1]
	return ce
}
