package reports

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim/queueing"
)

// CapacityWord is the capacity verdict in one word: GO, NO-GO (a headroom
// clause failed, or no rate held), SEARCHED when no gate was stated, or
// SEARCHING while the search goes on (its live page).
func CapacityWord(c *Capacity) string {
	if c.Ended == Searching {
		return "SEARCHING"
	}
	if c.Ended == "no capacity" {
		return "NO-GO"
	}
	if len(c.Gate) == 0 {
		return "SEARCHED"
	}
	for _, g := range c.Gate {
		if g.Evaluated() && !g.Pass {
			return "NO-GO"
		}
	}
	return "GO"
}

// Searching is a capacity search's Ended while it goes on.
const Searching = "searching"

// CapacityJSON writes the capacity document as one JSON object.
func CapacityJSON(w io.Writer, c *Capacity) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	return enc.Encode(c)
}

// CapacityText writes the terminal summary of a capacity search.
func CapacityText(w io.Writer, c *Capacity) {
	fmt.Fprintf(w, "surge capacity %s (%s%s): %s\n", c.Scenario, c.Mode, targetOf(c), CapacityWord(c))
	k := c.Knee
	switch {
	case c.Ended == "no capacity":
		fmt.Fprintf(w, "no capacity: %s\n", c.Note)
	case k.ArrivalsPerS > 0:
		fmt.Fprintf(w, "knee: %.4g arrivals/s (%.4g requests/s) of the mix at the forecast peak", k.ArrivalsPerS, k.RequestsPerS)
		if k.Below > 0 {
			fmt.Fprintf(w, "; breaks at %.4g/s", k.Below)
		}
		fmt.Fprintf(w, "\n  limited by: %s%s\n", k.Limit, map[bool]string{true: "", false: " (the search did not pin it down: the knee is at least this)"}[k.Found || k.Limit == "service"])
		fmt.Fprintf(w, "headroom: %.2fx the forecast peak of %.4g arrivals/s\n", c.Headroom, c.Peak)
	}
	if c.Note != "" && c.Ended != "no capacity" {
		fmt.Fprintf(w, "note: %s\n", c.Note)
	}
	if c.Bottleneck != "" {
		fmt.Fprintf(w, "bottleneck: %s (%s)\n", c.Bottleneck, c.BottleneckWhy)
	}
	if c.TargetNote != "" {
		fmt.Fprintf(w, "%s\n", c.TargetNote)
	}
	fmt.Fprintln(w)
	capacityStepsText(w, c)
	capacityTargetText(w, c)
	if u := c.USL; u != nil {
		fmt.Fprintln(w)
		USLText(w, u)
	}
	capacityCalibrationText(w, c)
}

// USLText is a closed-loop sweep's fit in a line.
func USLText(w io.Writer, u *USLFit) {
	fmt.Fprintf(w, "USL over %d concurrency levels: sigma %.4g, kappa %.4g, lambda %.4g/s", len(u.Points), u.Sigma, u.Kappa, u.Lambda)
	if u.NoPeak {
		fmt.Fprintf(w, "; no finite peak (kappa 0)")
	} else if u.PeakLoad > 0 {
		fmt.Fprintf(w, "; peak %.4g/s at %.3g users in flight", u.PeakThroughput, u.PeakLoad)
	}
	if u.Note != "" {
		fmt.Fprintf(w, " (%s)", u.Note)
	}
	fmt.Fprintln(w)
}

// stepRow is a step as the steps tables show it: in rate order, the knee
// marked, every clause it broke, its error share.
type stepRow struct {
	CapacityStep
	Knee     bool     // the highest rate that passed: the knee
	Broken   []string // every clause the step broke, with its value
	ErrShare float64  // failed answers over answers
}

