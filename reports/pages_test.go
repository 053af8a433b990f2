package reports

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/surgekit/surge/scenarios/results"
)

// steadyRun is 1 s buckets of 20 attempts each over n seconds; ok(b) says
// whether bucket b's attempts succeed (else they time out at lat).
func steadyRun(n int, ok func(b int) bool, lat time.Duration) *results.Run {
	r := results.New(results.Meta{Scenario: "r", Kind: "run", Bucket: time.Second, Planned: time.Duration(n) * time.Second,
		Elapsed: time.Duration(n) * time.Second, Complete: true, Ended: "done"})
	for b := range n {
		for i := range 20 {
			o := results.Outcome{At: time.Duration(b)*time.Second + time.Duration(i)*50*time.Millisecond, Corrected: 20 * time.Millisecond, First: true}
			if !ok(b) {
				o.Corrected, o.Err = lat, "timeout"
			}
			r.Record("qr", o)
		}
	}
	return r
}

// A run whose successes stop says so in its banner (and its text), with
// when; a stretch that recovers says when it ended; a short one is chance.
func TestBannerSaysWhenSuccessesStop(t *testing.T) {
	cases := []struct {
		name string
		ok   func(int) bool
		want string // "" when no outage is said
	}{
		{"down from 60 s to the end", func(b int) bool { return b < 60 }, "no successes from 1m0s to the end; never recovered (1200 requests tried)"},
		{"down 30 s, then back", func(b int) bool { return b < 40 || b >= 70 }, "no successes from 40.00s to 1m10s (30.00s; 600 requests tried)"},
		{"5 s without is chance", func(b int) bool { return b < 40 || b >= 45 }, ""},
		{"never up", func(int) bool { return false }, "not one request succeeded (2400 tried)"},
	}
	for _, c := range cases {
		l := &Loaded{Run: steadyRun(120, c.ok, 10*time.Second)}
		var page, text bytes.Buffer
		if err := HTML(&page, &Report{Loaded: l}); err != nil {
			t.Fatal(err)
		}
		if err := Text(&text, &Report{Loaded: l}); err != nil {
			t.Fatal(err)
		}
		banner := page.String()[strings.Index(page.String(), `id="verdict"`):]
		banner = banner[:strings.Index(banner, "</div>")]
		if c.want == "" {
			if strings.Contains(banner, "no successes") || strings.Contains(text.String(), "DOWN:") {
				t.Errorf("%s: an outage is said: %s", c.name, banner)
			}
			continue
		}
		if !strings.Contains(banner, `<small class="outage">`+c.want+`</small>`) {
			t.Errorf("%s: banner %q, want %q", c.name, banner, c.want)
		}
		if !strings.Contains(text.String(), "DOWN: "+c.want) {
			t.Errorf("%s: the text summary does not say %q:\n%s", c.name, c.want, text.String())
		}
	}
}

