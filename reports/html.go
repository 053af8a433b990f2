package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// HTML writes the report as one self-contained page: the verdict first,
// then the scenario, traffic, latency, stages, prediction, recovery,
// baseline, errors and events, with every chart drawn by the embedded
// ECharts script (no network needed to open it).
func HTML(w io.Writer, rep *Report) error { return writeHTML(w, rep, echartsScript(), "") }

// HTMLLinked writes the same page with the ECharts script read from
// scriptURL instead of inline: what a page redrawn each second (the live
// page) serves, so that the megabyte of script is neither rebuilt nor sent
// with every drawing.
func HTMLLinked(w io.Writer, rep *Report, scriptURL string) error {
	return writeHTML(w, rep, "", scriptURL)
}

// view is what the page template reads.
type view struct {
	*Report
	Word, Class, Paragraph string
	S                      Summary
	Charts                 chartSet
	Names                  []string
	ErrKinds               []string
	ErrCount               map[string]map[string]int64
	Events                 []eventView
	Faults                 bool // the run had fault windows (the charts shade them)
	// Pred is ", predicted" on a prediction's page (its headings say so),
	// "" on a measured one.
	Pred      string
	Text      string
	Script    template.JS
	ScriptURL string // the script's address instead of Script (HTMLLinked)
}

type eventView struct{ At, Kind, Detail string }

func writeHTML(w io.Writer, rep *Report, script template.JS, scriptURL string) error {
	s := Summarize(rep)
	v := view{Report: rep, S: s, Word: rep.Verdict.Word(), Script: script, ScriptURL: scriptURL,
		Paragraph: describe(rep.Loaded, s.Forecast), Names: s.Names, Faults: len(faultSpans(rep.Run)) > 0}
	v.Class = map[string]string{"GO": "go", "NO-GO": "nogo"}[v.Word]
	if v.Class == "" {
		v.Class = "none"
	}
	v.Charts = buildCharts(rep, &s)
	if rep.Run.Meta.Kind == "sim" {
		v.Pred, v.Class = ", predicted", v.Class+" predicted"
	}
	v.ErrKinds, _, v.ErrCount = errorsByEndpoint(rep.Run)
	for _, ev := range s.Events {
		v.Events = append(v.Events, eventView{At: fmtDuration(ev.At.Seconds()), Kind: ev.Kind, Detail: ev.Detail})
	}
	var text bytes.Buffer
	textSummary(&text, &s)
	v.Text = text.String()
	return page.Execute(w, v)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":      func(x float64) string { return format("share", x) },
	"relief":   ReliefText,
	"band":     bandRows,
	"pctOf":    func(x float64) float64 { return 100 * x },
	"bandOf":   BandHeading,
	"spread":   spreadRows,
	"spreadOf": SpreadHeading,
	"dur":      func(x float64) string { return fmtDuration(x) },
	"at":       func(d time.Duration) string { return fmtDuration(d.Seconds()) },
	"val":      formatAny,
	"chg":      change,
	"n":        fmtCount,
	"lower":    strings.ToLower,
	"count":    func(m map[string]map[string]int64, kind, name string) int64 { return m[kind][name] },
	"sum": func(m map[string]int64) int64 {
		var t int64
		for _, v := range m {
			t += v
		}
		return t
	},
	"kindOf":  func(k string) string { return map[string]string{"run": "measured", "sim": "predicted"}[k] },
	"sprintf": fmt.Sprintf,
}).Parse(pageTemplate))

const pageTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="surge">
<title>surge {{.Word}}{{if .Pred}} (predicted){{end}}: {{.Run.Meta.Scenario}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:76em;margin:0 auto;padding:1em 2em 4em}
nav{font-size:.9em;margin:.6em 0 1.2em}nav a{margin-right:1em;color:#0969da;text-decoration:none}
h2{margin-top:2.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{margin-bottom:.3em}
.banner{padding:.9em 1.3em;border-radius:6px;font-size:1.5em;font-weight:650;color:#fff;margin-top:1em}
.go{background:#1a7f37}.nogo{background:#c62828}.none{background:#59636e}
.banner.predicted{background-image:repeating-linear-gradient(135deg,rgba(255,255,255,.13) 0 12px,transparent 12px 24px)}
.banner small{display:block;font-size:.55em;font-weight:400;opacity:.95;margin-top:.2em}
.banner small.outage{font-size:.7em;font-weight:650;opacity:1}
table{border-collapse:collapse;margin:.8em 0;font-variant-numeric:tabular-nums}
td,th{padding:.28em .75em;border-bottom:1px solid #e4e7eb;text-align:right;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td:first-child,th:first-child{text-align:left}
td.l,th.l{text-align:left}
.fail,.regression{color:#c62828;font-weight:600}.pass{color:#1a7f37;font-weight:600}.unjudged{color:#59636e;font-weight:600}
.warning{background:#ffebe9;border:2px solid #c62828;border-radius:6px;padding:.6em 1em;margin:1em 0;font-weight:600;color:#82071e}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.5em 1em;margin:1em 0}
.muted{color:#59636e}
.container{margin:.6em 0 1.4em}
.item{border:1px solid #eaeef2;border-radius:6px}
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
td pre{white-space:pre-wrap;word-break:break-all;max-width:36em;margin:0;padding:.3em .5em}
details{margin:1em 0}
</style>
{{if .ScriptURL}}<script src="{{.ScriptURL}}"></script>{{else}}<script>{{.Script}}</script>{{end}}
</head><body><main>
<div id="verdict" class="banner {{.Class}}">{{.Word}}{{if .Pred}} (predicted){{end}}: {{.Run.Meta.Scenario}}
<small>{{kindOf .Run.Meta.Kind}} · seed {{.Run.Meta.Seed}}{{with .Run.Meta.Profile}} · profile {{.}}{{end}}{{with .Run.Meta.Sharding}} · {{.}}{{end}} · ended: {{.Run.Meta.Ended}}{{with .S.FirstBreaches}} · first breach: {{(index . 0).Clause}} at {{at (index . 0).At}}{{end}}</small>
{{range .S.Outages}}<small class="outage">{{.}}</small>{{end}}</div>
<nav><a href="#gate">Gate</a><a href="#scenario">Scenario</a><a href="#traffic">Traffic</a><a href="#latency">Latency</a><a href="#stages">Stages</a><a href="#prediction">Prediction</a><a href="#recovery">Recovery</a><a href="#baseline">Baseline</a><a href="#errors">Errors &amp; events</a></nav>
{{range .S.Warnings}}<div class="warning">Warning: {{.}}</div>
{{end}}{{range .Missing}}<div class="note">Missing: {{.}}</div>
{{end}}
<h2 id="gate">1. Gate{{.Pred}}: {{.Word}}</h2>
{{if not .Verdict.Evaluated}}<p class="unjudged">Not evaluated: {{.Verdict.Why}}.</p>{{end}}
{{if .Verdict.Clauses}}<table><tr><th>clause</th><th>measured</th><th>limit</th><th>margin</th><th>samples</th><th></th></tr>
{{range .Verdict.Clauses}}<tr><td>{{.Clause}}</td><td>{{if .Samples}}{{val .Unit .Measured}}{{else}}-{{end}}</td><td>{{val .Unit .Limit}}</td><td>{{if .Note}}{{.Note}}{{else}}{{val .Unit .Margin}}{{end}}</td><td>{{.Samples}}</td>
<td class="{{if not .Evaluated}}unjudged{{else if .Pass}}pass{{else}}fail{{end}}">{{if not .Evaluated}}NOT EVALUATED{{else if .Pass}}PASS{{else}}FAIL{{end}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No gate clauses to evaluate.</p>{{end}}{{with band .S}}
<div id="band"><p>The prediction {{bandOf $.S}}:</p>
<table><tr><th class="l">figure</th><th>predicted</th><th>capacity -{{printf "%.0f" (pctOf $.Run.Meta.Band.Uncertainty)}}%</th><th>capacity +{{printf "%.0f" (pctOf $.Run.Meta.Band.Uncertainty)}}%</th></tr>
{{range .}}<tr><td>{{.Figure}}</td><td>{{.Predicted}}</td><td>{{.Low}}</td><td>{{.High}}</td></tr>
{{end}}</table></div>{{end}}{{with spread .S}}
<div id="spread"><p>The prediction {{spreadOf $.S}}:</p>
<table><tr><th class="l">clause</th><th>predicted</th><th>least</th><th>median</th><th>most</th><th>passed</th></tr>
{{range .}}<tr><td>{{.Clause}}</td><td>{{.Predicted}}</td><td>{{.Min}}</td><td>{{.Median}}</td><td>{{.Max}}</td><td>{{.Passed}}</td></tr>
{{end}}</table></div>{{end}}
{{with .S.FirstBreaches}}<p>What broke first, judged bucket by bucket:</p>
<table><tr><th>clause</th><th>first broke at (played)</th><th>value in that bucket</th></tr>
{{range .}}<tr><td>{{.Clause}}</td><td>{{at .At}}</td><td>{{val .Unit .Measured}}</td></tr>
{{end}}</table>{{end}}

<h2 id="scenario">2. Scenario</h2>
<p>{{.Paragraph}}</p>

<h2 id="traffic">3. Traffic{{.Pred}}</h2>
{{with .Charts.Traffic}}{{.Element}}{{.Script}}{{else}}<p class="muted">No requests were recorded.</p>{{end}}
<table><tr><th>users</th><th>arrived</th><th>completed</th><th>goodput</th><th>abandoned</th><th>out of patience</th><th>manual check</th><th>unfinished</th><th>switched platform</th><th>retry amplification</th></tr>
<tr><td></td><td>{{.Run.Users.Arrived}}</td><td>{{.Run.Users.Completed}}</td><td>{{pct .S.Goodput}}</td><td>{{.Run.Users.Abandoned}}</td><td>{{.Run.Users.Impatient}}</td><td>{{.Run.Users.Manual}}</td><td>{{.Run.Users.Unfinished}}</td><td>{{.Run.Users.Switched}}</td><td>{{sprintf "%.2fx" .S.RetryAmp}}</td></tr></table>
<p class="muted">{{if .Faults}}Shaded: fault windows. {{end}}{{with .Charts.Busiest}}{{.}} {{end}}Offered counts each user's first attempt at a request (the demand); attempted adds the retries; goodput counts users who finished their journey, at their arrival time.</p>{{with .Charts.Returns}}
<h3>Coming back later</h3>{{.Element}}{{.Script}}
<p>{{$.Run.Users.Left}} users gave up to come back later; {{$.Run.Users.Returned}} came back within the day and {{$.Run.Users.ReturnedCompleted}} of them completed their journey{{with $.S.Gone}}; {{.}} would have come back after the day's end{{end}}. A user who comes back resumes where it failed, keeping its credential; its requests count as attempts, not new demand. Shaded: the scenario's periods.</p>
{{with $.S.LeftFrom}}<table><tr><th>where they gave up</th><th>users</th></tr>
{{range .}}<tr><td>{{.From}}</td><td>{{.Users}}</td></tr>
{{end}}</table>{{end}}{{end}}{{with .S.Periods}}
<h3>By period</h3>
<table><tr><th>period</th><th>arrived</th><th>completed</th><th>goodput</th><th>left to come back</th><th>came back</th><th>the day's clauses here</th></tr>
{{range .}}<tr><td>{{.Name}} {{.From}}-{{.To}}</td><td>{{.Users.Arrived}}</td><td>{{.Users.Completed}}</td><td>{{pct .Goodput}}</td><td>{{.Users.Left}}</td><td>{{.Users.Returned}}</td>
<td>{{range .Clauses}}<span class="{{if not .Evaluated}}unjudged{{else if .Pass}}pass{{else}}fail{{end}}">{{.Clause}}: {{if .Samples}}{{val .Unit .Measured}}{{else}}-{{end}}</span><br>{{end}}</td></tr>
{{end}}</table>
<p class="muted">Users by arrival, departures and returns by when they happened; the clauses without at: measured in each period (the gate judges them over the whole run, and the clauses with at: in theirs).</p>{{end}}

<h2 id="latency">4. Latency{{.Pred}}</h2>
<table><tr><th>request</th><th>offered</th><th>attempted</th><th>ok</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>p99 uncorrected</th><th>failed: p50</th><th>failed: p99</th></tr>
{{range $name := .Names}}{{with index $.S.Endpoints $name}}<tr><td>{{$name}}</td><td>{{.Offered}}</td><td>{{.Attempted}}</td><td>{{.Succeeded}}</td><td>{{pct .ErrorRate}}</td>
<td>{{dur .P50}}</td><td>{{dur .P95}}</td><td>{{dur .P99}}</td><td>{{dur .P999}}</td><td>{{dur .Max}}</td><td>{{dur .P99Uncorr}}</td><td>{{if .Failed}}{{dur .FailedP50}}{{else}}-{{end}}</td><td>{{if .Failed}}{{dur .FailedP99}}{{else}}-{{end}}</td></tr>
{{end}}{{end}}</table>
{{range $name := .Names}}{{with index $.S.Endpoints $name}}{{if .MessagesPerCall}}<p>{{$name}} streams: first message p50 {{dur .FirstP50}}, p99 {{dur .FirstP99}}; the percentiles above are to its last message; {{printf "%.1f" .MessagesPerCall}} messages a call.</p>
{{end}}{{end}}{{end}}<p class="muted">The percentiles are of the successful answers: a failure (a timeout, a 503 shed at once) is judged by the error clauses, and its own latency is in the failed columns{{if .S.Overall.Resent}}; attempted includes {{.S.Overall.Resent}} transparent resends (requests sent again on a new connection after the server closed an idle one){{end}}. Latency runs from each request's intended send time, so a stalled generator or a full connection pool cannot hide queueing (coordinated omission). The uncorrected view, from the actual send, is the dotted series (click its legend entry) and the dashed distribution.</p>
{{range .Charts.Endpoints}}<h3>{{.Name}}</h3>
{{$n := .Name}}{{with index $.S.Cut .Name}}<p class="cut muted">Cut by the client's timeout ({{dur .}}, the line): {{with index (index $.S.Endpoints $n).Errors "timeout"}}{{.}} attempts timed out; {{end}}an answer slower than it is not waited for, so a percentile at the line is at least {{dur .}}, not a measurement of it.</p>
{{end}}{{.Over.Element}}{{.Over.Script}}
{{.Distribution.Element}}{{.Distribution.Script}}
{{end}}

<h2 id="stages">5. Stages{{.Pred}}</h2>
{{if .S.Stages}}{{with .S.Bottleneck}}<p>Bottleneck: <b id="bottleneck">{{.Stage}}</b> ({{.Reason}}).</p>{{end}}
<table><tr><th>stage</th><th>workers</th><th>peak utilisation</th><th>at</th><th>mean utilisation</th><th>saturated at</th><th>peak queue</th><th>at</th><th>served</th><th>shed</th></tr>
{{range .S.Stages}}<tr><td>{{.Stage}}</td><td>{{n .Workers}}</td><td>{{pct .PeakUtil}}</td><td>{{at .PeakUtilAt}}</td><td>{{pct .MeanUtil}}</td><td>{{if .HasSaturated}}{{at .Saturated}}{{else}}-{{end}}</td><td>{{n .PeakQueue}}</td><td>{{at .PeakQueueAt}}</td><td>{{n .Served}}</td><td>{{n .Shed}}</td></tr>
{{end}}</table>
<p class="muted">The bottleneck is the stage that saturates first (utilisation of 90% or more over 10 s); stages that saturate after it, or shed, are its downstream effects. Served and shed count this run's visits only.</p>
{{with .Charts.Utilization}}{{.Element}}{{.Script}}{{end}}
{{with .Charts.Queues}}{{.Element}}{{.Script}}{{end}}
{{with .Charts.Shed}}{{.Element}}{{.Script}}{{end}}
{{else}}<p class="muted">No stage samples in this run: the target exposed no per-stage metrics. Runs against the reference server (or with <code>--metrics</code> against a target that serves surge's stage metrics) and every prediction have them.</p>{{end}}

<h2 id="prediction">6. Prediction vs measurement</h2>
{{with .S.Prediction}}<p>Overlaid: the simulator's prediction (seed {{.Seed}}{{with .Profile}}, profile {{.}}{{end}}{{with .Dir}}, {{.}}{{end}}), which said <b>{{if .Verdict}}GO{{else}}NO-GO{{end}}</b>.</p>
<table><tr><th>metric</th><th>measured</th><th>predicted</th><th>prediction error</th></tr>
{{range .Metrics}}<tr><td>{{.Metric}}</td><td>{{val .Unit .This}}</td><td>{{val .Unit .Other}}</td><td>{{chg .}}</td></tr>
{{end}}</table>
{{with .Clauses}}<table><tr><th>gate clause</th><th>measured</th><th></th><th>predicted</th><th></th></tr>
{{range .}}<tr><td>{{.Clause}}</td><td>{{val .Unit .This}}</td><td class="{{if .ThisPass}}pass{{else}}fail{{end}}">{{if .ThisPass}}PASS{{else}}FAIL{{end}}</td><td>{{val .Unit .Other}}</td><td class="{{if .OtherPass}}pass{{else}}fail{{end}}">{{if .OtherPass}}PASS{{else}}FAIL{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .Curves}}<table><tr><th>curve</th><th>windows</th><th>median error</th><th>max error</th></tr>
{{range .}}<tr><td>{{.Curve}}</td><td>{{.Windows}}</td><td>{{pct .Median}}</td><td>{{pct .Max}}</td></tr>
{{end}}</table>{{end}}
{{with $.Charts.PredRate}}{{.Element}}{{.Script}}{{end}}
{{range $.Charts.PredLatency}}{{.Element}}{{.Script}}{{end}}
{{with $.Charts.PredUtil}}{{.Element}}{{.Script}}{{end}}
{{else}}<p class="muted">{{if eq .Run.Meta.Kind "sim"}}This report is itself a prediction.{{else}}No prediction given.{{end}} Overlay one with <code>surge report RUNDIR --prediction SIMDIR</code> (make it with <code>surge sim SCENARIO.yaml</code>).</p>{{end}}

<h2 id="recovery">7. Recovery{{.Pred}}</h2>
{{with .Verdict.Recoveries}}<table><tr><th class="l">after</th><th>ended at</th><th>SLOs held again after</th><th>queues drained after</th></tr>
{{range .}}<tr><td>{{.Fault}}</td><td>{{at .Ended}}</td><td>{{if .Recovered}}{{at .After}}{{else if not .Judged}}<span class="unjudged">not judged: {{at .Left}} left</span>{{else}}<span class="fail">not recovered in the {{at .Left}} left</span>{{end}}</td><td>{{if .HasDrained}}{{at .Drained}}{{else}}-{{end}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No fault ended and no surge ended during the run: nothing to recover from.</p>{{end}}{{with .Run.Meta.Relief}}
<p id="relief" class="fail">{{relief .}}</p>{{end}}

<h2 id="baseline">8. Baseline</h2>
{{with .S.Baseline}}<p>Against {{kindOf .Kind}} run seed {{.Seed}}{{with .Profile}}, profile {{.}}{{end}}{{with .Dir}} ({{.}}){{end}}, which was <b>{{if .Verdict}}GO{{else}}NO-GO{{end}}</b>: <b class="{{if .Regressions}}regression{{else}}pass{{end}}">{{.Regressions}} regressions</b> (latency +10% and +1 ms, shares +0.5 pp, ratios +5%).</p>
<table><tr><th>metric</th><th>this run</th><th>baseline</th><th>change</th><th></th></tr>
{{range .Metrics}}<tr><td>{{.Metric}}</td><td>{{val .Unit .This}}</td><td>{{val .Unit .Other}}</td><td>{{chg .}}</td><td>{{if .Regression}}<span class="regression">REGRESSION</span>{{end}}</td></tr>
{{end}}</table>
{{with $.Charts.BaselineP99}}{{.Element}}{{.Script}}{{end}}
{{else}}<p class="muted">No baseline given. Compare with an earlier run with <code>surge report RUNDIR --baseline OLDRUNDIR</code>.</p>{{end}}

<h2 id="errors">9. Errors, events and the generator{{.Pred}}</h2>
{{if .ErrKinds}}<table><tr><th>error</th>{{range .Names}}<th>{{.}}</th>{{end}}</tr>
{{range $k := .ErrKinds}}<tr><td>{{$k}}</td>{{range $name := $.Names}}<td>{{count $.ErrCount $k $name}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p>No errors.</p>{{end}}
{{with .Charts.Errors}}{{.Element}}{{.Script}}{{end}}
<h3 id="failures">Failed answers, a sample</h3>
{{if .S.Failures}}<table><tr><th class="l">request</th><th class="l">kind</th><th>at (played)</th><th>status</th><th class="l">error / headers</th><th class="l">body (first bytes)</th></tr>
{{range .S.Failures}}<tr><td class="l">{{.Endpoint}}</td><td class="l">{{.Kind}}</td><td>{{at .At}}</td><td>{{if .Status}}{{.Status}}{{else}}-{{end}}</td><td class="l"><pre>{{with .Error}}{{.}}
{{end}}{{.Headers}}</pre></td><td class="l"><pre>{{.Body}}</pre></td></tr>
{{end}}</table><p class="muted">Up to five per request and kind, with credentials redacted; all of them are in results.json.</p>{{else if .S.Overall.Failed}}<p class="muted">{{if .Pred}}A prediction counts its failures ({{.S.Overall.Failed}}, by kind above) but has no answers to show.{{else}}{{.S.Overall.Failed}} answers failed; none was kept as a sample.{{end}}</p>{{else}}<p class="muted">No answer failed.</p>{{end}}
<h3>Events</h3>
{{if .Events}}<table><tr><th class="l">at (played)</th><th class="l">event</th><th class="l">detail</th></tr>
{{range .Events}}<tr><td>{{.At}}</td><td class="l">{{.Kind}}</td><td class="l">{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No events.</p>{{end}}
<h3>Generator health</h3>
{{if eq .Run.Meta.Kind "sim"}}<p class="muted">A prediction has no generator: every arrival is on time by construction.</p>{{else}}
<table><tr><th>sent late by p50</th><th>p99</th><th>max</th><th>users in journey at most</th>{{if .S.Generator.MaxHeld}}<th>connections held at most</th>{{end}}<th>fell behind</th>{{if .S.Generator.ConnWaited}}<th>waited for a connection (--max-conns)</th>{{end}}</tr>
<tr><td>{{dur .S.Generator.LateP50}}</td><td>{{dur .S.Generator.LateP99}}</td><td>{{dur .S.Generator.LateMax}}</td><td>{{.S.Generator.MaxInFlight}}</td>{{if .S.Generator.MaxHeld}}<td>{{.S.Generator.MaxHeld}}</td>{{end}}<td>{{len .S.Generator.BehindAt}} times</td>{{if .S.Generator.ConnWaited}}<td class="fail">{{.S.Generator.ConnWaited}} requests, up to {{dur .S.Generator.ConnWaitMax}}: the client's queue, in their latency</td>{{end}}</tr></table>{{end}}
<details><summary>Text summary</summary><pre>{{.Text}}</pre></details>
<p class="muted">surge report · charts by ECharts ` + EChartsVersion + ` (Apache-2.0), embedded.</p>
</main></body></html>
`
