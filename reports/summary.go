package reports

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// Text writes the terminal summary of a run and its verdict.
func Text(w io.Writer, rep *Report) error {
	r, v := rep.Run, rep.Verdict
	sum := Summarize(rep)
	m := r.Meta
	word := map[bool]string{true: "GO", false: "NO-GO"}[v.Go]
	fmt.Fprintf(w, "surge %s %s (seed %d", m.Kind, m.Scenario, m.Seed)
	if m.Profile != "" {
		fmt.Fprintf(w, ", profile %s", m.Profile)
	}
	fmt.Fprintf(w, "): %s\n", word)
	fmt.Fprintf(w, "played %v of %v; ended: %s\n\n", m.Elapsed.Round(time.Millisecond), m.Planned.Round(time.Millisecond), m.Ended)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "REQUEST\tOFFERED\tATTEMPTED\tOK\tERR%\tP50\tP95\tP99\tMAX\tERRORS\t")
	rows := append(r.EndpointNames(), "")
	for _, name := range rows {
		s := r.Overall()
		label := "all"
		if name != "" {
			s, label = r.Endpoints[name].Total, name
		}
		l := s.Latency
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", label, s.Offered, s.Attempted, s.Succeeded, 100*s.ErrorRate(),
			fmtDuration(l.Quantile(50).Seconds()), fmtDuration(l.Quantile(95).Seconds()), fmtDuration(l.Quantile(99).Seconds()),
			fmtDuration(l.Max().Seconds()), kinds(s.Errors))
	}
	tw.Flush()
	u := r.Users
	fmt.Fprintf(w, "\nusers: %d arrived, %d completed (goodput %.2f%%), %d abandoned, %d out of patience, %d manual fallback, %d unfinished at the end; %d platform switches, %d reinstalls, %d kept trying\n",
		u.Arrived, u.Completed, 100*u.Goodput(), u.Abandoned, u.Impatient, u.Manual, u.Unfinished, u.Switched, u.Reinstall, u.KeptAt)
	fmt.Fprintf(w, "retry amplification %.2fx", r.RetryAmplification())
	if m.Kind != "sim" {
		fmt.Fprintf(w, "; generator: sends late by p99 %v, max %v; at most %d users in their journey",
			r.Generator.Late.Quantile(99), r.Generator.Late.Max(), r.Generator.MaxInFlight)
	}
	fmt.Fprintln(w)
	for _, ev := range eventRows(r) {
		fmt.Fprintf(w, "event at %v: %s %s\n", ev.At.Round(time.Millisecond), ev.Kind, ev.Detail)
	}
	for _, rec := range v.Recoveries {
		line := fmt.Sprintf("recovery after %s (ended at %v): ", rec.Fault, rec.Ended.Round(time.Millisecond))
		switch {
		case !rec.Judged:
			line += "the run ended too soon after it to judge"
		case rec.Recovered:
			line += "SLOs held again after " + rec.After.Round(time.Millisecond).String()
		default:
			line += "not recovered by the end of the run"
		}
		if rec.HasDrained {
			line += fmt.Sprintf("; queues drained after %v", rec.Drained.Round(time.Millisecond))
		}
		fmt.Fprintln(w, line)
	}
	if len(sum.Stages) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "STAGE\tWORKERS\tPEAK UTIL\tMEAN UTIL\tPEAK QUEUE\tSERVED\tSHED\t")
		for _, f := range sum.Stages {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Stage, fmtCount(f.Workers), format("share", f.PeakUtil),
				format("share", f.MeanUtil), fmtCount(f.PeakQueue), fmtCount(f.Served), fmtCount(f.Shed))
		}
		tw.Flush()
		if b := sum.Bottleneck; b != nil {
			fmt.Fprintf(w, "bottleneck: %s (%s)\n", b.Stage, b.Reason)
		}
	}
	for _, a := range []*Against{sum.Baseline, sum.Prediction} {
		if a == nil {
			continue
		}
		textAgainst(w, a, a == sum.Baseline)
	}
	for _, miss := range sum.Missing {
		fmt.Fprintf(w, "missing: %s\n", miss)
	}
	fmt.Fprintf(w, "\ngate: %s\n", word)
	for _, c := range v.Clauses {
		status := map[bool]string{true: "PASS", false: "FAIL"}[c.Pass]
		line := fmt.Sprintf("  %s  %-28s measured %-9s", status, c.Clause, format(c.Unit, c.Measured))
		if c.Note != "" {
			line += "  (" + c.Note + ")"
		} else {
			line += "  margin " + format(c.Unit, c.Margin)
		}
		fmt.Fprintln(w, line)
	}
	if len(sum.FirstBreaches) > 0 {
		f := sum.FirstBreaches[0]
		fmt.Fprintf(w, "first breach: %s at %s (%s in that window)\n", f.Clause, fmtDuration(f.At.Seconds()), format(f.Unit, f.Measured))
	}
	return nil
}

