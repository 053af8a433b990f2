package reports

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// Clause statuses: a clause passes, fails, or could not be judged from what
// the run holds (a headroom clause in a replay, which does not measure the
// knee).
const (
	StatusPass         = "pass"
	StatusFail         = "fail"
	StatusNotEvaluated = "not evaluated"
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
	Status  string  `json:"status"` // StatusPass, StatusFail or StatusNotEvaluated
	Samples int64   `json:"samples"`
	Note    string  `json:"note,omitempty"`
}

// Evaluated says the clause was judged (it passed or failed).
func (c ClauseResult) Evaluated() bool { return c.Status != StatusNotEvaluated }

// Verdict is the go/no-go decision on a run. It is evaluated when at least
// one clause was judged; Go is then true when every judged clause passed.
// A verdict that judged nothing (no scenario, no clauses, or only clauses
// this run cannot measure) is neither GO nor NO-GO.
type Verdict struct {
	Go         bool           `json:"go"`
	Evaluated  bool           `json:"evaluated"`
	Clauses    []ClauseResult `json:"clauses"`
	Ended      string         `json:"ended"`
	Recoveries []Recovery     `json:"recoveries,omitempty"`
	// Why says why the verdict was not evaluated.
	Why string `json:"not_evaluated_because,omitempty"`
}

// Word is the verdict in one word: GO, NO-GO or NOT EVALUATED.
func (v Verdict) Word() string {
	switch {
	case !v.Evaluated:
		return "NOT EVALUATED"
	case v.Go:
		return "GO"
	}
	return "NO-GO"
}

// NotEvaluated is the verdict of a run that has no scenario to judge it by.
func NotEvaluated(r *results.Run, why string) Verdict {
	return Verdict{Ended: r.Meta.Ended, Why: why}
}

// Evaluate checks every SLO clause of the scenario (and its safety abort
// and gate headroom) against the run. A headroom clause is not evaluated:
// a run or a prediction plays the scenario's one curve and does not find
// the knee (surge capacity does; see EvaluateHeadroom).
func Evaluate(s *scenarios.Scenario, r *results.Run) Verdict {
	v := Verdict{Go: true, Ended: r.Meta.Ended, Recoveries: Recoveries(s, r)}
	for _, c := range s.SLO {
		switch c.Metric {
		case "recovery":
			v.add(measureRecovery(c, s, r))
		case "headroom":
			v.add(headroomNotHere(c.Text, c.Value))
		default:
			v.add(measureAt(c, s, r))
		}
	}
	if strings.HasPrefix(r.Meta.Ended, "aborted") {
		v.add(safetyClause(s, r))
	}
	if h := s.Gate.Headroom; h > 0 {
		v.add(headroomNotHere(fmt.Sprintf("headroom >= %gx", h), h))
	}
	v.settle()
	return v
}

// settle works out Evaluated and Go from the clauses.
func (v *Verdict) settle() {
	v.Go, v.Evaluated = true, false
	for _, c := range v.Clauses {
		if c.Evaluated() {
			v.Evaluated = true
			v.Go = v.Go && c.Pass
		}
	}
	if !v.Evaluated {
		v.Go = false
		if v.Why == "" {
			v.Why = "the scenario has no clause this run can judge"
			if len(v.Clauses) == 0 {
				v.Why = "the scenario states no SLO clause"
			}
		}
	}
}

func (v *Verdict) add(c ClauseResult) {
	if c.Status == "" {
		c.Status = map[bool]string{true: StatusPass, false: StatusFail}[c.Pass]
	}
	v.Clauses = append(v.Clauses, c)
}

func headroomNotHere(text string, limit float64) ClauseResult {
	return ClauseResult{Clause: text, Unit: "ratio", Limit: limit, Status: StatusNotEvaluated,
		Note: "not evaluated here: a run or a prediction plays one curve and does not find the knee; surge capacity measures headroom"}
}

// EvaluateHeadroom judges a headroom clause (or gate.headroom) on a knee
// found by surge capacity: headroom = knee / forecast peak.
func EvaluateHeadroom(text string, limit, knee, peak float64) ClauseResult {
	out := ClauseResult{Clause: text, Unit: "ratio", Limit: limit, Samples: 1}
	if peak <= 0 {
		out.Status, out.Note = StatusNotEvaluated, "the scenario forecasts no arrivals"
		return out
	}
	out.Measured = knee / peak
	out.Pass = out.Measured >= limit
	out.Margin = out.Measured - limit
	return out
}

