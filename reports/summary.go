package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// Summary is every figure a report shows, computed once: the text summary,
// the JSON summary and the HTML page all render it, so they cannot differ.
type Summary struct {
	Meta          results.Meta  `json:"meta"`
	Verdict       Verdict       `json:"verdict"`
	FirstBreaches []FirstBreach `json:"first_breaches,omitempty"`
	// Outages are the stretches where requests were tried and none
	// succeeded (outage.go): the banner says them.
	Outages     []Outage                   `json:"outages,omitempty"`
	Forecast    *Forecast                  `json:"forecast,omitempty"`
	Users       results.Users              `json:"users"`
	Goodput     float64                    `json:"goodput"`
	Abandonment float64                    `json:"abandonment"`
	RetryAmp    float64                    `json:"retry_amplification"`
	Names       []string                   `json:"-"` // the endpoints, sorted
	Endpoints   map[string]EndpointSummary `json:"endpoints"`
	Overall     EndpointSummary            `json:"overall"`
	// MixedLatency: the results are of version 1, whose percentiles
	// include failed answers.
	MixedLatency bool                    `json:"mixed_latency,omitempty"`
	Events       []results.Event         `json:"events,omitempty"`
	Stages       []*StageFigures         `json:"stages,omitempty"`
	Bottleneck   *Bottleneck             `json:"bottleneck,omitempty"`
	Failures     []results.FailureSample `json:"failure_samples,omitempty"`
	Generator    GeneratorSummary        `json:"generator"`
	Baseline     *Against                `json:"baseline,omitempty"`
	Prediction   *Against                `json:"prediction,omitempty"`
	Missing      []string                `json:"missing,omitempty"`
	// Periods are the scenario's periods (lunch, dinner) measured (day.go).
	Periods []PeriodFigures `json:"periods,omitempty"`
	// Gone left to come back and did not, within the day.
	Gone int64 `json:"gone,omitempty"`
	// LeftFrom is where the users who left to come back gave up.
	LeftFrom []LeftFrom `json:"left_from,omitempty"`
	// Cut are the requests whose latencies the client's timeout cut (some
	// timed out, or the slowest success reached it), with that timeout in
	// seconds: a percentile at the line is at least that.
	Cut map[string]float64 `json:"cut_by_timeout_s,omitempty"`
	// Warnings are what a reader must not miss: a comparison with a run of
	// another scenario, say.
	Warnings []string `json:"warnings,omitempty"`
}

