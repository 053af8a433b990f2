package reports

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// Forecast is the scenario's expected peak arrival rate (all streams).
type Forecast struct {
	PeakUsers float64         `json:"peak_users_per_s"`
	At        scenarios.Clock `json:"at"`
	AtPlayed  time.Duration   `json:"at_played_ns"`
	Users     float64         `json:"expected_users"`
}

func forecast(s *scenarios.Scenario) *Forecast {
	if s == nil {
		return nil
	}
	p := arrival.New(s)
	f := &Forecast{}
	step := max(time.Second, p.Played()/2000)
	for t := time.Duration(0); t < p.Played(); t += step {
		rate := 0.0
		for k := range p.Streams() {
			rate += p.Rate(k, t)
		}
		if rate > f.PeakUsers {
			f.PeakUsers, f.AtPlayed, f.At = rate, t, p.Clock(t)
		}
	}
	for k := range p.Streams() {
		f.Users += p.Expected(k, 0, p.Played())
	}
	return f
}

// describe is the scenario in one paragraph.
func describe(l *Loaded, f *Forecast) string {
	m := l.Run.Meta
	var b strings.Builder
	what := map[string]string{"sim": "Prediction (simulated)", "run": "Measured run"}[m.Kind]
	if what == "" {
		what = "Run"
	}
	fmt.Fprintf(&b, "%s of scenario %s, seed %d", what, m.Scenario, m.Seed)
	if m.Profile != "" {
		fmt.Fprintf(&b, ", against the %s profile", m.Profile)
	} else if m.Target != "" {
		fmt.Fprintf(&b, ", against %s", m.Target)
	}
	fmt.Fprintf(&b, "; played %s of %s", fmtDuration(m.Elapsed.Seconds()), fmtDuration(m.Planned.Seconds()))
	if !m.Started.IsZero() {
		fmt.Fprintf(&b, ", started %s", m.Started.UTC().Format("2006-01-02 15:04 UTC"))
	}
	b.WriteString(".")
	s := l.Scenario
	if s == nil {
		return b.String()
	}
	if s.Description != "" {
		fmt.Fprintf(&b, " %s", strings.TrimSpace(strings.SplitN(s.Description, "\n", 2)[0]))
	}
	a := s.Arrivals
	end := scenarios.Clock(time.Duration(a.Start) + time.Duration(len(a.Profile))*a.Bucket)
	fmt.Fprintf(&b, " Window %s-%s (%d buckets of %v), %s arrivals at scale %s", a.Start, end, len(a.Profile), a.Bucket,
		a.Process, s.Scale)
	if s.Compression != nil && s.Compression.Factor > 1 {
		fmt.Fprintf(&b, ", compressed %gx", s.Compression.Factor)
		if s.Compression.Realtime != nil {
			fmt.Fprintf(&b, " outside %s-%s", s.Compression.Realtime.From, s.Compression.Realtime.To)
		}
	}
	b.WriteString(".")
	if len(s.Cohorts) > 0 {
		var cs []string
		for _, c := range s.Cohorts {
			share := "timed shares"
			if c.Share != nil {
				share = c.Share.String()
			}
			cs = append(cs, fmt.Sprintf("%s %s (%s)", c.Name, share, c.Journey))
		}
		fmt.Fprintf(&b, " Cohorts: %s.", strings.Join(cs, ", "))
	}
	if len(s.Faults) > 0 {
		var fs []string
		for _, x := range s.Faults {
			fs = append(fs, x.Name)
		}
		fmt.Fprintf(&b, " Faults: %s.", strings.Join(fs, ", "))
	}
	if f != nil {
		fmt.Fprintf(&b, " Forecast: %.0f users expected, peaking at %.1f users/s at %s (played %s).", f.Users, f.PeakUsers, f.At,
			fmtDuration(f.AtPlayed.Seconds()))
	}
	return b.String()
}

// endpointView is one request's latency section.
type endpointView struct {
	Name               string
	Over, Distribution chart
}

