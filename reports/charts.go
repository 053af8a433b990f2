package reports

import (
	"fmt"
	"html/template"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/spec"
)

// chart is one rendered chart: its pinned ID (the same input gives the same
// page, byte for byte), the element and the script that draws it.
type chart struct {
	ID      string
	Element template.HTML
	Script  template.HTML
}

var notIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

// chartID makes a JavaScript identifier (go-echarts names a variable after
// it) that is stable for the same input.
func chartID(parts ...string) string {
	return "surge_" + notIdent.ReplaceAllString(strings.Join(parts, "_"), "_")
}

// lineChart is a line chart with the report's common look: pinned ID, no
// animation, title, axis tooltip, legend on top; x and y as given.
func lineChart(id, title, height string, x opts.XAxis, y opts.YAxis) *charts.Line {
	c := charts.NewLine()
	c.SetGlobalOptions(
		charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: "100%", Height: height}),
		charts.WithAnimation(false),
		charts.WithTitleOpts(opts.Title{Title: title, TitleStyle: &opts.TextStyle{FontSize: 14}}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "24px"}),
		charts.WithGridOpts(opts.Grid{Top: "70px", Left: "70px", Right: "30px", Bottom: "50px"}),
		charts.WithXAxisOpts(x),
		charts.WithYAxisOpts(y),
	)
	return c
}

// timeAxis is the x axis of every chart over a run: played seconds over
// span, ticked at a round step (10 s, 1 min, 15 min, 1 h ...) and labelled
// once: m:ss of played time (h:mm:ss from the first hour) or, when the
// breaks between the two are known, the scenario's clock, with both in the
// tooltip's header.
type timeAxis struct {
	span   time.Duration
	breaks []arrival.ClockBreak
}

// chart is a line chart over the axis.
func (a timeAxis) chart(id, title, yName string) *charts.Line {
	step := timeStep(a.span)
	name := "played"
	if len(a.breaks) > 1 {
		name = "scenario clock (the tooltip adds the played time)"
	}
	label := &opts.AxisLabel{Formatter: opts.FuncOpts(a.formatter(false))}
	if a.span%step != 0 {
		label.ShowMaxLabel = opts.Bool(false) // the end is no tick: its label would sit on the last one's
	}
	c := lineChart(id, title, "340px", opts.XAxis{Type: "value", Name: name, NameLocation: "middle", NameGap: 30,
		Min: 0, Max: a.span.Seconds(), MinInterval: step.Seconds(), MaxInterval: step.Seconds(), AxisLabel: label,
		AxisPointer: &opts.AxisPointer{Label: &opts.Label{Formatter: string(opts.FuncOpts(a.formatter(true)))}}},
		opts.YAxis{Type: "value", Name: yName})
	c.SetGlobalOptions(charts.WithGridOpts(opts.Grid{Top: "70px", Left: "70px", Right: "30px", Bottom: "56px"}))
	return c
}

// formatter is the axis labels' JavaScript: the played time, or the
// scenario clock interpolated between the breaks; both for the tooltip
// (pointer), whose argument is {value: seconds}.
func (a timeAxis) formatter(pointer bool) string {
	var b strings.Builder
	b.WriteString("[")
	for i, br := range a.breaks {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%g,%g]", br.Played.Seconds(), time.Duration(br.Clock).Seconds())
	}
	b.WriteString("]")
	arg, both := "v", "false"
	if pointer {
		arg, both = "o", "true"
	}
	return `function (` + arg + `) {
			var v = ` + map[bool]string{true: "o.value", false: "v"}[pointer] + `;
			var s = Math.round(v), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, p = function (n) { return String(n).padStart(2, '0'); };
			var played = h > 0 ? h + ':' + p(m) + ':' + p(s % 60) : Math.floor(s / 60) + ':' + p(s % 60);
			var br = ` + b.String() + `;
			if (br.length < 2) { return ` + both + ` ? 'played ' + played : played; }
			var i = 0;
			while (i < br.length - 2 && v >= br[i + 1][0]) { i++; }
			var a = br[i], z = br[i + 1], c = a[1] + (z[0] > a[0] ? (v - a[0]) * (z[1] - a[1]) / (z[0] - a[0]) : 0);
			c = Math.round(c);
			var clock = p(Math.floor(c / 3600) % 24) + ':' + p(Math.floor(c / 60) % 60) + (c % 60 ? ':' + p(c % 60) : '');
			return ` + both + ` ? clock + ' (played ' + played + ')' : clock; }`
}

