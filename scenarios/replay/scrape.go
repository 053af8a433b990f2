package replay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/surgekit/surge/scenarios/results"
)

// maxMetrics bounds a /metrics answer the sampler reads.
const maxMetrics = 8 << 20

// sample scrapes the target's Prometheus /metrics for the surge_stage_*
// families (the reference server's, or any service that exports them)
// and records one sample per stage.
func (e *engine) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ctlBase+"/metrics", nil)
	resp, err := e.ctl.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	at := time.Since(e.start)
	samples, err := parseStages(io.LimitReader(resp.Body, maxMetrics), at)
	if err != nil || len(samples) == 0 {
		return
	}
	e.mu.Lock()
	e.run.Stages = append(e.run.Stages, samples...)
	e.mu.Unlock()
}

// Stages scrapes a target's /metrics once for its surge_stage_* families:
// one sample per stage (At 0), none when it exports them not.
func Stages(ctx context.Context, target string) ([]results.StageSample, error) {
	fams, err := Scrape(ctx, target)
	if err != nil {
		return nil, err
	}
	return stagesOf(fams, 0), nil
}

// Scrape reads a target's /metrics once, parsed (the Prometheus text
// format, by the format's own parser), by family name.
func Scrape(ctx context.Context, target string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	client, base := control(target, nil)
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("replay: GET %s/metrics: %s", target, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, maxMetrics))
	if err != nil {
		return nil, fmt.Errorf("replay: %s/metrics: %w", target, err)
	}
	return fams, nil
}

// stageFamilies are the metric families a stage sample reads, by the
// field each fills.
var stageFamilies = map[string]func(*results.StageSample, float64){
	"surge_stage_workers":                func(s *results.StageSample, v float64) { s.Workers = v },
	"surge_stage_in_flight":              func(s *results.StageSample, v float64) { s.InFlight = v },
	"surge_stage_queue_length":           func(s *results.StageSample, v float64) { s.Queue = v },
	"surge_stage_served_total":           func(s *results.StageSample, v float64) { s.Served = v },
	"surge_stage_shed_total":             func(s *results.StageSample, v float64) { s.Shed += v }, // summed over its reasons
	"surge_stage_busy_seconds_total":     func(s *results.StageSample, v float64) { s.Busy = v },
	"surge_stage_capacity_seconds_total": func(s *results.StageSample, v float64) { s.Capacity = v },
}

// parseStages reads a Prometheus text exposition (with expfmt, the
// format's own parser: labels are matched by name, samples with
// timestamps kept) into one sample per stage label, sorted by stage.
func parseStages(r io.Reader, at time.Duration) ([]results.StageSample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("replay: /metrics: %w", err)
	}
	return stagesOf(fams, at), nil
}

// stagesOf reads the stage families into one sample per stage label.
func stagesOf(fams map[string]*dto.MetricFamily, at time.Duration) []results.StageSample {
	stages := map[string]*results.StageSample{}
	for name, set := range stageFamilies {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			stage, ok := label(m, "stage")
			if !ok {
				continue
			}
			s := stages[stage]
			if s == nil {
				s = &results.StageSample{At: at, Stage: stage}
				stages[stage] = s
			}
			set(s, value(m))
		}
	}
	out := make([]results.StageSample, 0, len(stages))
	for _, s := range stages {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// Label is a sample's label value.
func Label(m *dto.Metric, name string) (string, bool) { return label(m, name) }

func label(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}

// value is a gauge's, counter's or untyped sample's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// FamilyTotal is the sum of a scraped family's samples (gauges, counters
// or untyped: every series, whatever its labels), and whether the target
// exports it.
func FamilyTotal(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	f := fams[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return 0, false
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		total += value(m)
	}
	return total, true
}
