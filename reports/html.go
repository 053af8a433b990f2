package reports

import (
	"bytes"
	"html/template"
	"io"

	"github.com/surgekit/surge/scenarios/results"
)

// HTML writes a self-contained HTML page (no external assets) with the
// verdict, the summary table and the gate clauses.
func HTML(w io.Writer, r *results.Run, v Verdict) error {
	var text bytes.Buffer
	Text(&text, r, v)
	return page.Execute(w, map[string]any{"Run": r, "Verdict": v, "Summary": Summarize(r, v), "Text": text.String(),
		"fmt": format})
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(x float64) string { return format("share", x) },
	"dur": func(x float64) string { return fmtDuration(x) },
	"val": format,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>surge: {{.Run.Meta.Scenario}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
.banner{padding:.8em 1.2em;border-radius:6px;font-size:1.4em;font-weight:600;color:#fff}
.go{background:#1a7f37}.nogo{background:#c62828}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.fail{color:#c62828;font-weight:600}.pass{color:#1a7f37}
pre{background:#f6f8fa;padding:1em;overflow:auto}
</style></head><body>
<div class="banner {{if .Verdict.Go}}go{{else}}nogo{{end}}">{{if .Verdict.Go}}GO{{else}}NO-GO{{end}}: {{.Run.Meta.Scenario}}</div>
<p>{{.Run.Meta.Kind}} of scenario <b>{{.Run.Meta.Scenario}}</b>, seed {{.Run.Meta.Seed}}{{with .Run.Meta.Profile}}, profile <b>{{.}}</b>{{end}};
played {{.Run.Meta.Elapsed}} of {{.Run.Meta.Planned}}; ended: {{.Run.Meta.Ended}}.</p>
<h2>Gate</h2>
<table><tr><th>clause</th><th>measured</th><th>limit</th><th>margin</th><th></th></tr>
{{range .Verdict.Clauses}}<tr><td>{{.Clause}}</td><td>{{val .Unit .Measured}}</td><td>{{val .Unit .Limit}}</td><td>{{if .Note}}{{.Note}}{{else}}{{val .Unit .Margin}}{{end}}</td>
<td class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}PASS{{else}}FAIL{{end}}</td></tr>
{{end}}</table>
<h2>Requests</h2>
<table><tr><th>request</th><th>offered</th><th>attempted</th><th>ok</th><th>errors</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>p99 uncorrected</th></tr>
{{range $name, $e := .Summary.Endpoints}}<tr><td>{{$name}}</td><td>{{$e.Offered}}</td><td>{{$e.Attempted}}</td><td>{{$e.Succeeded}}</td><td>{{pct $e.ErrorRate}}</td>
<td>{{dur $e.P50}}</td><td>{{dur $e.P95}}</td><td>{{dur $e.P99}}</td><td>{{dur $e.P999}}</td><td>{{dur $e.Max}}</td><td>{{dur $e.P99Uncorr}}</td></tr>
{{end}}</table>
<h2>Summary</h2><pre>{{.Text}}</pre>
</body></html>
`))