// stepRows are the search's steps in rate order (the identification steps,
// another mix, after them in the order played).
func stepRows(c *Capacity) []stepRow {
	var rows []stepRow
	for _, st := range c.Steps {
		r := stepRow{CapacityStep: st, Knee: st.Mix == "" && st.Pass && c.Knee.ArrivalsPerS > 0 && st.Offered == c.Knee.ArrivalsPerS}
		if st.Answered > 0 {
			r.ErrShare = math.Max(0, 1-st.Goodput/st.Answered)
		}
		if st.Broke != "" {
			r.Broken = append(r.Broken, st.Broke)
		}
		first := true // the first broken clause is Broke, said with where it broke worst
		for _, cr := range st.Clauses {
			if cr.Evaluated() && !cr.Pass {
				if !first {
					r.Broken = append(r.Broken, fmt.Sprintf("%s (measured %s)", cr.Clause, format(cr.Unit, cr.Measured)))
				}
				first = false
			}
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if (rows[i].Mix == "") != (rows[j].Mix == "") {
			return rows[i].Mix == ""
		}
		return rows[i].Mix == "" && rows[i].Offered < rows[j].Offered
	})
	return rows
}

// verdict is a row's verdict as the text table says it.
func (r stepRow) verdict() string {
	v := "PASS"
	switch {
	case r.Mix != "":
		return "identification, not judged: " + r.Mix + r.Settling()
	case r.Knee:
		v = "PASS (the knee)"
	case !r.Pass:
		v = "FAIL: " + strings.Join(r.Broken, "; ")
	}
	if r.Behind {
		v += " (generator behind)"
	}
	if r.ConnWaited > 0 {
		v += fmt.Sprintf(" (%d requests waited for one of the generator's connections, in their latency: raise --max-conns)", r.ConnWaited)
	}
	if d := r.Decided(); d != "" {
		v += " (" + d + ")"
	}
	return v + r.Settling()
}

// Decided says when a step that ended early had its verdict decided.
func (r stepRow) Decided() string {
	if r.Planned <= 0 {
		return ""
	}
	return fmt.Sprintf("decided after %s of the %s planned", seconds(r.Length), seconds(r.Planned))
}

// seconds says a step's length to the second ("7s", "1m", "2m18s").
func seconds(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

// Settling says how long the service took after a failed step to answer
// as at the lowest passing rate again, when it took a while.
func (r stepRow) Settling() string {
	switch {
	case r.Unsettled:
		return "; after it the service did not answer as at the lowest rate again within a minute (still working, for clients who had gone?)"
	case r.Settled > 0:
		return fmt.Sprintf("; after it the service took %s to answer as at the lowest rate again (still working, for clients who had gone?)", fmtDuration(r.Settled.Seconds()))
	}
	return ""
}

// targetRow is a step's figures from the target's own /metrics, as the
// tables show them ("-" where it exports none).
type targetRow struct {
	Offered                             float64
	Mix, CPU, Memory, Pool, Waits, Wait string
}

// targetRows are the steps the target's own metrics saw, in the steps
// table's order; nil when it exports none.
func targetRows(c *Capacity) []targetRow {
	var out []targetRow
	for _, r := range stepRows(c) {
		f := r.Target
		if f == nil {
			continue
		}
		row := targetRow{Offered: r.Offered, Mix: r.Mix, CPU: "-", Memory: "-", Pool: "-", Waits: "-", Wait: "-"}
		if f.HasCPU {
			row.CPU = fmt.Sprintf("%.2f", f.CPUCores)
			if f.Cores > 0 {
				row.CPU += fmt.Sprintf(" of %.0f", f.Cores)
			}
		}
		if f.ResidentBytes > 0 {
			row.Memory = fmt.Sprintf("%.0f MB", f.ResidentBytes/1e6)
		}
		if f.HasPool {
			row.Pool, row.Waits = fmt.Sprintf("%.0f", f.PoolInUse), fmt.Sprintf("%.4g", f.PoolWaits)
			if f.PoolMax > 0 {
				row.Pool += fmt.Sprintf(" of %.0f", f.PoolMax)
			}
			if f.PoolWaits > 0 {
				row.Wait = fmtDuration(f.PoolWait)
			}
		}
		out = append(out, row)
	}
	return out
}

// capacityTargetText is the table of the target's own figures per step.
func capacityTargetText(w io.Writer, c *Capacity) {
	rows := targetRows(c)
	if rows == nil {
		return
	}
	fmt.Fprintln(w, "\nthe target's own metrics (its /metrics, scraped before and after each step):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OFFERED/s\tCPU CORES\tRESIDENT\tDB CONNS IN USE\tDB WAITS/s\tMEAN WAIT\tMIX\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%.4g\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Offered, r.CPU, r.Memory, r.Pool, r.Waits, r.Wait, map[bool]string{true: "peak", false: r.Mix}[r.Mix == ""])
	}
	tw.Flush()
}

// capacityStepsText is the table of the search's steps.
func capacityStepsText(w io.Writer, c *Capacity) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OFFERED/s\tARRIVED/s\tREQUESTS/s\tOK/s\tERR%\tIN FLIGHT\tP95 (worst)\tERRORS\tVERDICT\t")
	for _, r := range stepRows(c) {
		fmt.Fprintf(tw, "%.4g\t%.4g\t%.4g\t%.4g\t%.1f\t%.3g\t%s\t%s\t%s\t\n", r.Offered, r.Achieved, r.Requests, r.Goodput, 100*r.ErrShare,
			r.Concurrency, worstP95(r.CapacityStep), errorKinds(r.CapacityStep), r.verdict())
	}
	tw.Flush()
}

