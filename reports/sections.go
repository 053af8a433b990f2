package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// endpointView is one request's latency section.
type endpointView struct {
	Name               string
	Over, Distribution chart
}

// chartSet holds every chart of the report, in reading order.
type chartSet struct {
	Traffic, Errors     *chart
	Returns             *chart // users coming back later (day.go)
	Endpoints           []endpointView
	Utilization, Queues *chart
	Shed                *chart
	PredRate, PredUtil  *chart
	PredLatency         []chart
	BaselineP99         *chart
	Busiest             string // what the traffic chart's pin is
	all                 []chart
}

func (cs *chartSet) add(c chart) *chart {
	cs.all = append(cs.all, c)
	return &c
}

// charting is what every chart of one report shares: its time axis, the
// fault windows it shades and the moments it marks.
type charting struct {
	rep   *Report
	sum   *Summary
	axis  timeAxis
	spans []span
	marks map[string]float64
}

// buildCharts draws the report's charts, section by section.
func buildCharts(rep *Report, sum *Summary) chartSet {
	r := rep.Run
	c := &charting{rep: rep, sum: sum, spans: faultSpans(r), marks: map[string]float64{},
		axis: timeAxis{span: max(r.Meta.Planned, r.Meta.Elapsed)}}
	if rep.Scenario != nil {
		c.axis.breaks = arrival.New(rep.Scenario).ClockBreaks()
	}
	for _, ev := range r.Events {
		if ev.Kind == "surge-end" {
			c.marks["surge end"] = ev.At.Seconds()
		}
	}
	if len(sum.FirstBreaches) > 0 {
		c.marks["first breach"] = sum.FirstBreaches[0].At.Seconds()
	}
	var cs chartSet
	c.traffic(&cs)
	c.returns(&cs)
	c.latency(&cs)
	c.stages(&cs)
	c.prediction(&cs)
	c.baseline(&cs)
	return cs
}

// traffic is section 3's chart and section 9's errors by kind. The
// errors are plain lines, one per kind: stacked areas on a value axis
// stack along time, not along the rate.
func (c *charting) traffic(cs *chartSet) {
	r := c.rep.Run
	if len(r.Endpoints) == 0 {
		return
	}
	t := trafficCurves(r)
	ch := c.axis.chart(chartID("traffic"), "Traffic (per second)", "per s")
	pal := newPalette()
	ch.AddSeries("offered (first attempts)", lineData(t.offered, 1), noSymbols(), pal.next(), shade(c.spans), verticals(c.marks),
		busiest(windowsOf(r).width()))
	ch.AddSeries("attempted (with retries)", lineData(t.attempted, 1), noSymbols(), pal.next())
	// succeeded is drawn wide and pale under goodput's dashes: where the two
	// run together both stay visible.
	ch.AddSeries("succeeded", lineData(t.succeeded, 1), noSymbols(), pal.next(),
		charts.WithLineStyleOpts(opts.LineStyle{Width: 5, Opacity: opts.Float(0.45)}))
	ch.AddSeries("goodput (users done, by arrival)", lineData(t.goodput, 1), noSymbols(), pal.next(), lineStyle("dashed"))
	cs.Traffic = cs.add(renderLine(ch))
	cs.Busiest = busiestText(r, t.offered, c.sum)
	if len(t.errors) == 0 {
		return
	}
	ch = c.axis.chart(chartID("errors"), "Errors by kind (per second)", "per s")
	pal = newPalette()
	for i, k := range spec.SortedKeys(t.errors) {
		o := []charts.SeriesOpts{noSymbols(), pal.next()}
		if i == 0 {
			o = append(o, shade(c.spans))
		}
		ch.AddSeries(k, lineData(t.errors[k], 1), o...)
	}
	cs.Errors = cs.add(renderLine(ch))
}

// busiest pins the offered series' highest window and says what it is: the
// busiest window of first attempts, which chance puts above a smooth
// forecast (the page's caption gives the forecast beside it).
func busiest(width time.Duration) charts.SeriesOpts {
	return func(s *charts.SingleSeries) {
		charts.WithMarkPointNameTypeItemOpts(opts.MarkPointNameTypeItem{Name: "busiest " + fmtDuration(width.Seconds()), Type: "max"})(s)
		charts.WithMarkPointStyleOpts(opts.MarkPointStyle{SymbolSize: 30, Label: &opts.Label{Show: opts.Bool(true), Position: "right",
			Formatter: "{b}: {c}/s", Color: "#1f2328"}})(s)
	}
}

