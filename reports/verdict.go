package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// ClauseResult is one gate clause against the run.
type ClauseResult struct {
	Clause   string  `json:"clause"`
	Unit     string  `json:"unit"` // "s" (latency), "share" (0..1) or "ratio"
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	// Margin is how far the measurement is inside its limit (negative: outside).
	Margin  float64 `json:"margin"`
	Pass    bool    `json:"pass"`
	Samples int64   `json:"samples"`
	Note    string  `json:"note,omitempty"`
}

// Verdict is the go/no-go decision on a run.
type Verdict struct {
	Go         bool           `json:"go"`
	Clauses    []ClauseResult `json:"clauses"`
	Ended      string         `json:"ended"`
	Recoveries []Recovery     `json:"recoveries,omitempty"`
}

// Evaluate checks every SLO clause of the scenario (and its safety abort
// and gate headroom) against the run.
func Evaluate(s *scenarios.Scenario, r *results.Run) Verdict {
	v := Verdict{Go: true, Ended: r.Meta.Ended, Recoveries: Recoveries(s, r)}
	for _, c := range s.SLO {
		if c.Metric == "recovery" {
			v.add(measureRecovery(c, s, r))
			continue
		}
		v.add(measure(c, r))
	}
	if strings.HasPrefix(r.Meta.Ended, "aborted") {
		v.add(ClauseResult{Clause: "safety: " + s.Safety.AbortIf.Text, Unit: "share", Note: "the run was " + r.Meta.Ended})
	}
	if h := s.Gate.Headroom; h > 0 {
		v.add(ClauseResult{Clause: fmt.Sprintf("headroom >= %gx", h), Unit: "ratio", Limit: h,
			Note: "a replay does not measure the knee; surge plan / surge capacity evaluate headroom"})
	}
	return v
}

func (v *Verdict) add(c ClauseResult) {
	v.Clauses = append(v.Clauses, c)
	v.Go = v.Go && c.Pass
}

func measure(c scenarios.Clause, r *results.Run) ClauseResult {
	out := ClauseResult{Clause: c.Text, Limit: c.Limit(), Unit: "share"}
	var s *results.Series
	if c.Endpoint == "" {
		s = r.Overall()
	} else if e := r.Endpoints[c.Endpoint]; e != nil {
		s = e.Total
	}
	switch {
	case c.Percentile() != 0:
		out.Unit = "s"
		if s == nil || s.Latency.Count() == 0 {
			out.Note = "no measurements"
			return out
		}
		out.Samples = s.Latency.Count()
		if q := c.Percentile(); q < 0 {
			out.Measured = s.Latency.Mean().Seconds()
		} else {
			out.Measured = s.Latency.Quantile(q).Seconds()
		}
	case c.Metric == "goodput" || c.Metric == "abandonment":
		out.Samples = r.Users.Arrived
		out.Measured = r.Users.Goodput()
		if c.Metric == "abandonment" {
			out.Measured = r.Users.Abandonment()
		}
	case c.Metric == "retry_amplification":
		out.Unit = "ratio"
		out.Samples = r.Overall().Attempted
		out.Measured = r.RetryAmplification()
	default:
		if s == nil {
			out.Note = "no measurements"
			return out
		}
		out.Samples = s.Attempted
		kind := map[string]string{"timeouts": "timeout", "shed": "shed", "expired_qr": "expired_qr"}[c.Metric]
		if c.Metric == "errors" {
			out.Measured = s.ErrorRate()
		} else {
			out.Measured = s.KindRate(kind)
		}
	}
	if out.Samples == 0 {
		out.Note = "no measurements"
		return out
	}
	out.Pass = c.Holds(out.Measured)
	out.Margin = out.Limit - out.Measured
	if c.Op == ">=" || c.Op == ">" {
		out.Margin = -out.Margin
	}
	return out
}

// GateError is the error of a NO-GO verdict; it names the failed clauses.
type GateError struct{ Verdict Verdict }

func (e *GateError) Error() string {
	var failed []string
	for _, c := range e.Verdict.Clauses {
		if !c.Pass {
			failed = append(failed, fmt.Sprintf("%s (measured %s)", c.Clause, format(c.Unit, c.Measured)))
		}
	}
	return "NO-GO: " + strings.Join(failed, "; ")
}

// GateFailed marks the error as a gate failure (exit code 2).
func (e *GateError) GateFailed() bool { return true }

// Err is nil for GO and a *GateError for NO-GO.
func (v Verdict) Err() error {
	if v.Go {
		return nil
	}
	return &GateError{Verdict: v}
}

// format writes a value in its unit.
func format(unit string, x float64) string {
	switch unit {
	case "s":
		return fmtDuration(x)
	case "ratio":
		return fmt.Sprintf("%.2fx", x)
	}
	return fmt.Sprintf("%.2f%%", x*100)
}

func fmtDuration(sec float64) string {
	if sec < 0 {
		return "-" + fmtDuration(-sec)
	}
	switch {
	case sec == 0:
		return "0"
	case sec < 1e-3:
		return fmt.Sprintf("%.0fus", sec*1e6)
	case sec < 1:
		return fmt.Sprintf("%.1fms", sec*1e3)
	case sec < 60:
		return fmt.Sprintf("%.2fs", sec)
	}
	return time.Duration(math.Round(sec) * float64(time.Second)).String()
}

// measureRecovery is the slowest recovery after any fault; a fault the
// system never recovered from fails the clause.
func measureRecovery(c scenarios.Clause, s *scenarios.Scenario, r *results.Run) ClauseResult {
	out := ClauseResult{Clause: c.Text, Unit: "s", Limit: c.Limit()}
	recs := Recoveries(s, r)
	if len(recs) == 0 {
		out.Note = "no fault ended during the run"
		return out
	}
	for _, rec := range recs {
		if !rec.Judged {
			continue // too close to the run's end to say
		}
		out.Samples++
		if !rec.Recovered {
			out.Note = rec.Fault + ": not recovered by the end of the run"
			out.Measured = (r.Meta.Elapsed - rec.Ended).Seconds()
			out.Margin = out.Limit - out.Measured
			return out
		}
		out.Measured = max(out.Measured, rec.After.Seconds())
	}
	if out.Samples == 0 {
		out.Note = "the run did not go on long enough after any fault or surge to judge recovery"
		return out
	}
	out.Pass = c.Holds(out.Measured)
	out.Margin = out.Limit - out.Measured
	return out
}