// safetyClause is the safety abort that stopped the run, with what it measured.
func safetyClause(s *scenarios.Scenario, r *results.Run) ClauseResult {
	text := "safety"
	if s.Safety != nil {
		text = "safety: " + s.Safety.AbortIf.Text
	}
	out := ClauseResult{Clause: text, Unit: "share", Note: "the run was " + r.Meta.Ended}
	if a := r.Meta.Abort; a != nil {
		out.Measured, out.Samples = a.Measured, a.Samples
		out.Note = fmt.Sprintf("the run was aborted at %s: %s measured %s over %d answers", fmtDuration(a.At.Seconds()), a.Clause,
			format("share", a.Measured), a.Samples)
	}
	return out
}

// latencyOf is the histogram a latency clause reads.
func latencyOf(c scenarios.Clause, s *results.Series) *results.Histogram {
	switch c.Answers {
	case scenarios.AnswersAll:
		return s.AllLatency()
	case scenarios.AnswersFailed:
		return s.FailedLatency
	}
	return s.Latency
}

// Measure judges one clause on a run's whole-run figures: a latency
// percentile, a share of answers, a share of users, retry amplification.
// Recovery and headroom are not such clauses (Evaluate and
// EvaluateHeadroom judge them); Measure says so.
func Measure(c scenarios.Clause, r *results.Run) ClauseResult {
	if c.Metric == "recovery" || c.Metric == "headroom" {
		return ClauseResult{Clause: c.Text, Limit: c.Limit(), Unit: "ratio", Status: StatusNotEvaluated, Note: "not a figure of one stretch of a run"}
	}
	out := measure(c, r)
	if out.Status == "" {
		out.Status = map[bool]string{true: StatusPass, false: StatusFail}[out.Pass]
	}
	return out
}