// timeStep is the round tick step that puts at most about ten ticks on span.
func timeStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if span <= 10*s {
			return s
		}
	}
	return 24 * time.Hour
}

// lineData turns a curve into chart data; scale converts y (1000 for ms),
// gaps are ECharts' "-".
func lineData(ps []point, scale float64) []opts.LineData {
	out := make([]opts.LineData, len(ps))
	for i, p := range ps {
		if math.IsNaN(p.y) {
			out[i] = opts.LineData{Value: []any{p.x, "-"}}
			continue
		}
		out[i] = opts.LineData{Value: []any{p.x, round(p.y * scale)}}
	}
	return out
}

// round keeps four significant digits: enough for a chart, and it keeps
// the page small.
func round(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) {
		return x
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64)
	return v
}

// palette hands out a distinct colour per series of one chart: 20
// colours (ECharts' own nine first), so no two stages of a profile share
// one.
type palette struct{ i int }

var colours = []string{"#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452", "#9a60b4", "#ea7ccc",
	"#1f2328", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#0b5394", "#b45f06", "#38761d", "#990000", "#c27ba0", "#6fa8dc"}

func newPalette() *palette { return &palette{} }

// next is the next colour, as a series option (the line and its legend).
func (p *palette) next() charts.SeriesOpts {
	c := colours[p.i%len(colours)]
	p.i++
	return charts.WithItemStyleOpts(opts.ItemStyle{Color: c})
}

func lineStyle(kind string) charts.SeriesOpts {
	return charts.WithLineStyleOpts(opts.LineStyle{Type: kind, Width: 1.5})
}

func noSymbols() charts.SeriesOpts {
	return charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), ConnectNulls: opts.Bool(false)})
}

// shade marks the fault windows on a chart's first series.
func shade(spans []span) charts.SeriesOpts { return shadeIn(spans, "rgba(198,40,40,0.10)", "#c62828") }

// shadeIn marks spans in a fill and label colour.
func shadeIn(spans []span, fill, text string) charts.SeriesOpts {
	var areas [][]opts.MarkAreaData
	for _, s := range spans {
		areas = append(areas, []opts.MarkAreaData{{Name: s.name, XAxis: s.from}, {XAxis: s.to}})
	}
	return func(s *charts.SingleSeries) {
		if len(areas) == 0 {
			return
		}
		charts.WithMarkAreaData(areas...)(s)
		charts.WithMarkAreaStyleOpts(opts.MarkAreaStyle{ItemStyle: &opts.ItemStyle{Color: fill},
			Label: &opts.Label{Show: opts.Bool(true), Position: "insideTop", Color: text}})(s)
	}
}

// verticals marks moments (surge ends, the first breach) as vertical lines.
func verticals(marks map[string]float64) charts.SeriesOpts {
	return func(s *charts.SingleSeries) {
		for _, name := range spec.SortedKeys(marks) {
			charts.WithMarkLineNameXAxisItemOpts(opts.MarkLineNameXAxisItem{Name: name, XAxis: marks[name]})(s)
		}
		if len(marks) > 0 {
			charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
				Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}"}, LineStyle: &opts.LineStyle{Color: "#555", Type: "dashed"}})(s)
		}
	}
}

// logSpan is the spread of a latency chart's values (its highest over its
// lowest) past which its axis is logarithmic: on a linear axis from 10 ms to
// 5 s everything near a 100 ms SLO is one flat line at the bottom.
const logSpan = 30

// latencyChartAxis is how a latency chart's y axis was chosen.
type latencyChartAxis struct{ log bool }