// capacityCalibrationText is the calibrated profile, its checks, and the gate.
func capacityCalibrationText(w io.Writer, c *Capacity) {
	if c.Profile != "" {
		fmt.Fprintf(w, "\ncalibrated profile: %s (from %s)\n", c.Profile, c.ProfileFrom)
		for _, n := range c.ProfileNotes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	for _, ch := range c.Calibration {
		fmt.Fprintf(w, "  simulated at %.4g/s: p95 within %.1f%% of the measured on every request\n", ch.Offered, 100*ch.MaxError)
	}
	for i, cand := range c.Candidates {
		chosen := ""
		if i == 0 {
			chosen = " (chosen)"
		}
		fmt.Fprintf(w, "  structure %s%s: score %.3f, worst p95 error %+.0f%%, worst error-share gap %+.1f points: %s\n",
			cand.Name, chosen, cand.Score, 100*worstP95Error(cand), 100*worstShareGap(cand), cand.Structure)
	}
	if len(c.Gate) > 0 {
		fmt.Fprintf(w, "\ngate: %s\n", CapacityWord(c))
		for _, g := range c.Gate {
			status := map[bool]string{true: "PASS", false: "FAIL"}[g.Pass]
			if !g.Evaluated() {
				status = "----"
			}
			fmt.Fprintf(w, "  %s  %-28s measured %.2fx  limit %.2fx  %s\n", status, g.Clause, g.Measured, g.Limit, g.Note)
		}
	}
}

func targetOf(c *Capacity) string {
	if c.Target != "" {
		return " against " + c.Target
	}
	return ""
}

// worstP95 is a step's highest p95 and its request.
func worstP95(st CapacityStep) string {
	name, worst := "", -1.0
	for _, n := range spec.SortedKeys(st.Endpoints) {
		if p := st.Endpoints[n].P95; p > worst {
			name, worst = n, p
		}
	}
	if name == "" {
		return "-"
	}
	return fmtDuration(worst) + " " + name
}

// errorKinds sums a step's errors by kind.
func errorKinds(st CapacityStep) string {
	all := map[string]int64{}
	for _, e := range st.Endpoints {
		for k, n := range e.Errors {
			all[k] += n
		}
	}
	if len(all) == 0 {
		return "-"
	}
	return kinds(all)
}

// CapacityHTML writes the capacity search as one self-contained page in the
// report's style: the verdict, the knee and headroom, every step, and the
// charts a review reads it from: throughput against offered load, latency
// against offered load with the SLO lines and the knee, the USL fit, and
// how well the calibrated profile reproduces the steps.
func CapacityHTML(w io.Writer, c *Capacity, s *scenarios.Scenario) error {
	return writeCapacityHTML(w, c, s, echartsScript(), "")
}

type capacityView struct {
	C           *Capacity
	Word, Class string
	Charts      []chart
	Script      template.JS
	ScriptURL   string // the script's address instead of Script
	Text        string
	// Names are every request; Table those the steps table shows (the
	// ones with a latency clause, so that it fits a page).
	Names, Table []string
	Rows         []stepRow // the steps table's rows
	TargetRows   []targetRow
	Cols         int // and its columns
}

// CapacityHTMLLinked is the capacity page with the ECharts script read from
// scriptURL (the live page's), as HTMLLinked.
func CapacityHTMLLinked(w io.Writer, c *Capacity, s *scenarios.Scenario, scriptURL string) error {
	return writeCapacityHTML(w, c, s, "", scriptURL)
}

func writeCapacityHTML(w io.Writer, c *Capacity, s *scenarios.Scenario, script template.JS, scriptURL string) error {
	v := capacityView{C: c, Word: CapacityWord(c), Script: script, ScriptURL: scriptURL}
	v.Class = map[string]string{"GO": "go", "NO-GO": "nogo"}[v.Word]
	if v.Class == "" {
		v.Class = "none"
	}
	for _, st := range c.Steps {
		for n := range st.Endpoints {
			if !contains(v.Names, n) {
				v.Names = append(v.Names, n)
			}
		}
	}
	sort.Strings(v.Names)
	for _, n := range v.Names {
		if len(sloLines(s, n)) > 0 {
			v.Table = append(v.Table, n)
		}
	}
	if len(v.Table) == 0 {
		v.Table = v.Names
	}
	v.Charts = capacityCharts(c, s, v.Names)
	v.Rows, v.Cols, v.TargetRows = stepRows(c), 8+2*len(v.Table), targetRows(c)
	var text strings.Builder
	CapacityText(&text, c)
	v.Text = text.String()
	return capacityPage.Execute(w, v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// capacityCharts are the page's charts, x being the offered arrivals/s.
func capacityCharts(c *Capacity, s *scenarios.Scenario, names []string) []chart {
	var steps []CapacityStep // the peak's mix: an identification step is another mix, off these axes
	for _, st := range c.Steps {
		if st.Mix == "" {
			steps = append(steps, st)
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Offered < steps[j].Offered })
	sw := stepCharts{steps: steps, knee: map[string]float64{}}
	for _, st := range steps {
		sw.xmax = math.Max(sw.xmax, st.Offered)
	}
	if c.Knee.ArrivalsPerS > 0 {
		sw.knee["knee"] = c.Knee.ArrivalsPerS
	}
	out := []chart{sw.throughput()}
	for i, name := range names {
		out = append(out, sw.latency(i, name, sloLines(s, name)))
	}
	if u := c.USL; u != nil && len(u.Points) > 0 {
		out = append(out, uslChart(u))
	}
	return out
}

// stepCharts draws the steps of a capacity search against offered load.
type stepCharts struct {
	steps []CapacityStep // by offered load
	xmax  float64
	knee  map[string]float64
}

func (sw stepCharts) axis(id, title, yName string) *charts.Line {
	return lineChart(id, title, "340px", opts.XAxis{Type: "value", Name: "offered arrivals/s", NameLocation: "middle", NameGap: 28, Min: 0, Max: round(sw.xmax * 1.05)},
		opts.YAxis{Type: "value", Name: yName})
}

func symbols() charts.SeriesOpts {
	return charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true), SymbolSize: 6})
}