// A latency chart spanning 10 ms to 5 s is on a log axis whose range holds
// the SLO line; one within a factor of 30 stays linear, its top above the
// SLO too.
func TestLatencyAxisIsReadableNearTheSLO(t *testing.T) {
	curve := func(lo, hi float64) []point {
		var ps []point
		for i := range 60 {
			ps = append(ps, point{float64(i), lo + (hi-lo)*float64(i)/59})
		}
		return append(ps, point{60, math.NaN()})
	}
	cases := []struct {
		name   string
		lo, hi float64 // seconds
		slo    float64 // ms
		log    bool
		min    float64
	}{
		{"10 ms to 5 s", 0.010, 5, 100, true, 10},
		{"3 ms to 900 ms, SLO 2 s", 0.003, 0.9, 2000, true, 1},
		{"40 ms to 600 ms", 0.040, 0.6, 500, false, 0},
		{"20 ms to 200 ms, SLO 5 s: the line is far above", 0.020, 0.2, 5000, true, 10},
		{"20 ms to 200 ms, SLO 400 ms", 0.020, 0.2, 400, false, 0},
	}
	for _, c := range cases {
		ch := charts.NewLine()
		ax := latencyAxis(ch, map[string]float64{"SLO": c.slo}, curve(c.lo, c.hi))
		y := ch.YAxisList[0]
		if ax.log != c.log || (y.Type == "log") != c.log {
			t.Errorf("%s: log axis %v (type %q), want %v", c.name, ax.log, y.Type, c.log)
		}
		if c.log && y.Min != c.min {
			t.Errorf("%s: log axis from %v ms, want %v (the power of ten under the lowest value)", c.name, y.Min, c.min)
		}
		if top := fmt.Sprint(y.Max); !strings.Contains(top, fmt.Sprintf("Math.max(v.max, %g)", c.slo)) {
			t.Errorf("%s: the axis top %q does not reach the SLO %v", c.name, top, c.slo)
		}
		for _, d := range ax.data(curve(0, c.hi)) {
			if v, ok := d.Value.(float64); ok && c.log && v <= 0 {
				t.Errorf("%s: %v drawn on a log axis", c.name, v)
			}
		}
	}
}

// The capacity steps table is in rate order (identification steps after),
// the knee's row marked, every clause a step broke listed, its error
// share beside; the text table says the same.
func TestCapacityStepsTableInRateOrder(t *testing.T) {
	fail := func(clause string, v float64) ClauseResult {
		return ClauseResult{Clause: clause, Unit: "share", Measured: v, Status: StatusFail}
	}
	step := func(offered float64, pass bool, broke string, clauses ...ClauseResult) CapacityStep {
		return CapacityStep{Offered: offered, Achieved: offered, Requests: 2 * offered, Answered: 2 * offered,
			Goodput: 2 * offered * map[bool]float64{true: 1, false: 0.75}[pass], Pass: pass, Broke: broke, Clauses: clauses,
			Endpoints: map[string]CapacityEndpoint{"qr": {Goodput: offered, P95: 0.1}}}
	}
	c := &Capacity{Scenario: "s", Mode: "sim", Knee: Knee{ArrivalsPerS: 200, Found: true}, Ended: "found", Steps: []CapacityStep{
		step(100, true, ""),
		step(400, false, "errors <= 1% (measured 25.00%), worst on qr", fail("errors <= 1%", 0.25), fail("timeout <= 1%", 0.2)),
		step(200, true, ""),
		{Offered: 150, Mix: "only cohort a", Endpoints: map[string]CapacityEndpoint{"qr": {}}},
		step(300, false, "errors <= 1% (measured 25.00%), worst on qr", fail("errors <= 1%", 0.25)),
	}}
	c.Steps[1].ConnWaited = 812 // the 400/s step's requests waited for the generator's connections
	// The 100/s and 300/s steps ended as soon as their verdicts were decided.
	c.Steps[0].Length, c.Steps[0].Planned = 7*time.Second, time.Minute
	c.Steps[4].Length, c.Steps[4].Planned = 12*time.Second, 2*time.Minute
	rows := stepRows(c)
	var order []float64
	for _, r := range rows {
		order = append(order, r.Offered)
	}
	if fmt.Sprint(order) != "[100 200 300 400 150]" {
		t.Errorf("rows in the order %v, want [100 200 300 400 150] (rate order, identification last)", order)
	}
	if !rows[1].Knee || rows[0].Knee || rows[2].Knee {
		t.Errorf("knee rows %v %v %v, want the 200/s step only", rows[0].Knee, rows[1].Knee, rows[2].Knee)
	}
	if len(rows[3].Broken) != 2 || !strings.Contains(rows[3].Broken[1], "timeout <= 1% (measured 20.00%)") {
		t.Errorf("the 400/s step broke %q, want both clauses", rows[3].Broken)
	}
	if math.Abs(rows[3].ErrShare-0.25) > 1e-9 || rows[0].ErrShare != 0 {
		t.Errorf("error shares %v and %v, want 25%% and 0", rows[3].ErrShare, rows[0].ErrShare)
	}
	var page, text bytes.Buffer
	if err := CapacityHTML(&page, c, nil); err != nil {
		t.Fatal(err)
	}
	CapacityText(&text, c)
	html := page.String()
	table := html[strings.Index(html, `id="steps-table"`):]
	table = table[:strings.Index(table, "</table>")]
	if !strings.Contains(table, `<tr class="knee"><td>200</td>`) || !strings.Contains(table, "PASS: the knee") || strings.Count(table, "PASS: the knee") != 1 {
		t.Errorf("the knee row is not marked:\n%s", table)
	}
	if !strings.Contains(table, `<tr class="broke"><td colspan="10">broke: errors &lt;= 1% (measured 25.00%), worst on qr · timeout &lt;= 1% (measured 20.00%)</td></tr>`) {
		t.Errorf("the 400/s row does not list both broken clauses:\n%s", table)
	}
	if strings.Index(table, "<tr><td>300</td>") > strings.Index(table, "<tr><td>400</td>") || !strings.Contains(table, "<td>25.00%</td>") {
		t.Errorf("rows out of rate order or no error share:\n%s", table)
	}
	if !strings.Contains(text.String(), "PASS (the knee)") || !strings.Contains(text.String(), "; timeout <= 1% (measured 20.00%)") {
		t.Errorf("the text table does not mark the knee or list every broken clause:\n%s", text.String())
	}
	// A step decided early says so in the row beneath it (after what it
	// broke), not in its verdict's cell.
	for _, want := range []string{
		`<td class="l pass">PASS</td></tr>
<tr class="broke"><td colspan="10"><span class="muted">decided after 7s of the 1m planned</span></td></tr>`,
		`<td class="l fail">FAIL</td></tr>
<tr class="broke"><td colspan="10">broke: errors &lt;= 1% (measured 25.00%), worst on qr · <span class="muted">decided after 12s of the 2m planned</span></td></tr>`,
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the page does not say when a step was decided as\n%s\nin:\n%s", want, table)
		}
	}
	if !strings.Contains(text.String(), "(decided after 7s of the 1m planned)") {
		t.Errorf("the text table does not say when the 100/s step was decided:\n%s", text.String())
	}
	const waited = "812 requests waited for one of the generator's connections"
	if strings.Count(table, waited) != 1 || strings.Count(text.String(), waited) != 1 {
		t.Errorf("the 400/s step's wait for connections is not said once on the page and in the text:\n%s\n%s", table, text.String())
	}
}