// chartSet holds every chart of the report, in reading order.
type chartSet struct {
	Traffic, Errors     *chart
	Endpoints           []endpointView
	Utilization, Queues *chart
	Shed                *chart
	PredRate, PredUtil  *chart
	PredLatency         []chart
	BaselineP99         *chart
	all                 []chart
}

func (cs *chartSet) add(c chart) *chart {
	cs.all = append(cs.all, c)
	return &c
}

// buildCharts draws the report's charts.
func buildCharts(rep *Report, first []FirstBreach, stages []*StageFigures) chartSet {
	var cs chartSet
	r := rep.Run
	spans := faultSpans(r)
	span := max(r.Meta.Planned, r.Meta.Elapsed)
	marks := map[string]float64{}
	for _, ev := range r.Events {
		if ev.Kind == "surge-end" {
			marks["surge end"] = ev.At.Seconds()
		}
	}
	if len(first) > 0 {
		marks["first breach"] = first[0].At.Seconds()
	}
	if len(r.Endpoints) > 0 {
		t := trafficCurves(r)
		c := timeChart(chartID("traffic"), "Traffic (per second)", "per s", span)
		c.AddSeries("offered (first attempts)", lineData(t.offered, 1), noSymbols(), shade(spans), verticals(marks),
			charts.WithMarkPointNameTypeItemOpts(opts.MarkPointNameTypeItem{Name: "peak", Type: "max"}))
		c.AddSeries("attempted (with retries)", lineData(t.attempted, 1), noSymbols())
		c.AddSeries("succeeded", lineData(t.succeeded, 1), noSymbols())
		c.AddSeries("goodput (users done, by arrival)", lineData(t.goodput, 1), noSymbols(), lineStyle("dashed"))
		cs.Traffic = cs.add(renderLine(c))
		if len(t.errors) > 0 {
			c := timeChart(chartID("errors"), "Errors by kind (per second)", "per s", span)
			for i, k := range sortedKeys(t.errors) {
				o := []charts.SeriesOpts{noSymbols(), charts.WithLineChartOpts(opts.LineChart{Stack: "errors", ShowSymbol: opts.Bool(false)}),
					charts.WithAreaStyleOpts(opts.AreaStyle{Opacity: opts.Float(0.4)})}
				if i == 0 {
					o = append(o, shade(spans))
				}
				c.AddSeries(k, lineData(t.errors[k], 1), o...)
			}
			cs.Errors = cs.add(renderLine(c))
		}
	}
	for i, name := range r.EndpointNames() {
		e := r.Endpoints[name]
		ec := endpointCurves(r, e)
		id := chartID("latency", fmt.Sprint(i), name)
		c := timeChart(id, name+": latency from intended send (ms)", "ms", span)
		c.SetGlobalOptions(charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "24px",
			Selected: map[string]bool{"p99 uncorrected": false}}))
		slo := sloLines(rep.Scenario, name)
		fitLimits(c, "ms", slo)
		c.AddSeries("p50", lineData(ec.p50, 1000), noSymbols(), shade(spans), horizontals(slo))
		c.AddSeries("p95", lineData(ec.p95, 1000), noSymbols())
		c.AddSeries("p99", lineData(ec.p99, 1000), noSymbols())
		c.AddSeries("p99 uncorrected", lineData(ec.p99u, 1000), noSymbols(), lineStyle("dotted"))
		ev := endpointView{Name: name, Over: renderLine(c)}
		ev.Distribution = distributionChart(chartID("dist", fmt.Sprint(i), name), name+": latency distribution, whole run (ms)",
			spectrumOf(e.Total.Latency), spectrumOf(e.Total.Service))
		cs.all = append(cs.all, ev.Over, ev.Distribution)
		cs.Endpoints = append(cs.Endpoints, ev)
	}
	if len(stages) > 0 {
		u := timeChart(chartID("stage_util"), "Utilisation per stage", "busy share", span)
		q := timeChart(chartID("stage_queue"), "Queue length per stage", "waiting", span)
		sh := timeChart(chartID("stage_shed"), "Shed per stage (per second)", "per s", span)
		for i, f := range stages {
			var up, qp, sp []point
			for _, p := range f.points {
				up, qp, sp = append(up, point{p.at, p.util}), append(qp, point{p.at, p.queue}), append(sp, point{p.at, p.shedRate})
			}
			o := []charts.SeriesOpts{noSymbols()}
			if i == 0 {
				o = append(o, shade(spans))
			}
			u.AddSeries(f.Stage, lineData(up, 1), o...)
			q.AddSeries(f.Stage, lineData(qp, 1), o...)
			sh.AddSeries(f.Stage, lineData(sp, 1), o...)
		}
		cs.Utilization, cs.Queues, cs.Shed = cs.add(renderLine(u)), cs.add(renderLine(q)), cs.add(renderLine(sh))
	}
	if p := rep.Prediction; p != nil {
		mt, pt := trafficCurves(r), trafficCurves(p.Run)
		c := timeChart(chartID("pred_rate"), "Attempted per second: measured vs predicted", "per s", span)
		c.AddSeries("measured", lineData(mt.attempted, 1), noSymbols(), shade(spans))
		c.AddSeries("predicted", lineData(pt.attempted, 1), noSymbols(), lineStyle("dashed"))
		cs.PredRate = cs.add(renderLine(c))
		for i, name := range r.EndpointNames() {
			pe := p.Run.Endpoints[name]
			if pe == nil {
				continue
			}
			c := timeChart(chartID("pred_p99", fmt.Sprint(i), name), name+": p99 measured vs predicted (ms)", "ms", span)
			slo := sloLines(rep.Scenario, name)
			fitLimits(c, "ms", slo)
			c.AddSeries("measured p99", lineData(endpointCurves(r, r.Endpoints[name]).p99, 1000), noSymbols(), horizontals(slo))
			c.AddSeries("predicted p99", lineData(endpointCurves(p.Run, pe).p99, 1000), noSymbols(), lineStyle("dashed"))
			cs.PredLatency = append(cs.PredLatency, renderLine(c))
			cs.all = append(cs.all, cs.PredLatency[len(cs.PredLatency)-1])
		}
		if ps := stageFigures(p.Run); len(ps) > 0 && len(stages) > 0 {
			c := timeChart(chartID("pred_util"), "Utilisation: measured (solid) vs predicted (dashed)", "busy share", span)
			for _, f := range stages {
				c.AddSeries(f.Stage+" measured", lineData(f.utilCurve(), 1), noSymbols())
			}
			for _, f := range ps {
				c.AddSeries(f.Stage+" predicted", lineData(f.utilCurve(), 1), noSymbols(), lineStyle("dashed"))
			}
			cs.PredUtil = cs.add(renderLine(c))
		}
	}
	if b := rep.Baseline; b != nil {
		c := timeChart(chartID("baseline_p99"), "p99 over time: this run (solid) vs baseline (dashed), ms", "ms", span)
		for _, name := range r.EndpointNames() {
			c.AddSeries(name, lineData(endpointCurves(r, r.Endpoints[name]).p99, 1000), noSymbols())
			if be := b.Run.Endpoints[name]; be != nil {
				c.AddSeries(name+" baseline", lineData(endpointCurves(b.Run, be).p99, 1000), noSymbols(), lineStyle("dashed"))
			}
		}
		cs.BaselineP99 = cs.add(renderLine(c))
	}
	return cs
}

func (f *StageFigures) utilCurve() []point {
	out := make([]point, len(f.points))
	for i, p := range f.points {
		out[i] = point{p.at, p.util}
	}
	return out
}

// sloLines are the latency limits (in ms) that apply to an endpoint's chart.
func sloLines(s *scenarios.Scenario, endpoint string) map[string]float64 {
	out := map[string]float64{}
	if s == nil {
		return out
	}
	for _, c := range s.SLO {
		if c.Percentile() > 0 && (c.Endpoint == endpoint || c.Endpoint == "") {
			out["SLO "+c.Text] = c.Limit() * 1000
		}
	}
	return out
}

// eventRows are the run's events in time order.
func eventRows(r *results.Run) []results.Event {
	ev := append([]results.Event(nil), r.Events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At < ev[j].At })
	return ev
}