// measureAt measures c over the whole run, or, for a clause with at, over
// the played stretch of its period.
func measureAt(c scenarios.Clause, s *scenarios.Scenario, r *results.Run) ClauseResult {
	if c.Span == nil {
		return measure(c, r)
	}
	plan := arrival.New(s)
	out := measure(c, r.Between(plan.PlayedAt(c.Span.From), plan.PlayedAt(c.Span.To)))
	out.Clause = c.Label()
	return out
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
		if s == nil {
			out.Note = "no measurements"
			return out
		}
		h := latencyOf(c, s)
		if out.Samples = h.Count(); out.Samples == 0 {
			out.Note = "no measurements"
			if c.Answers == scenarios.AnswersOK && s.Failed() > 0 {
				out.Note = fmt.Sprintf("no successful answer (%d failed)", s.Failed())
			}
			return out
		}
		if q := c.Percentile(); q < 0 {
			out.Measured = h.Mean().Seconds()
		} else {
			out.Measured = h.Percentile(q).Seconds()
		}
		if r.MixedLatency() && c.Answers == scenarios.AnswersOK {
			out.Note = "results version 1: the percentiles include failed answers"
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
		out.Samples = s.Answered()
		out.Measured = shareOf(c, s)
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

// shareOf is a share clause's value on a series: the error rate, or the
// share of answers that failed with the metric's kind.
func shareOf(c scenarios.Clause, s *results.Series) float64 {
	if k := c.ErrorKind(); k != "" {
		return s.KindRate(k)
	}
	return s.ErrorRate()
}

// ErrNoGo is wrapped by every error that means "the run was done and the
// gate said NO-GO" (exit code 2), as opposed to "it could not be done":
// a run's or a merge's verdict (GateError), surge capacity's gate or a
// service with no capacity, surge plan's stages short of capacity.
var ErrNoGo = errors.New("NO-GO")

// GateError is the error of a NO-GO verdict; it names the failed clauses.
type GateError struct{ Verdict Verdict }

func (e *GateError) Error() string {
	var failed []string
	for _, c := range e.Verdict.Clauses {
		if c.Evaluated() && !c.Pass {
			failed = append(failed, fmt.Sprintf("%s (measured %s)", c.Clause, format(c.Unit, c.Measured)))
		}
	}
	return "NO-GO: " + strings.Join(failed, "; ")
}

// Unwrap makes it an ErrNoGo.
func (e *GateError) Unwrap() error { return ErrNoGo }

// ErrNotEvaluated is wrapped by the error of a verdict that judged
// nothing: the run could not be gated (exit code 1, not 0 or 2).
var ErrNotEvaluated = errors.New("the gate was not evaluated")

// Err is nil for GO, a *GateError for NO-GO, and an error wrapping
// ErrNotEvaluated when no clause could be judged.
func (v Verdict) Err() error {
	switch {
	case !v.Evaluated:
		return fmt.Errorf("%w: %s", ErrNotEvaluated, v.Why)
	case v.Go:
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
	return fmtShare(x)
}

// fmtShare writes a share as a percentage, with enough digits that a small
// non-zero share never reads as 0.00%.
func fmtShare(x float64) string {
	switch a := math.Abs(x); {
	case a == 0 || a >= 0.0001:
		return fmt.Sprintf("%.2f%%", x*100)
	case a >= 0.000001:
		return fmt.Sprintf("%.4f%%", x*100)
	}
	return fmt.Sprintf("%.2g%%", x*100)
}

// fmtDuration writes seconds as a duration with its unit, "0s" for zero.
func fmtDuration(sec float64) string {
	if sec < 0 {
		return "-" + fmtDuration(-sec)
	}
	switch {
	case sec == 0:
		return "0s"
	case sec < 1e-3:
		return fmt.Sprintf("%.0fus", sec*1e6)
	case sec < 1:
		return fmt.Sprintf("%.1fms", sec*1e3)
	case sec < 60:
		return fmt.Sprintf("%.2fs", sec)
	}
	return time.Duration(math.Round(sec) * float64(time.Second)).String()
}

// hold is how long the SLOs must hold again to call a system recovered.
func hold(s *scenarios.Scenario) time.Duration {
	if s.Gate.RecoveryHold > 0 {
		return s.Gate.RecoveryHold
	}
	return DefaultRecoveryHold
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
		if !rec.Judged && rec.Left < time.Duration(c.Limit()*float64(time.Second))+hold(s) {
			continue // too close to the run's end to say, even against this clause's limit
		}
		out.Samples++
		if !rec.Recovered {
			out.Note = rec.Fault + ": not recovered in the " + fmtDuration(rec.Left.Seconds()) + " the run went on"
			out.Measured = (r.Meta.Elapsed - rec.Ended).Seconds()
			out.Margin = out.Limit - out.Measured
			return out
		}
		out.Measured = max(out.Measured, rec.After.Seconds())
	}
	if out.Samples == 0 {
		// Not judged is no verdict, not a failure: the run ended before it
		// could say (a longer run, or the fault earlier, can).
		out.Status = StatusNotEvaluated
		out.Note = "not judged: the run did not go on long enough after any fault or surge to judge recovery"
		return out
	}
	out.Pass = c.Holds(out.Measured)
	out.Margin = out.Limit - out.Measured
	return out
}

// Trials reads a clause over run r as a count of trials (answers) and of
// those that count against it, and the share of them it allows: a
// latency percentile q <= X is the share of answers slower than X, at
// most 1 - q/100 (max <= X: none at all); an error share is the failed
// answers, at most the limit. The clause holds as the bad share stays
// within allowed (a share on the boundary aside), which a sequential test
// can decide before the run's end. ok is false for a clause not read so
// (a mean, retry amplification, a share of users whose journeys are not
// over, a bound from below).
func Trials(c scenarios.Clause, r *results.Run) (bad, n int64, allowed float64, ok bool) {
	if c.Op != "<=" && c.Op != "<" {
		return 0, 0, 0, false
	}
	var s *results.Series
	if c.Endpoint == "" {
		s = r.Overall()
	} else if e := r.Endpoints[c.Endpoint]; e != nil {
		s = e.Total
	}
	switch q := c.Percentile(); {
	case q > 0:
		if s == nil {
			return 0, 0, 1 - q/100, true
		}
		h := latencyOf(c, s)
		limit := c.Duration
		h.Each(func(d time.Duration, k int64) {
			n += k
			if d > limit {
				bad += k
			}
		})
		return bad, n, 1 - q/100, true
	case q < 0:
		return 0, 0, 0, false
	case c.IsShare():
		if s == nil {
			return 0, 0, c.Value, true
		}
		n = s.Answered()
		bad = s.Failed()
		if k := c.ErrorKind(); k != "" {
			bad = s.Errors[k]
		}
		return bad, n, c.Value, true
	}
	return 0, 0, 0, false
}