// textAgainst prints a baseline or prediction comparison.
func textAgainst(w io.Writer, a *Against, baseline bool) {
	title := "prediction"
	if baseline {
		title = "baseline"
	}
	fmt.Fprintf(w, "\n%s: %s seed %d", title, a.Kind, a.Seed)
	if a.Dir != "" {
		fmt.Fprintf(w, " (%s)", a.Dir)
	}
	if baseline {
		fmt.Fprintf(w, "; %d regressions", a.Regressions)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "METRIC\tTHIS\t%s\tCHANGE\t\t\n", strings.ToUpper(title))
	for _, c := range a.Metrics {
		flag := ""
		if c.Regression {
			flag = "REGRESSION"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", c.Metric, formatAny(c.Unit, c.This), formatAny(c.Unit, c.Other), change(c), flag)
	}
	tw.Flush()
	for _, ce := range a.Curves {
		fmt.Fprintf(w, "curve %s: median error %s, max %s over %d windows\n", ce.Curve, format("share", ce.Median),
			format("share", ce.Max), ce.Windows)
	}
}

// formatAny formats counts besides the verdict's units.
func formatAny(unit string, x float64) string {
	if unit == "count" {
		return fmtCount(x)
	}
	return format(unit, x)
}

// change is a comparison's change: percentage points for shares, a
// relative change for the rest.
func change(c Comparison) string {
	if c.Unit == "share" {
		return fmt.Sprintf("%+.2f pp", c.Change*100)
	}
	return fmt.Sprintf("%+.1f%%", c.Change*100)
}

func kinds(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// Summary is the JSON summary of a report: the same figures as Text and
// the HTML page.
type Summary struct {
	Meta          results.Meta               `json:"meta"`
	Verdict       Verdict                    `json:"verdict"`
	FirstBreaches []FirstBreach              `json:"first_breaches,omitempty"`
	Forecast      *Forecast                  `json:"forecast,omitempty"`
	Users         results.Users              `json:"users"`
	Goodput       float64                    `json:"goodput"`
	Abandonment   float64                    `json:"abandonment"`
	RetryAmp      float64                    `json:"retry_amplification"`
	Endpoints     map[string]EndpointSummary `json:"endpoints"`
	Stages        []*StageFigures            `json:"stages,omitempty"`
	Bottleneck    *Bottleneck                `json:"bottleneck,omitempty"`
	Generator     GeneratorSummary           `json:"generator"`
	Baseline      *Against                   `json:"baseline,omitempty"`
	Prediction    *Against                   `json:"prediction,omitempty"`
	Missing       []string                   `json:"missing,omitempty"`
}

// EndpointSummary is one request's whole-run figures (latencies in seconds).
type EndpointSummary struct {
	Offered   int64            `json:"offered"`
	Attempted int64            `json:"attempted"`
	Succeeded int64            `json:"succeeded"`
	ErrorRate float64          `json:"error_rate"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	P50       float64          `json:"p50_s"`
	P90       float64          `json:"p90_s"`
	P95       float64          `json:"p95_s"`
	P99       float64          `json:"p99_s"`
	P999      float64          `json:"p999_s"`
	Max       float64          `json:"max_s"`
	P99Uncorr float64          `json:"p99_uncorrected_s"`
}

// GeneratorSummary is the load generator's own health (seconds).
type GeneratorSummary struct {
	LateP50     float64         `json:"late_p50_s"`
	LateP99     float64         `json:"late_p99_s"`
	LateMax     float64         `json:"late_max_s"`
	MaxInFlight int64           `json:"max_in_flight"`
	BehindAt    []time.Duration `json:"behind_at_ns,omitempty"`
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
}

func against(this *results.Run, other *Loaded, baseline bool) *Against {
	if other == nil {
		return nil
	}
	m := other.Run.Meta
	a := &Against{Dir: other.Dir, Kind: m.Kind, Seed: m.Seed, Profile: m.Profile, Verdict: other.Verdict.Go,
		Metrics: compare(this, other.Run, baseline)}
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
		RetryAmp: r.RetryAmplification(), Endpoints: map[string]EndpointSummary{}, Missing: rep.Missing,
		FirstBreaches: firstBreaches(rep.Scenario, r), Forecast: forecast(rep.Scenario), Stages: stageFigures(r)}
	for name, e := range r.Endpoints {
		t := e.Total
		s.Endpoints[name] = EndpointSummary{Offered: t.Offered, Attempted: t.Attempted, Succeeded: t.Succeeded, ErrorRate: t.ErrorRate(),
			Errors: t.Errors, P50: t.Latency.Quantile(50).Seconds(), P90: t.Latency.Quantile(90).Seconds(), P95: t.Latency.Quantile(95).Seconds(), P99: t.Latency.Quantile(99).Seconds(),
			P999: t.Latency.Quantile(99.9).Seconds(), Max: t.Latency.Max().Seconds(), P99Uncorr: t.Service.Quantile(99).Seconds()}
	}
	s.Bottleneck = bottleneck(s.Stages)
	g := r.Generator
	s.Generator = GeneratorSummary{LateP50: g.Late.Quantile(50).Seconds(), LateP99: g.Late.Quantile(99).Seconds(),
		LateMax: g.Late.Max().Seconds(), MaxInFlight: g.MaxInFlight}
	for _, ev := range r.Events {
		if ev.Kind == "generator-behind" {
			s.Generator.BehindAt = append(s.Generator.BehindAt, ev.At)
		}
	}
	s.Baseline = against(r, rep.Baseline, true)
	s.Prediction = against(r, rep.Prediction, false)
	return s
}

// JSON writes the JSON summary.
func JSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(Summarize(rep))
}

// JUnit writes one test case per gate clause, for CI systems that read JUnit XML.
func JUnit(w io.Writer, r *results.Run, v Verdict) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Time     float64    `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	s := suite{Name: "surge " + r.Meta.Scenario, Tests: len(v.Clauses), Time: r.Meta.Elapsed.Seconds()}
	for _, c := range v.Clauses {
		tc := testcase{Name: c.Clause, Classname: "surge.gate." + r.Meta.Scenario}
		if !c.Pass {
			s.Failures++
			msg := fmt.Sprintf("measured %s, limit %s", format(c.Unit, c.Measured), format(c.Unit, c.Limit))
			if c.Note != "" {
				msg += " (" + c.Note + ")"
			}
			tc.Failure = &failure{Message: msg, Text: msg}
		}
		s.Cases = append(s.Cases, tc)
	}
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
