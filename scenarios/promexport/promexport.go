// Package promexport shows a run's figures as Prometheus metrics while it
// runs: what was offered, attempted and succeeded, the errors by kind, the
// users in their journey, the generator's lateness, and the latency of the
// successful answers, per request, labelled by scenario, run and shard.
// It reads the run through a view the live engine gives it (under the
// engine's lock), so a scrape sees the same figures results.json will.
//
// Collector is scraped (surge run --metrics-listen); Remote pushes the same
// series by remote write (--prometheus-rw) for runs shorter than a scrape;
// Export starts both for a run and stops them when it ends.
//
// The metrics hold no secrets: request names, counts and durations only.
// A remote-write URL may hold a password: it is sent as basic
// authentication to that URL only and shown redacted.
package promexport

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/surgekit/surge/scenarios/results"
)

// View calls f with the run as it stands and the users in their journey;
// it does nothing before the run has started.
type View func(f func(run *results.Run, active int64))

// Buckets are the latency histograms' bounds: 1 ms to 60 s, a 1-2.5-5 series.
var Buckets = []time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 25 * time.Second, 60 * time.Second,
}

// Collector is a prometheus.Collector of a run's figures.
type Collector struct {
	view                                      View
	offered, attempted, succeeded, errs, late *prometheus.Desc
	active, latency                           *prometheus.Desc
}

// New makes a collector over view; labels (scenario, run, shard) go on every series.
func New(view View, labels prometheus.Labels) *Collector {
	d := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc("surge_"+name, help, vars, labels)
	}
	return &Collector{view: view,
		offered:   d("offered_total", "Requests users wanted to send (first attempts).", "request"),
		attempted: d("attempted_total", "Requests sent, retries and resends included.", "request"),
		succeeded: d("succeeded_total", "Successful answers.", "request"),
		errs:      d("errors_total", "Failed answers by surge's error kind.", "request", "kind"),
		active:    d("users_in_journey", "Users in their journey now."),
		late:      d("generator_late_seconds", "How late the generator sent past each intended time."),
		latency:   d("latency_seconds", "Latency of the successful answers, from each request's intended send (coordinated-omission corrected).", "request"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.offered, c.attempted, c.succeeded, c.errs, c.active, c.late, c.latency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.view(func(run *results.Run, active int64) {
		for name, e := range run.Endpoints {
			t := e.Total
			ch <- prometheus.MustNewConstMetric(c.offered, prometheus.CounterValue, float64(t.Offered), name)
			ch <- prometheus.MustNewConstMetric(c.attempted, prometheus.CounterValue, float64(t.Attempted), name)
			ch <- prometheus.MustNewConstMetric(c.succeeded, prometheus.CounterValue, float64(t.Succeeded), name)
			for kind, n := range t.Errors {
				ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(n), name, kind)
			}
			ch <- histogram(c.latency, t.Latency, name)
		}
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(active))
		ch <- histogram(c.late, run.Generator.Late)
	})
}

func histogram(d *prometheus.Desc, h *results.Histogram, labels ...string) prometheus.Metric {
	counts, sum := h.Cumulative(Buckets)
	b := make(map[float64]uint64, len(Buckets))
	for i, bound := range Buckets {
		b[bound.Seconds()] = counts[i]
	}
	m := &withNative{Metric: prometheus.MustNewConstHistogram(d, uint64(h.Count()), sum.Seconds(), b, labels...)}
	Native(&m.native, h) // now, under the view's lock: Write runs after Collect, when the run has moved on
	return m
}

// NativeSchema is the native histograms' resolution: schema 3, each bucket
// 2^(1/8) (9%) wider than the one below, finer than the classic buckets and
// coarser than the HDR series (3 significant digits) they are counted from.
const NativeSchema = 3

// withNative is a classic histogram that also carries its native buckets,
// as client_golang's own histograms do with both kinds configured: a
// Prometheus that scrapes native histograms (protobuf) reads those, a text
// scrape and remote write read the classic buckets.
type withNative struct {
	prometheus.Metric
	native dto.Histogram // its native fields
}

// Write implements prometheus.Metric.
func (m *withNative) Write(out *dto.Metric) error {
	if err := m.Metric.Write(out); err != nil {
		return err
	}
	h, n := out.Histogram, &m.native
	h.Schema, h.ZeroThreshold, h.ZeroCount, h.PositiveSpan, h.PositiveDelta = n.Schema, n.ZeroThreshold, n.ZeroCount, n.PositiveSpan, n.PositiveDelta
	return nil
}

// Native fills the native (sparse) buckets of out from h: a value v falls
// in the bucket of index i with 2^((i-1)/8) < v <= 2^(i/8) seconds, a zero
// in the zero bucket; the buckets are written as spans of consecutive
// indexes and deltas of their counts, the protocol's encoding.
func Native(out *dto.Histogram, h *results.Histogram) {
	schema, zero := int32(NativeSchema), 0.0
	var zeros uint64
	var spans []*dto.BucketSpan
	var deltas []int64
	last, prev, next := int32(0), int64(0), int32(0)
	h.Each(func(d time.Duration, n int64) {
		if d <= 0 {
			zeros += uint64(n)
			return
		}
		i := nativeIndex(d.Seconds())
		switch {
		case len(spans) > 0 && i == last: // another HDR bucket in the same native one
			deltas[len(deltas)-1] += n
			prev += n
			return
		case len(spans) > 0 && i == next:
			*spans[len(spans)-1].Length++
		default:
			offset := i
			if len(spans) > 0 {
				offset = i - next
			}
			spans = append(spans, &dto.BucketSpan{Offset: &offset, Length: new(uint32(1))})
		}
		deltas = append(deltas, n-prev)
		last, prev, next = i, n, i+1
	})
	out.Schema, out.ZeroThreshold, out.ZeroCount = &schema, &zero, &zeros
	out.PositiveSpan, out.PositiveDelta = spans, deltas
}

// nativeIndex is the index of the schema-3 bucket holding v > 0 seconds.
func nativeIndex(v float64) int32 {
	i := int32(math.Ceil(math.Log2(v) * (1 << NativeSchema)))
	// Correct the logarithm's rounding at a bucket's edge.
	if math.Exp2(float64(i-1)/(1<<NativeSchema)) >= v {
		i--
	} else if math.Exp2(float64(i)/(1<<NativeSchema)) < v {
		i++
	}
	return i
}