// throughput is users, requests, answers and successes per second against
// offered load, with the knee.
func (sw stepCharts) throughput() chart {
	pts := func(f func(CapacityStep) float64) []opts.LineData {
		var out []point
		for _, st := range sw.steps {
			out = append(out, point{st.Offered, f(st)})
		}
		return lineData(out, 1)
	}
	tp := sw.axis(chartID("capacity_throughput"), "Throughput against offered load", "per s")
	pal := newPalette()
	tp.AddSeries("arrived users/s", pts(func(st CapacityStep) float64 { return st.Achieved }), symbols(), pal.next(), verticals(sw.knee))
	tp.AddSeries("requests/s offered", pts(func(st CapacityStep) float64 { return st.Requests }), symbols(), pal.next())
	tp.AddSeries("answers/s", pts(func(st CapacityStep) float64 { return st.Answered }), symbols(), pal.next())
	tp.AddSeries("successes/s", pts(func(st CapacityStep) float64 { return st.Goodput }), symbols(), pal.next())
	return renderLine(tp)
}

// latency is one request's percentiles of the successful answers against
// offered load, with its SLO lines and the knee (a step without successes
// is a gap).
func (sw stepCharts) latency(i int, name string, slo map[string]float64) chart {
	lc := sw.axis(chartID("capacity_latency", fmt.Sprint(i), name), name+": latency of the successful answers against offered load (ms)", "ms")
	curve := func(f func(CapacityEndpoint) float64) []point {
		var out []point
		for _, st := range sw.steps {
			if e, ok := st.Endpoints[name]; ok && e.Goodput > 0 {
				out = append(out, point{st.Offered, f(e)})
			} else {
				out = append(out, point{st.Offered, math.NaN()})
			}
		}
		return out
	}
	p50, p95, p99 := curve(func(e CapacityEndpoint) float64 { return e.P50 }), curve(func(e CapacityEndpoint) float64 { return e.P95 }),
		curve(func(e CapacityEndpoint) float64 { return e.P99 })
	ax := latencyAxis(lc, slo, p50, p95, p99)
	pal := newPalette()
	get := ax.data
	lc.AddSeries("p50", get(p50), symbols(), pal.next(), horizontals(slo))
	lc.AddSeries("p95", get(p95), symbols(), pal.next(), verticals(sw.knee))
	lc.AddSeries("p99", get(p99), symbols(), pal.next())
	return renderLine(lc)
}