// busiestText says what the pin shows, beside the forecast it may seem to
// contradict ("" with no requests).
func busiestText(r *results.Run, offered []point, sum *Summary) string {
	top := 0.0
	for _, p := range offered {
		if !math.IsNaN(p.y) {
			top = math.Max(top, p.y)
		}
	}
	if top == 0 {
		return ""
	}
	out := fmt.Sprintf("The pin is the busiest %s of first attempts, %.4g/s.", fmtDuration(windowsOf(r).width().Seconds()), round(top))
	f := sum.Forecast
	if f == nil || f.PeakUsers <= 0 || sum.Users.Arrived == 0 {
		return out
	}
	per := float64(sum.Overall.Offered) / float64(sum.Users.Arrived)
	return out + fmt.Sprintf(" The forecast's peak is %.4g users/s (at %s played), and a user made %.2g first requests, about %.4g/s:"+
		" the busiest window differs from that by chance (arrivals are random) and by how a user's requests spread over its journey.", round(f.PeakUsers), fmtDuration(f.AtPlayed.Seconds()),
		per, round(f.PeakUsers*per))
}

// latency is section 4: per request, its percentiles over time (of the
// successful answers, with the failed ones' p99 a click away) and its
// distribution.
func (c *charting) latency(cs *chartSet) {
	r := c.rep.Run
	for i, name := range c.sum.Names {
		e := r.Endpoints[name]
		ec := endpointCurves(r, e)
		ch := c.axis.chart(chartID("latency", fmt.Sprint(i), name), name+": latency from intended send (ms)", "ms")
		ch.SetGlobalOptions(charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "24px",
			Selected: map[string]bool{"p99 uncorrected": false, "p99 of failed answers": false}}))
		lines := sloLines(c.rep.Scenario, name)
		if cut := c.sum.Cut[name]; cut > 0 {
			lines["client timeout "+fmtDuration(cut)] = cut * 1000
		}
		ax := latencyAxis(ch, lines, ec.p50, ec.p95, ec.p99)
		pal := newPalette()
		ch.AddSeries("p50", ax.data(ec.p50), noSymbols(), pal.next(), shade(c.spans), horizontals(lines))
		ch.AddSeries("p95", ax.data(ec.p95), noSymbols(), pal.next())
		ch.AddSeries("p99", ax.data(ec.p99), noSymbols(), pal.next())
		ch.AddSeries("p99 uncorrected", ax.data(ec.p99u), noSymbols(), pal.next(), lineStyle("dotted"))
		ch.AddSeries("p99 of failed answers", ax.data(ec.p99f), noSymbols(), pal.next(), lineStyle("dashed"))
		ev := endpointView{Name: name, Over: renderLine(ch)}
		ev.Distribution = distributionChart(chartID("dist", fmt.Sprint(i), name), name+": latency distribution of the successful answers, whole run (ms)",
			spectrumOf(e.Total.Latency), spectrumOf(e.Total.Service))
		cs.all = append(cs.all, ev.Over, ev.Distribution)
		cs.Endpoints = append(cs.Endpoints, ev)
	}
}

// stages is section 5: utilisation, queues and shedding per stage, each
// stage in its own colour.
func (c *charting) stages(cs *chartSet) {
	stages := c.sum.Stages
	if len(stages) == 0 {
		return
	}
	u := c.axis.chart(chartID("stage_util"), "Utilisation per stage", "busy share")
	q := c.axis.chart(chartID("stage_queue"), "Queue length per stage", "waiting")
	sh := c.axis.chart(chartID("stage_shed"), "Shed per stage (per second)", "per s")
	pal := newPalette()
	for i, f := range stages {
		var up, qp, sp []point
		for _, p := range f.points {
			up, qp, sp = append(up, point{p.at, p.util}), append(qp, point{p.at, p.queue}), append(sp, point{p.at, p.shedRate})
		}
		col := pal.next()
		o := []charts.SeriesOpts{noSymbols(), col}
		if i == 0 {
			o = append(o, shade(c.spans))
		}
		u.AddSeries(f.Stage, lineData(up, 1), o...)
		q.AddSeries(f.Stage, lineData(qp, 1), o...)
		sh.AddSeries(f.Stage, lineData(sp, 1), o...)
	}
	cs.Utilization, cs.Queues, cs.Shed = cs.add(renderLine(u)), cs.add(renderLine(q)), cs.add(renderLine(sh))
}