// EndpointSummary is one request's whole-run figures (latencies in
// seconds). The percentiles are of the successful answers; the failed
// answers' latency is beside them (FailedP50, FailedP99).
type EndpointSummary struct {
	Offered   int64            `json:"offered"`
	Attempted int64            `json:"attempted"`
	Resent    int64            `json:"resent,omitempty"`
	Succeeded int64            `json:"succeeded"`
	Failed    int64            `json:"failed"`
	ErrorRate float64          `json:"error_rate"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	P50       float64          `json:"p50_s"`
	P90       float64          `json:"p90_s"`
	P95       float64          `json:"p95_s"`
	P99       float64          `json:"p99_s"`
	P999      float64          `json:"p999_s"`
	Max       float64          `json:"max_s"`
	P99Uncorr float64          `json:"p99_uncorrected_s"`
	FailedP50 float64          `json:"failed_p50_s"`
	FailedP99 float64          `json:"failed_p99_s"`
	// A streaming call's time to its first message (P50 and the rest are
	// to its last) and its messages per successful call.
	FirstP50        float64 `json:"first_message_p50_s,omitempty"`
	FirstP99        float64 `json:"first_message_p99_s,omitempty"`
	MessagesPerCall float64 `json:"messages_per_call,omitempty"`
}

func endpointSummary(t *results.Series) EndpointSummary {
	l := t.Latency
	e := EndpointSummary{Offered: t.Offered, Attempted: t.Attempted, Resent: t.Resent, Succeeded: t.Succeeded, Failed: t.Failed(),
		ErrorRate: t.ErrorRate(), Errors: t.Errors, P50: l.Percentile(50).Seconds(), P90: l.Percentile(90).Seconds(), P95: l.Percentile(95).Seconds(),
		P99: l.Percentile(99).Seconds(), P999: l.Percentile(99.9).Seconds(), Max: l.Max().Seconds(), P99Uncorr: t.Service.Percentile(99).Seconds(),
		FailedP50: t.FailedLatency.Percentile(50).Seconds(), FailedP99: t.FailedLatency.Percentile(99).Seconds()}
	if f := t.FirstMessage; f != nil && t.Succeeded > 0 {
		e.FirstP50, e.FirstP99 = f.Percentile(50).Seconds(), f.Percentile(99).Seconds()
		e.MessagesPerCall = float64(t.Messages) / float64(t.Succeeded)
	}
	return e
}

// GeneratorSummary is the load generator's own health (seconds).
type GeneratorSummary struct {
	LateP50     float64         `json:"late_p50_s"`
	LateP99     float64         `json:"late_p99_s"`
	LateMax     float64         `json:"late_max_s"`
	MaxInFlight int64           `json:"max_in_flight"`
	MaxHeld     int64           `json:"max_held,omitempty"` // connections users held open at once (WebSocket, event streams)
	BehindAt    []time.Duration `json:"behind_at_ns,omitempty"`
	// ConnWaited counts the attempts that waited for one of the client's
	// bounded connections (--max-conns); ConnWaitMax is the longest wait.
	ConnWaited  int64   `json:"conn_waited,omitempty"`
	ConnWaitMax float64 `json:"conn_wait_max_s,omitempty"`
}

// Against is this run compared with another: a baseline (regressions
// flagged) or a prediction (with the error of its curves).
type Against struct {
	Dir         string       `json:"dir,omitempty"`
	Kind        string       `json:"kind"`
	Seed        uint64       `json:"seed"`
	Profile     string       `json:"profile,omitempty"`
	Verdict     bool         `json:"go"`
	Metrics     []Comparison `json:"metrics"`
	Regressions int          `json:"regressions"`
	Curves      []CurveError `json:"curves,omitempty"`
	// Clauses are the gate's clauses judged in both (per period where they
	// say at:), paired by name.
	Clauses []ClauseAgainst `json:"clauses,omitempty"`
	// Unrelated says why the other run may not describe the same
	// scenario ("" when it does).
	Unrelated string `json:"unrelated,omitempty"`
}

// ClauseAgainst is one gate clause as this run and the other judged it.
type ClauseAgainst struct {
	Clause    string  `json:"clause"`
	Unit      string  `json:"unit"`
	This      float64 `json:"this"`
	Other     float64 `json:"other"`
	ThisPass  bool    `json:"this_pass"`
	OtherPass bool    `json:"other_pass"`
}

// clausesAgainst pairs the clauses both verdicts judged.
func clausesAgainst(this, other Verdict) []ClauseAgainst {
	theirs := map[string]ClauseResult{}
	for _, c := range other.Clauses {
		theirs[c.Clause] = c
	}
	var out []ClauseAgainst
	for _, c := range this.Clauses {
		o, ok := theirs[c.Clause]
		if ok && c.Evaluated() && o.Evaluated() {
			out = append(out, ClauseAgainst{c.Clause, c.Unit, c.Measured, o.Measured, c.Pass, o.Pass})
		}
	}
	return out
}

func against(this *results.Run, v Verdict, other *Loaded, baseline bool) *Against {
	if other == nil {
		return nil
	}
	m := other.Run.Meta
	a := &Against{Dir: other.Dir, Kind: m.Kind, Seed: m.Seed, Profile: m.Profile, Verdict: other.Verdict.Go,
		Metrics: compare(this, other.Run, baseline), Unrelated: unrelated(this.Meta, m), Clauses: clausesAgainst(v, other.Verdict)}
	for _, c := range a.Metrics {
		if c.Regression {
			a.Regressions++
		}
	}
	if !baseline {
		a.Curves = curveErrors(this, other.Run)
	}
	return a
}

// Summarize computes the report's figures.
func Summarize(rep *Report) Summary {
	r, v := rep.Run, rep.Verdict
	s := Summary{Meta: r.Meta, Verdict: v, Users: r.Users, Goodput: r.Users.Goodput(), Abandonment: r.Users.Abandonment(),
		RetryAmp: r.RetryAmplification(), Names: r.EndpointNames(), Endpoints: map[string]EndpointSummary{}, Missing: rep.Missing,
		FirstBreaches: firstBreaches(rep.Scenario, r), Forecast: forecast(rep.Scenario), Stages: stageFigures(r),
		Overall: endpointSummary(r.Overall()), MixedLatency: r.MixedLatency(), Events: eventRows(r), Failures: r.Failures}
	for name, e := range r.Endpoints {
		s.Endpoints[name] = endpointSummary(e.Total)
	}
	s.Bottleneck = bottleneck(s.Stages, r.StageCalls)
	s.Outages = outages(r)
	s.Cut = cutByTimeout(rep.Scenario, s.Endpoints)
	s.Periods, s.Gone, s.LeftFrom = periodFigures(rep.Scenario, r), gone(r.Users), leftFrom(r)
	g := r.Generator
	s.Generator = GeneratorSummary{LateP50: g.Late.Percentile(50).Seconds(), LateP99: g.Late.Percentile(99).Seconds(),
		LateMax: g.Late.Max().Seconds(), MaxInFlight: g.MaxInFlight, MaxHeld: g.MaxHeld,
		ConnWaited: g.ConnWaited, ConnWaitMax: g.ConnWaitMax.Seconds()}
	for _, ev := range r.Events {
		if ev.Kind == "generator-behind" {
			s.Generator.BehindAt = append(s.Generator.BehindAt, ev.At)
		}
		if ev.Kind == "connection-cap" {
			s.Warnings = append(s.Warnings, fmt.Sprintf("the load generator was the limit from %s: %d requests waited for one of its connections, up to %s, and their latency includes that wait, which is not the service's (raise --max-conns)",
				fmtDuration(ev.At.Seconds()), g.ConnWaited, fmtDuration(g.ConnWaitMax.Seconds())))
		}
	}
	s.Baseline = against(r, v, rep.Baseline, true)
	s.Prediction = against(r, v, rep.Prediction, false)
	for _, a := range []*Against{s.Baseline, s.Prediction} {
		if a != nil && a.Unrelated != "" {
			what := map[bool]string{true: "baseline", false: "prediction"}[a == s.Baseline]
			s.Warnings = append(s.Warnings, "the "+what+" does not describe the same scenario: "+a.Unrelated+
				"; its comparison may mean nothing")
		}
	}
	if s.MixedLatency {
		s.Warnings = append(s.Warnings, "results of version 1: the latency percentiles include failed answers")
	}
	for _, m := range r.Meta.Model {
		s.Warnings = append(s.Warnings, "outside the model's evidence: "+m)
	}
	return s
}

// cutByTimeout finds the requests the client's timeout cut: some timed
// out, or their slowest success came within 5% of it.
func cutByTimeout(sc *scenarios.Scenario, eps map[string]EndpointSummary) map[string]float64 {
	if sc == nil {
		return nil
	}
	var out map[string]float64
	for name, e := range eps {
		limit := sc.TimeoutFor(scenarios.Step{Request: name})
		for _, steps := range sc.Journeys {
			for _, st := range steps {
				if st.Request == name {
					limit = max(limit, sc.TimeoutFor(st))
				}
			}
		}
		if e.Errors["timeout"] > 0 || (limit > 0 && e.Max >= 0.95*limit.Seconds()) {
			if out == nil {
				out = map[string]float64{}
			}
			out[name] = limit.Seconds()
		}
	}
	return out
}

// unrelated says how another run's meta shows it played another scenario
// than this one ("" when nothing does): its name, its file's hash or its
// played timeline differ.
func unrelated(this, other results.Meta) string {
	switch {
	case this.Scenario != other.Scenario:
		return "it is of scenario " + quote(other.Scenario) + ", this run of " + quote(this.Scenario)
	case this.ScenarioSHA256 != "" && other.ScenarioSHA256 != "" && this.ScenarioSHA256 != other.ScenarioSHA256:
		return "its scenario file differs from this run's (sha256 " + short(other.ScenarioSHA256) + " vs " + short(this.ScenarioSHA256) + ")"
	case this.Planned != other.Planned && this.Planned > 0 && other.Planned > 0:
		return "its played timeline is " + fmtDuration(other.Planned.Seconds()) + ", this run's " + fmtDuration(this.Planned.Seconds()) +
			" (another scale or compression)"
	}
	return ""
}

func quote(s string) string { return `"` + s + `"` }

func short(h string) string { return h[:min(len(h), 12)] }

// JSON writes the JSON summary.
func JSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	return enc.Encode(Summarize(rep))
}