// uslChart is the closed-loop throughput at each concurrency and the USL fit.
func uslChart(u *USLFit) chart {
	nmax := 0.0
	for _, p := range u.Points {
		nmax = math.Max(nmax, p.Load)
	}
	uc := lineChart(chartID("capacity_usl"), "Throughput at fixed concurrency (closed loop) and the USL fit", "340px",
		opts.XAxis{Type: "value", Name: "users in flight", NameLocation: "middle", NameGap: 28, Min: 0, Max: round(nmax * 1.05)},
		opts.YAxis{Type: "value", Name: "successes/s"})
	pal := newPalette()
	var measured, fit []point
	for _, p := range u.Points {
		measured = append(measured, point{p.Load, p.Throughput})
	}
	model := queueing.USL{Sigma: u.Sigma, Kappa: u.Kappa, Lambda: u.Lambda}
	for i := 0; i <= 50 && u.Lambda > 0; i++ {
		n := math.Max(1, nmax*float64(i)/50)
		fit = append(fit, point{n, model.Throughput(n)})
	}
	uc.AddSeries("measured X(N)", lineData(measured, 1), symbols(), pal.next())
	if len(fit) > 0 {
		uc.AddSeries("USL fit", lineData(fit, 1), noSymbols(), pal.next(), lineStyle("dashed"))
	}
	return renderLine(uc)
}