// A prediction's page says so in its banner and headings, and says that
// it has no failed answers to show (not that none were sampled); a
// measured page has no "predicted" heading.
func TestPredictedPageLooksPredicted(t *testing.T) {
	for _, kind := range []string{"sim", "run"} {
		r := steadyRun(60, func(b int) bool { return b%2 == 0 }, 2*time.Second)
		r.Meta.Kind = kind
		var page bytes.Buffer
		if err := HTML(&page, &Report{Loaded: &Loaded{Run: r}}); err != nil {
			t.Fatal(err)
		}
		html := page.String()
		pred := kind == "sim"
		for _, h := range []string{"Traffic, predicted</h2>", "Latency, predicted</h2>", "Errors, events and the generator, predicted</h2>",
			"(predicted): r\n", "banner none predicted", "A prediction counts its failures (600, by kind above)"} {
			if strings.Contains(html, h) != pred {
				t.Errorf("%s page: %q shown %v, want %v", kind, h, !pred, pred)
			}
		}
		if strings.Contains(html, "No failed answers were sampled") {
			t.Errorf("%s page: says no failed answers were sampled where %d failed", kind, r.Overall().Failed())
		}
		if !pred && !strings.Contains(html, "600 answers failed; none was kept as a sample.") {
			t.Errorf("run page: does not say its failures were not sampled")
		}
	}
}