// prediction is section 6: the measurement with the prediction overlaid.
func (c *charting) prediction(cs *chartSet) {
	p := c.rep.Prediction
	if p == nil {
		return
	}
	r := c.rep.Run
	mt, pt := trafficCurves(r), trafficCurves(p.Run)
	ch := c.axis.chart(chartID("pred_rate"), "Attempted per second: measured vs predicted", "per s")
	pal := newPalette()
	ch.AddSeries("measured", lineData(mt.attempted, 1), noSymbols(), pal.next(), shade(c.spans))
	ch.AddSeries("predicted", lineData(pt.attempted, 1), noSymbols(), pal.next(), lineStyle("dashed"))
	cs.PredRate = cs.add(renderLine(ch))
	for i, name := range c.sum.Names {
		pe := p.Run.Endpoints[name]
		if pe == nil {
			continue
		}
		ch := c.axis.chart(chartID("pred_p99", fmt.Sprint(i), name), name+": p99 measured vs predicted (ms)", "ms")
		slo := sloLines(c.rep.Scenario, name)
		measured, predicted := endpointCurves(r, r.Endpoints[name]).p99, endpointCurves(p.Run, pe).p99
		ax := latencyAxis(ch, slo, measured, predicted)
		pal := newPalette()
		ch.AddSeries("measured p99", ax.data(measured), noSymbols(), pal.next(), horizontals(slo))
		ch.AddSeries("predicted p99", ax.data(predicted), noSymbols(), pal.next(), lineStyle("dashed"))
		cs.PredLatency = append(cs.PredLatency, renderLine(ch))
		cs.all = append(cs.all, cs.PredLatency[len(cs.PredLatency)-1])
	}
	ps := stageFigures(p.Run)
	if len(ps) == 0 || len(c.sum.Stages) == 0 {
		return
	}
	ch = c.axis.chart(chartID("pred_util"), "Utilisation: measured (solid) vs predicted (dashed)", "busy share")
	pal = newPalette()
	colour := map[string]charts.SeriesOpts{} // a stage's two curves share its colour
	colourOf := func(stage string) charts.SeriesOpts {
		if _, ok := colour[stage]; !ok {
			colour[stage] = pal.next()
		}
		return colour[stage]
	}
	for _, f := range c.sum.Stages {
		ch.AddSeries(f.Stage+" measured", lineData(f.utilCurve(), 1), noSymbols(), colourOf(f.Stage))
	}
	for _, f := range ps {
		ch.AddSeries(f.Stage+" predicted", lineData(f.utilCurve(), 1), noSymbols(), colourOf(f.Stage), lineStyle("dashed"))
	}
	cs.PredUtil = cs.add(renderLine(ch))
}

// baseline is section 8: this run's p99 against the baseline's.
func (c *charting) baseline(cs *chartSet) {
	b := c.rep.Baseline
	if b == nil {
		return
	}
	r := c.rep.Run
	ch := c.axis.chart(chartID("baseline_p99"), "p99 over time: this run (solid) vs baseline (dashed), ms", "ms")
	pal := newPalette()
	for _, name := range c.sum.Names {
		col := pal.next()
		ch.AddSeries(name, lineData(endpointCurves(r, r.Endpoints[name]).p99, 1000), noSymbols(), col)
		if be := b.Run.Endpoints[name]; be != nil {
			ch.AddSeries(name+" baseline", lineData(endpointCurves(b.Run, be).p99, 1000), noSymbols(), col, lineStyle("dashed"))
		}
	}
	cs.BaselineP99 = cs.add(renderLine(ch))
}