var capacityPage = template.Must(template.New("capacity").Funcs(template.FuncMap{
	"dur":  func(x float64) string { return fmtDuration(x) },
	"pct":  func(x float64) string { return fmtShare(x) },
	"num":  func(x float64) string { return fmt.Sprintf("%.4g", x) },
	"step": func(st CapacityStep, name string) CapacityEndpoint { return st.Endpoints[name] },
	"errs": errorKinds,
	"ns":   func(d time.Duration) string { return fmtDuration(d.Seconds()) },
	"signed": func(x float64) string {
		return fmt.Sprintf("%+.0f%%", 100*x)
	},
	"points":        func(x float64) string { return fmt.Sprintf("%+.1f points", 100*x) },
	"worstP95Error": worstP95Error,
	"worstShareGap": worstShareGap,
}).Parse(capacityTemplate))

// worstP95Error is a candidate's largest p95 error over the steps, signed
// ((predicted - measured) / measured: below 0, the model predicts too low).
func worstP95Error(c Candidate) float64 {
	worst := 0.0
	for _, st := range c.Steps {
		for _, e := range st.Endpoints {
			if e.MeasuredP95 > 0 && e.PredictedP95 > 0 {
				if x := (e.PredictedP95 - e.MeasuredP95) / e.MeasuredP95; math.Abs(x) > math.Abs(worst) {
					worst = x
				}
			}
		}
	}
	return worst
}

// worstShareGap is a candidate's largest error-share gap over the steps,
// signed (predicted - measured).
func worstShareGap(c Candidate) float64 {
	worst := 0.0
	for _, st := range c.Steps {
		for _, e := range st.Endpoints {
			if x := e.PredictedErrors - e.MeasuredErrors; math.Abs(x) > math.Abs(worst) {
				worst = x
			}
		}
	}
	return worst
}

const capacityTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="surge">
<title>surge capacity {{.Word}}: {{.C.Scenario}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:76em;margin:0 auto;padding:1em 2em 4em}
h2{margin-top:2.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.banner{padding:.9em 1.3em;border-radius:6px;font-size:1.5em;font-weight:650;color:#fff;margin-top:1em}
.go{background:#1a7f37}.nogo{background:#c62828}.none{background:#59636e}
.banner small{display:block;font-size:.55em;font-weight:400;opacity:.95;margin-top:.2em}
table{border-collapse:collapse;margin:.8em 0;font-variant-numeric:tabular-nums}
td,th{padding:.28em .75em;border-bottom:1px solid #e4e7eb;text-align:right;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td:first-child,th:first-child{text-align:left}td.l,th.l{text-align:left}
.fail{color:#c62828;font-weight:600}.pass{color:#1a7f37;font-weight:600}.muted{color:#59636e}
tr.knee td{background:#dafbe1;font-weight:650}
#steps-table td,#steps-table th{padding:.28em .55em}#steps-table tr.broke td{text-align:left;color:#82071e;font-size:.88em;border-top:0;padding-top:0}
#steps-table tr.failed td{border-bottom:0}#steps-table tr.ident td{color:#59636e}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.5em 1em;margin:1em 0}
.container{margin:.6em 0 1.4em}.item{border:1px solid #eaeef2;border-radius:6px}
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
</style>
{{if .ScriptURL}}<script src="{{.ScriptURL}}"></script>{{else}}<script>{{.Script}}</script>{{end}}
</head><body><main>
<div id="verdict" class="banner {{.Class}}">{{.Word}}: capacity of {{.C.Scenario}}
<small>{{.C.Mode}}{{with .C.Target}} · {{.}}{{end}} · ended: {{.C.Ended}}{{if .C.Knee.ArrivalsPerS}} · knee {{num .C.Knee.ArrivalsPerS}} arrivals/s · headroom {{printf "%.2f" .C.Headroom}}x{{end}}</small></div>
{{with .C.Note}}<div class="note">{{.}}</div>{{end}}
<h2 id="knee">1. The knee</h2>
{{if .C.Knee.ArrivalsPerS}}<table>
<tr><td>knee (arrivals/s of the mix at the forecast peak)</td><td id="knee-arrivals">{{num .C.Knee.ArrivalsPerS}}</td></tr>
<tr><td>requests/s at the knee</td><td>{{num .C.Knee.RequestsPerS}}</td></tr>
{{if .C.Knee.Below}}<tr><td>lowest rate a clause broke at</td><td>{{num .C.Knee.Below}}</td></tr>{{end}}
<tr><td>forecast peak (arrivals/s)</td><td>{{num .C.Peak}}</td></tr>
<tr><td>headroom (knee / forecast peak)</td><td id="headroom">{{printf "%.2f" .C.Headroom}}x</td></tr>
<tr><td>what limits it</td><td>{{.C.Knee.Limit}}</td></tr>
</table>{{else}}<p class="fail">No rate tried held every clause.</p>{{end}}
{{with .C.Bottleneck}}<p>Bottleneck: <b>{{.}}</b> ({{$.C.BottleneckWhy}}).</p>{{end}}
{{with .C.TargetNote}}<p id="target-note">{{.}}</p>{{end}}
{{with .C.Gate}}<table><tr><th>gate clause</th><th>measured</th><th>limit</th><th></th></tr>
{{range .}}<tr><td>{{.Clause}}</td><td>{{printf "%.2f" .Measured}}x</td><td>{{printf "%.2f" .Limit}}x</td><td class="{{if .Pass}}pass{{else}}fail{{end}}">{{if not .Evaluated}}NOT EVALUATED{{else if .Pass}}PASS{{else}}FAIL{{end}}</td></tr>
{{end}}</table>{{end}}
<h2 id="steps">2. Steps</h2>
<p class="muted">Each step plays the scenario's mix, as at its forecast peak, at one steady rate (open model), its warm-up cut off; the clauses are judged on its steady part. Latencies are of the successful answers. A step that ended as soon as its verdict was decided (a sequential test on its samples: every clause held with a fifth to spare, or one broke by as much) says when. In rate order (the order played is in capacity.json), the knee's row marked; a failing step lists every clause it broke; the error share is of the answers.</p>
<table id="steps-table"><tr><th>offered/s</th><th>arrived/s</th><th>requests/s</th><th>successes/s</th><th>error share</th><th>in flight</th>{{range .Table}}<th>{{.}} p95</th><th>{{.}} p99</th>{{end}}<th class="l">errors</th><th class="l">verdict</th></tr>
{{range $st := .Rows}}<tr class="{{if .Knee}}knee{{end}}{{if or .Broken .Mix .Decided}} failed{{end}}"><td>{{num .Offered}}</td><td>{{num .Achieved}}</td><td>{{num .Requests}}</td><td>{{num .Goodput}}</td><td>{{pct .ErrShare}}</td><td>{{num .Concurrency}}</td>
{{range $.Table}}{{with step $st.CapacityStep .}}<td>{{dur .P95}}</td><td>{{dur .P99}}</td>{{end}}{{end}}<td class="l">{{errs $st.CapacityStep}}</td>
{{if .Mix}}<td class="l muted">not judged</td></tr>
<tr class="broke ident"><td colspan="{{$.Cols}}">an identification step: {{.Mix}}</td></tr>{{else}}<td class="l {{if .Pass}}pass{{else}}fail{{end}}">{{if .Knee}}PASS: the knee{{else if .Pass}}PASS{{else}}FAIL{{end}}{{if .Behind}} (generator behind){{end}}{{if .ConnWaited}} ({{.ConnWaited}} requests waited for one of the generator's connections, in their latency: raise --max-conns){{end}}</td></tr>
{{if or .Broken .Decided}}<tr class="broke"><td colspan="{{$.Cols}}">{{with .Broken}}broke: {{range $i, $b := .}}{{if $i}} · {{end}}{{$b}}{{end}}{{end}}{{if and .Broken .Decided}} · {{end}}{{with .Decided}}<span class="muted">{{.}}</span>{{end}}</td></tr>{{end}}{{end}}
{{with .Settling}}<tr class="broke"><td colspan="{{$.Cols}}">{{slice . 2}}</td></tr>{{end}}
{{end}}</table>
{{with .TargetRows}}<p>The target's own metrics (its <code>/metrics</code>, scraped before and after each step; rates over that time):</p>
<table id="target-table"><tr><th>offered/s</th><th>CPU cores</th><th>resident</th><th>database connections in use</th><th>waits for one/s</th><th>mean wait</th><th class="l">mix</th></tr>
{{range .}}<tr><td>{{num .Offered}}</td><td>{{.CPU}}</td><td>{{.Memory}}</td><td>{{.Pool}}</td><td>{{.Waits}}</td><td>{{.Wait}}</td><td class="l">{{if .Mix}}{{.Mix}}{{else}}the peak's{{end}}</td></tr>
{{end}}</table>{{end}}
<h2 id="charts">3. Against offered load</h2>
{{range .Charts}}{{.Element}}{{.Script}}
{{end}}
{{with .C.USL}}<h2 id="usl">4. Universal Scalability Law</h2>
<p>sigma {{printf "%.4g" .Sigma}} (contention), kappa {{printf "%.4g" .Kappa}} (coherency), lambda {{printf "%.4g" .Lambda}}/s;
{{if .NoPeak}}no finite peak: throughput rises toward its limit{{else if .PeakLoad}}peak <b>{{printf "%.4g" .PeakThroughput}}/s</b> at <b>{{printf "%.3g" .PeakLoad}}</b> users in flight, beyond which throughput falls{{end}}.{{with .Note}} {{.}}{{end}}</p>{{end}}
<h2 id="profile">5. The calibrated profile</h2>
{{if .C.Profile}}<p><code>{{.C.Profile}}</code>, fitted from the target's {{.C.ProfileFrom}}:</p>
<ul>{{range .C.ProfileNotes}}<li>{{.}}</li>{{end}}</ul>
{{with .C.Calibration}}<p>Simulated on it at each measured rate (same mix, length and seed), the p95 of each request against the measured:</p>
<table><tr><th>offered/s</th>{{range $.Table}}<th>{{.}} measured</th><th>predicted</th>{{end}}<th>worst error</th></tr>
{{range $ch := .}}<tr><td>{{num .Offered}}</td>{{range $.Table}}{{with index $ch.Endpoints .}}<td>{{dur .Measured}}</td><td>{{dur .Predicted}}</td>{{else}}<td>-</td><td>-</td>{{end}}{{end}}<td>{{pct .MaxError}}</td></tr>
{{end}}</table>{{end}}
{{else}}<p class="muted">No profile was calibrated ({{if eq .C.Mode "sim"}}the search ran on a profile already{{else}}too few steps{{end}}).</p>{{end}}
{{with .C.Candidates}}<h3 id="candidates">Structures fitted</h3>
<p>With no stage metrics to read its shape from, the calibration fitted these structures and simulated each against every measured step (its mix, rate, length and seed); the one whose answers came closest was kept. Score: the mean over steps and requests of |ln(predicted p95 / measured p95)| + 3 |predicted − measured error share| + 3 |ln(predicted successes / measured successes)| (0 is exact).</p>
<table id="candidates-table"><tr><th class="l">structure</th><th>score</th><th>worst p95 error</th><th>worst error-share gap</th><th class="l">in words</th></tr>
{{range $i, $c := .}}<tr><td class="l">{{if eq $i 0}}<b>{{.Name}}</b> (chosen){{else}}{{.Name}}{{end}}</td><td>{{if .Compared}}{{printf "%.3f" .Score}}{{else}}not compared{{end}}</td><td>{{signed (worstP95Error .)}}</td><td>{{points (worstShareGap .)}}</td><td class="l">{{.Structure}}</td></tr>
{{end}}</table>{{end}}
<details><summary>Text summary</summary><pre>{{.Text}}</pre></details>
<p class="muted">surge capacity · charts by ECharts ` + EChartsVersion + ` (Apache-2.0), embedded.</p>
</main></body></html>
`