// A fault that ends shortly before the run does is "not judged", not "not
// recovered"; one followed by twice the hold of bad answers is not
// recovered, in so many seconds.
func TestRecoveryNotJudgedInTheTimeLeft(t *testing.T) {
	s := recoveryScenario(t) // hold 3 s, recovery <= 5s
	slow := func(int) time.Duration { return 3 * time.Second }
	for _, c := range []struct {
		n            int
		judged, pass bool
		html, text   string
	}{
		{12, false, false, "not judged: 4.00s left", "not judged: the run went on 4.00s after it"},
		{20, true, false, "not recovered in the 12.00s left", "not recovered in the 12.00s the run went on"},
	} {
		r := timeline(c.n, slow, func(int) float64 { return 1 })
		recs := Recoveries(s, r)
		if len(recs) != 1 || recs[0].Judged != c.judged || recs[0].Recovered {
			t.Fatalf("%d s: %+v, want judged %v, not recovered", c.n, recs, c.judged)
		}
		rep := &Report{Loaded: &Loaded{Run: r, Scenario: s, Verdict: Evaluate(s, r)}}
		var page, text bytes.Buffer
		HTML(&page, rep)
		Text(&text, rep)
		if !strings.Contains(page.String(), c.html) || !strings.Contains(text.String(), c.text) {
			t.Errorf("%d s: the page or the text does not say %q / %q:\n%s", c.n, c.html, c.text, text.String())
		}
		if rc := rep.Verdict.Clauses[1]; (c.n == 12 && rc.Evaluated()) || (c.n == 20 && (rc.Pass || !rc.Evaluated())) {
			t.Errorf("%d s: the recovery clause %+v", c.n, rc)
		}
	}
}

// renderLine writes what go-echarts' own renderer writes, byte for byte,
// for every kind of chart the pages draw (functions in the options, log
// and category axes, mark lines and areas).
func TestRenderLineIsGoEchartsOwn(t *testing.T) {
	r := syntheticRun(1, "run", 1, 6*time.Minute, time.Second)
	rep := &Report{Loaded: &Loaded{Run: r}}
	sum := Summarize(rep)
	c := &charting{rep: rep, sum: &sum, spans: faultSpans(r), marks: map[string]float64{"surge end": 200},
		axis: timeAxis{span: r.Meta.Planned}}
	lines := []*charts.Line{c.axis.chart("surge_a", "a", "ms"), distributionLine("surge_b")}
	ch := c.axis.chart("surge_c", "c (ms)", "ms")
	ax := latencyAxis(ch, map[string]float64{"SLO": 100}, []point{{0, 0.01}, {1, 5}})
	ch.AddSeries("p50", ax.data([]point{{0, 0.01}, {1, 5}}), noSymbols(), shade([]span{{"f", 1, 2}}), horizontals(map[string]float64{"SLO": 100}))
	lines = append(lines, ch)
	lines[0].AddSeries("x", lineData([]point{{0, 1}, {1, math.NaN()}}, 1), busiest(time.Second), verticals(c.marks))
	for _, l := range lines {
		mine := renderLine(l)
		theirs := l.RenderSnippet()
		if string(mine.Element) != theirs.Element || string(mine.Script) != theirs.Script {
			t.Errorf("%s: renderLine differs from go-echarts' at %s", l.ChartID, firstDiff(string(mine.Element+mine.Script), theirs.Element+theirs.Script))
		}
	}
}

func distributionLine(id string) *charts.Line {
	c := lineChart(id, "d", "300px", opts.XAxis{Type: "category"}, opts.YAxis{Type: "log"})
	c.SetXAxis(percentileLabels())
	c.AddSeries("d", []opts.LineData{{Value: 1.0}, {Value: 2.0}})
	return c
}
