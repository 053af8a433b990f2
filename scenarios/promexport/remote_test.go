package promexport

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/surgekit/surge/scenarios/results"
)

// TestWriteRequestHoldsWhatAScrapeWould: the remote-write series of a run
// are those a scrape of the same collector stores: counters as samples, a
// histogram as its _bucket (with +Inf), _sum and _count, labels sorted.
func TestWriteRequestHoldsWhatAScrapeWould(t *testing.T) {
	run := results.New(results.Meta{Scenario: "quick"})
	for i := range 10 {
		run.Record("qr", results.Outcome{Corrected: time.Duration(i+1) * 30 * time.Millisecond, First: true})
	}
	run.Record("qr", results.Outcome{Err: "status_503", First: true})
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(func(f func(*results.Run, int64)) { f(run, 3) }, prometheus.Labels{"scenario": "quick", "run": "r1", "shard": "0"}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_123)
	req := WriteRequest(mfs, at)
	got := map[string]float64{}
	for _, ts := range req.Timeseries {
		if !slices.IsSortedFunc(ts.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("labels not sorted: %v", ts.Labels)
		}
		if len(ts.Samples) != 1 || ts.Samples[0].Timestamp != at.UnixMilli() {
			t.Errorf("%v: samples %v", ts.Labels, ts.Samples)
		}
		var key []string
		for _, l := range ts.Labels {
			if l.Name != "scenario" && l.Name != "run" && l.Name != "shard" {
				key = append(key, l.Name+"="+l.Value)
			}
		}
		got[strings.Join(key, ",")] = ts.Samples[0].Value
	}
	for k, want := range map[string]float64{
		"__name__=surge_offered_total,request=qr":                  11,
		"__name__=surge_succeeded_total,request=qr":                10,
		"__name__=surge_errors_total,kind=status_503,request=qr":   1,
		"__name__=surge_users_in_journey":                          3,
		"__name__=surge_latency_seconds_count,request=qr":          10,
		"__name__=surge_latency_seconds_bucket,le=+Inf,request=qr": 10,
		"__name__=surge_latency_seconds_bucket,le=0.1,request=qr":  3,
		"__name__=surge_latency_seconds_bucket,le=0.25,request=qr": 8,
		"__name__=surge_generator_late_seconds_bucket,le=+Inf":     0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if s := got["__name__=surge_latency_seconds_sum,request=qr"]; s < 1.6 || s > 1.7 {
		t.Errorf("latency sum %v s, want 1.65", s)
	}
	if len(req.Metadata) != len(mfs) {
		t.Errorf("%d metadata for %d families", len(req.Metadata), len(mfs))
	}
}
