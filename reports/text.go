package reports

import (
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
	sum := Summarize(rep)
	textSummary(w, &sum)
	return nil
}

// textSummary writes a summary as text, section by section.
func textSummary(w io.Writer, s *Summary) {
	textHead(w, s)
	textRequests(w, s)
	textUsers(w, s)
	textBand(w, s)
	textSpread(w, s)
	textEvents(w, s)
	textStages(w, s)
	for _, a := range []*Against{s.Baseline, s.Prediction} {
		if a != nil {
			textAgainst(w, a, a == s.Baseline)
		}
	}
	textFailures(w, s)
	for _, miss := range s.Missing {
		fmt.Fprintf(w, "missing: %s\n", miss)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	textGate(w, s)
}

func textHead(w io.Writer, s *Summary) {
	m := s.Meta
	fmt.Fprintf(w, "surge %s %s (seed %d", m.Kind, m.Scenario, m.Seed)
	if m.Profile != "" {
		fmt.Fprintf(w, ", profile %s", m.Profile)
	}
	if m.Protocol == "h2" {
		fmt.Fprint(w, ", HTTP/2")
	}
	if sh := m.Sharding(); sh != "" {
		fmt.Fprintf(w, ", %s", sh)
	}
	fmt.Fprintf(w, "): %s\n", s.Verdict.Word())
	fmt.Fprintf(w, "played %s of %s; ended: %s\n", fmtDuration(m.Elapsed.Round(time.Millisecond).Seconds()),
		fmtDuration(m.Planned.Round(time.Millisecond).Seconds()), m.Ended)
	for _, o := range s.Outages {
		fmt.Fprintf(w, "DOWN: %s\n", o)
	}
	fmt.Fprintln(w)
}

func textRequests(w io.Writer, s *Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "REQUEST\tOFFERED\tATTEMPTED\tOK\tERR%\tP50\tP95\tP99\tMAX\tFAILED P99\tERRORS\t")
	row := func(label string, e EndpointSummary) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", label, e.Offered, e.Attempted, e.Succeeded, 100*e.ErrorRate,
			fmtDuration(e.P50), fmtDuration(e.P95), fmtDuration(e.P99), fmtDuration(e.Max), failedP99(e), kinds(e.Errors))
	}
	for _, name := range s.Names {
		row(name, s.Endpoints[name])
	}
	row("all", s.Overall)
	tw.Flush()
	fmt.Fprintln(w, "latency percentiles are of the successful answers; FAILED P99 is the failed answers' own")
	if s.Overall.Resent > 0 {
		fmt.Fprintf(w, "attempted includes %d transparent resends (a request sent again on a new connection after the server closed an idle one)\n", s.Overall.Resent)
	}
	for _, name := range s.Names {
		if e := s.Endpoints[name]; e.MessagesPerCall > 0 {
			fmt.Fprintf(w, "%s streams: first message p50 %s, p99 %s; last message p50 %s, p99 %s; %.1f messages a call\n",
				name, fmtDuration(e.FirstP50), fmtDuration(e.FirstP99), fmtDuration(e.P50), fmtDuration(e.P99), e.MessagesPerCall)
		}
	}
}

func failedP99(e EndpointSummary) string {
	if e.Failed == 0 {
		return "-"
	}
	return fmtDuration(e.FailedP99)
}

func textUsers(w io.Writer, s *Summary) {
	u := s.Users
	fmt.Fprintf(w, "\nusers: %d arrived, %d completed (goodput %s), %d abandoned, %d out of patience, %d manual fallback, %d unfinished at the end; %d platform switches, %d reinstalls, %d kept trying\n",
		u.Arrived, u.Completed, fmtShare(s.Goodput), u.Abandoned, u.Impatient, u.Manual, u.Unfinished, u.Switched, u.Reinstall, u.KeptTrying)
	if u.Left > 0 {
		fmt.Fprintf(w, "came back later: %d gave up to come back, %d came back within the day, %d of them completed; they gave up at", u.Left, u.Returned, u.ReturnedCompleted)
		for i, f := range s.LeftFrom {
			fmt.Fprintf(w, "%s %s %d", map[bool]string{true: "", false: ","}[i == 0], f.From, f.Users)
		}
		fmt.Fprintln(w)
	}
	for _, p := range s.Periods {
		fmt.Fprintf(w, "  %-10s %s-%s: %d arrived, goodput %s, %d left to come back, %d came back\n", p.Name, p.From, p.To,
			p.Users.Arrived, fmtShare(p.Goodput), p.Users.Left, p.Users.Returned)
	}
	fmt.Fprintf(w, "retry amplification %.2fx", s.RetryAmp)
	if s.Meta.Kind != "sim" {
		g := s.Generator
		fmt.Fprintf(w, "; generator: sends late by p99 %s, max %s; at most %d users in their journey at once",
			fmtDuration(g.LateP99), fmtDuration(g.LateMax), g.MaxInFlight)
		if g.MaxHeld > 0 {
			fmt.Fprintf(w, ", %d connections held open at once", g.MaxHeld)
		}
		if g.ConnWaited > 0 {
			fmt.Fprintf(w, "; %d requests waited for a connection (up to %s): the client's bound, --max-conns, not the service", g.ConnWaited, fmtDuration(g.ConnWaitMax))
		}
	}
	fmt.Fprintln(w)
}