// latencyAxis sets a latency chart's y axis (ms): logarithmic when the
// curves span more than logSpan, linear otherwise, and high enough that
// every limit line (an SLO, the client's timeout) is inside it.
func latencyAxis(c *charts.Line, lines map[string]float64, curves ...[]point) latencyChartAxis {
	lo, hi := math.Inf(1), 0.0
	for _, cv := range curves {
		for _, p := range cv {
			if !math.IsNaN(p.y) && p.y > 0 {
				lo, hi = math.Min(lo, p.y*1000), math.Max(hi, p.y*1000)
			}
		}
	}
	top := 0.0
	for _, v := range lines {
		top = math.Max(top, v)
	}
	ax := latencyChartAxis{log: hi > 0 && math.Max(hi, top)/lo > logSpan}
	y := opts.YAxis{Type: "value", Name: "ms"}
	if ax.log {
		y.Type, y.Name = "log", "ms (log scale)"
		y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
		y.AxisLabel = &opts.AxisLabel{ShowMaxLabel: opts.Bool(false)} // a round top next to a power of ten crowds it
	}
	if top > 0 {
		// 10% above the higher of the data and the top line, rounded up to
		// a half power of ten, so that the top label is a round number.
		y.Max = opts.FuncOpts(fmt.Sprintf(`function (v) { var m = Math.max(v.max, %g) * 1.1, p = Math.pow(10, Math.floor(Math.log10(m)));
			return Math.ceil(m / p * 2) * p / 2; }`, round(top)))
	}
	c.SetGlobalOptions(charts.WithYAxisOpts(y))
	return ax
}

// data is a latency curve in ms for the axis: on a log axis nothing is
// drawn at or below zero.
func (a latencyChartAxis) data(ps []point) []opts.LineData {
	if !a.log {
		return lineData(ps, 1000)
	}
	out := make([]point, len(ps))
	for i, p := range ps {
		out[i] = p
		if p.y <= 0 {
			out[i].y = math.NaN()
		}
	}
	return lineData(out, 1000)
}

// horizontals draws limits (an SLO's) as horizontal lines.
func horizontals(lines map[string]float64) charts.SeriesOpts {
	return func(s *charts.SingleSeries) {
		for _, name := range spec.SortedKeys(lines) {
			charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: name, YAxis: round(lines[name])})(s)
		}
		if len(lines) > 0 {
			charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
				Label:     &opts.Label{Show: opts.Bool(true), Formatter: "{b}", Position: "insideEndTop"},
				LineStyle: &opts.LineStyle{Color: "#c62828", Type: "dashed"}})(s)
		}
	}
}

// renderLine renders a chart's element and the script that draws it: the
// bytes go-echarts' RenderSnippet writes (a test holds them equal), made
// without it, since it parses its templates anew and runs a regular
// expression over the options three times for every chart: most of a live
// page's redraw.
func renderLine(c *charts.Line) chart {
	c.Validate()
	id, in := c.ChartID, c.Initialization
	opt := unmarkFuncs.Replace(string(c.JSONNotEscaped()))
	el := `<div class="container">
    <div class="item" id="` + template.HTMLEscapeString(id) + `" style="width:` + template.HTMLEscapeString(in.Width) +
		`;height:` + template.HTMLEscapeString(in.Height) + `;"></div>
</div>

    
`
	sc := `<script type="text/javascript">
    "use strict";
    let goecharts_` + id + ` = echarts.init(document.getElementById('` + id + `'), "` + template.HTMLEscapeString(c.Theme) +
		`", { renderer: "` + template.HTMLEscapeString(in.Renderer) + `" });
    let option_` + id + ` = ` + opt + `
    goecharts_` + id + `.setOption(option_` + id + `);
</script>
`
	return chart{ID: id, Element: template.HTML(el), Script: template.HTML(sc)}
}

// unmarkFuncs unquotes the JavaScript functions in go-echarts' options (its
// marker, as its renderer removes it).
var unmarkFuncs = strings.NewReplacer(`__f__"`, "", `"__f__`, "", "__f__", "")

// distributionChart is a latency distribution: latency at each percentile,
// corrected and uncorrected, on a log axis.
func distributionChart(id, title string, corrected, uncorrected []float64) chart {
	c := lineChart(id, title, "300px", opts.XAxis{Type: "category", Name: "percentile", NameLocation: "middle", NameGap: 26},
		opts.YAxis{Type: "log", Name: "ms"})
	c.SetXAxis(percentileLabels())
	toData := func(v []float64) []opts.LineData {
		out := make([]opts.LineData, len(v))
		for i, x := range v {
			out[i] = opts.LineData{Value: round(math.Max(x*1000, 0.001))}
		}
		return out
	}
	c.AddSeries("from intended send (corrected)", toData(corrected))
	c.AddSeries("from actual send (uncorrected)", toData(uncorrected), lineStyle("dashed"))
	return renderLine(c)
}

func msLabel(sec float64) string { return fmt.Sprintf("%.4g ms", sec*1000) }
