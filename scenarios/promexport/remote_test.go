package promexport

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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

// TestNativeBucketsHoldTheValues: the native buckets written from an HDR
// series hold every value in the bucket whose bounds contain it, and add
// up to the count (zeros in the zero bucket).
func TestNativeBucketsHoldTheValues(t *testing.T) {
	h := results.NewHistogram(3)
	want := map[int32]int64{}
	values := []time.Duration{0, time.Microsecond, 1500 * time.Microsecond, 20 * time.Millisecond, 21 * time.Millisecond, 22 * time.Millisecond, 900 * time.Millisecond, time.Second, 30 * time.Second}
	for i, v := range values {
		h.RecordN(v, int64(i+1))
	}
	h.Each(func(d time.Duration, n int64) {
		if d > 0 {
			i := nativeIndex(d.Seconds())
			lo, hi := math.Exp2(float64(i-1)/8), math.Exp2(float64(i)/8)
			if s := d.Seconds(); s <= lo || s > hi {
				t.Errorf("%v in bucket %d = (%g, %g]", d, i, lo, hi)
			}
			want[i] += n
		}
	})
	if nativeIndex(1) != 0 || nativeIndex(math.Exp2(1.0/8)) != 1 || nativeIndex(math.Nextafter(1, 2)) != 1 {
		t.Errorf("bucket edges: 1 s in %d, 2^(1/8) in %d, just above 1 s in %d; want 0, 1, 1", nativeIndex(1), nativeIndex(math.Exp2(1.0/8)), nativeIndex(math.Nextafter(1, 2)))
	}
	var out dto.Histogram
	Native(&out, h)
	got := map[int32]int64{}
	idx, count, total := int32(0), int64(0), int64(out.GetZeroCount())
	di := 0
	for si, s := range out.GetPositiveSpan() {
		if si == 0 {
			idx = s.GetOffset()
		} else {
			idx += s.GetOffset()
		}
		for range s.GetLength() {
			count += out.GetPositiveDelta()[di]
			di++
			got[idx] = count
			total += count
			idx++
		}
	}
	for i, n := range got {
		if n != want[i] {
			t.Errorf("bucket %d holds %d, want %d", i, n, want[i])
		}
	}
	if len(got) != len(want) || total != h.Count() || out.GetSchema() != NativeSchema {
		t.Errorf("%d buckets (want %d), %d values (want %d), %d zeros", len(got), len(want), total, h.Count(), out.GetZeroCount())
	}
}

// TestGatherReadsTheRunUnderTheViewsLock: the metrics are made from the
// run inside the view (the engine's lock); nothing reads it afterwards,
// when the engine records on (go test -race catches a read outside).
func TestGatherReadsTheRunUnderTheViewsLock(t *testing.T) {
	var mu sync.Mutex
	run := results.New(results.Meta{Scenario: "quick"})
	view := func(f func(*results.Run, int64)) {
		mu.Lock()
		defer mu.Unlock()
		f(run, 1)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(view, prometheus.Labels{"scenario": "quick", "run": "r", "shard": "0"}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20000 {
			mu.Lock()
			run.Record("qr", results.Outcome{Corrected: time.Duration(i%5000+1) * time.Millisecond, First: true})
			mu.Unlock()
		}
	}()
	for range 50 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