func textEvents(w io.Writer, s *Summary) {
	for _, ev := range s.Events {
		fmt.Fprintf(w, "event at %s: %s %s\n", fmtDuration(ev.At.Round(time.Millisecond).Seconds()), ev.Kind, ev.Detail)
	}
	for _, rec := range s.Verdict.Recoveries {
		line := fmt.Sprintf("recovery after %s (ended at %s): ", rec.Fault, fmtDuration(rec.Ended.Round(time.Millisecond).Seconds()))
		switch {
		case rec.Recovered:
			line += "SLOs held again after " + fmtDuration(rec.After.Round(time.Millisecond).Seconds())
		case !rec.Judged:
			line += "not judged: the run went on " + fmtDuration(rec.Left.Round(time.Millisecond).Seconds()) + " after it, too soon to say"
		default:
			line += "not recovered in the " + fmtDuration(rec.Left.Round(time.Millisecond).Seconds()) + " the run went on"
		}
		if rec.HasDrained {
			line += "; queues drained after " + fmtDuration(rec.Drained.Round(time.Millisecond).Seconds())
		}
		fmt.Fprintln(w, line)
	}
	if rel := s.Meta.Relief; rel != nil {
		fmt.Fprintln(w, "recovery: "+ReliefText(rel))
	}
}

func textStages(w io.Writer, s *Summary) {
	if len(s.Stages) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STAGE\tWORKERS\tPEAK UTIL\tMEAN UTIL\tSATURATED AT\tPEAK QUEUE\tSERVED\tSHED\t")
	for _, f := range s.Stages {
		sat := "-"
		if f.HasSaturated {
			sat = fmtDuration(f.Saturated.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Stage, fmtCount(f.Workers), format("share", f.PeakUtil),
			format("share", f.MeanUtil), sat, fmtCount(f.PeakQueue), fmtCount(f.Served), fmtCount(f.Shed))
	}
	tw.Flush()
	if b := s.Bottleneck; b != nil {
		fmt.Fprintf(w, "bottleneck: %s (%s)\n", b.Stage, b.Reason)
	}
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

func textFailures(w io.Writer, s *Summary) {
	if len(s.Failures) == 0 {
		return
	}
	fmt.Fprintf(w, "\nfailed answers, a sample (up to %d per request and kind, in results.json):\n", results.MaxFailureSamples)
	for _, f := range s.Failures {
		line := fmt.Sprintf("  %s %s at %s:", f.Endpoint, f.Kind, fmtDuration(f.At.Seconds()))
		if f.Status != 0 {
			line += fmt.Sprintf(" HTTP %d", f.Status)
		}
		if f.Error != "" {
			line += " " + f.Error
		}
		if f.Body != "" {
			line += " body " + oneLine(f.Body, 120)
		}
		fmt.Fprintln(w, line)
	}
}

// oneLine is s on one line, cut to n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func textGate(w io.Writer, s *Summary) {
	v := s.Verdict
	fmt.Fprintf(w, "\ngate: %s\n", v.Word())
	if !v.Evaluated {
		fmt.Fprintf(w, "  not evaluated: %s\n", v.Why)
	}
	for _, c := range v.Clauses {
		status := map[string]string{StatusPass: "PASS", StatusFail: "FAIL", StatusNotEvaluated: "----"}[c.Status]
		line := fmt.Sprintf("  %s  %-28s", status, c.Clause)
		switch {
		case !c.Evaluated():
			line += "  " + c.Note
		case c.Note != "" && c.Samples == 0:
			line += fmt.Sprintf(" measured %-9s  (%s)", "-", c.Note)
		case c.Note != "":
			line += fmt.Sprintf(" measured %-9s  (%s)", format(c.Unit, c.Measured), c.Note)
		default:
			line += fmt.Sprintf(" measured %-9s  margin %s", format(c.Unit, c.Measured), format(c.Unit, c.Margin))
		}
		fmt.Fprintln(w, line)
	}
	if len(s.FirstBreaches) > 0 {
		f := s.FirstBreaches[0]
		fmt.Fprintf(w, "first breach: %s at %s played (%s in that window)\n", f.Clause, fmtDuration(f.At.Seconds()), format(f.Unit, f.Measured))
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
