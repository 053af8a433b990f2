package refserver

import (
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/spec"
)

// metrics is the server's Prometheus registry and its collectors; one per
// Server, so embedded servers do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // endpoint, status
	duration *prometheus.HistogramVec // endpoint
	served   *prometheus.CounterVec   // stage
	shed     *prometheus.CounterVec   // stage, reason
	held     *prometheus.HistogramVec // stage
	own      *prometheus.HistogramVec // stage
	wait     *prometheus.HistogramVec // stage
	workers  *prometheus.GaugeVec     // stage
	async    *prometheus.CounterVec   // stage, result
}

// stageMetrics are one stage's children of the vectors.
type stageMetrics struct {
	served    prometheus.Counter
	shedVec   *prometheus.CounterVec
	name      string
	held      prometheus.Observer
	own       prometheus.Observer
	queueWait prometheus.Observer
	workers   prometheus.Gauge
}

func (m *stageMetrics) shed(reason string) { m.shedVec.WithLabelValues(m.name, reason).Inc() }

var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// ownBuckets are fine (a tenth apart, from 0.1 ms to about 2 min) so that a
// calibration can tell a service time's shape, not only its mean.
var ownBuckets = prometheus.ExponentialBucketsRange(0.0001, 120, 150)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_http_requests_total",
			Help: "Requests answered, by endpoint and HTTP status."}, []string{"endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "surge_http_request_duration_seconds",
			Help: "Time from request to response, by endpoint.", Buckets: latencyBuckets}, []string{"endpoint"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_stage_served_total",
			Help: "Visits a stage completed."}, []string{"stage"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_stage_shed_total",
			Help: "Visits a stage refused: queue_full, queue_timeout, cancelled, or an injected fault kind."}, []string{"stage", "reason"}),
		held: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "surge_stage_service_seconds",
			Help: "Time a visit held a worker (service time, nested calls and real work).", Buckets: latencyBuckets}, []string{"stage"}),
		own: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "surge_stage_own_seconds",
			Help:    "A visit's own time holding its worker: its service time and real work, without its nested calls (what a calibration fits).",
			Buckets: ownBuckets}, []string{"stage"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "surge_stage_queue_wait_seconds",
			Help: "Time a visit waited in the stage's queue for a worker.", Buckets: latencyBuckets}, []string{"stage"}),
		workers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "surge_stage_workers",
			Help: "Workers a stage has now (capacity faults lower it)."}, []string{"stage"}),
		async: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_async_total",
			Help: "Background (async) steps, by stage and result (ok, error)."}, []string{"stage", "result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.served, m.shed, m.held, m.own, m.wait, m.workers, m.async)
	return m
}

// registerRuntime adds the families every Go service exports with
// client_golang: its process's CPU and memory, Go's own figures
// (GOMAXPROCS among them) and the store's connection pool (go_sql_*), as a
// team's own service would; surge capacity reads them beside the stage
// metrics.
func (m *metrics) registerRuntime(db *sql.DB) {
	m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector(),
		collectors.NewDBStatsCollector(db, "pass"))
}

func (m *metrics) forStage(name string) *stageMetrics {
	return &stageMetrics{
		served:    m.served.WithLabelValues(name),
		shedVec:   m.shed,
		name:      name,
		held:      m.held.WithLabelValues(name),
		own:       m.own.WithLabelValues(name),
		queueWait: m.wait.WithLabelValues(name),
		workers:   m.workers.WithLabelValues(name),
	}
}

// watchStage exports a stage's instantaneous state and busy time as
// functions read at scrape time.
func (m *metrics) watchStage(s *stage) {
	labels := prometheus.Labels{"stage": s.name}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "surge_stage_in_flight", ConstLabels: labels,
			Help: "Visits holding a worker now."}, func() float64 { _, b, _ := s.pool.state(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "surge_stage_queue_length", ConstLabels: labels,
			Help: "Visits waiting for a worker now."}, func() float64 { _, _, q := s.pool.state(); return float64(q) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "surge_stage_queue_capacity", ConstLabels: labels,
			Help: "The stage's queue bound."}, func() float64 { return float64(s.cfg.Queue) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "surge_stage_busy_seconds_total", ConstLabels: labels,
			Help: "Worker-seconds spent holding workers, accrued as they are spent; utilisation = rate(busy) / rate(capacity)."},
			func() float64 { b, _ := s.pool.accrued(); return b }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "surge_stage_capacity_seconds_total", ConstLabels: labels,
			Help: "Worker-seconds the stage had: the integral of max(workers, busy) over time."},
			func() float64 { _, c := s.pool.accrued(); return c }),
	)
	s.m.workers.Set(float64(s.cfg.Workers))
}

// describeProfile exports the profile's shape as info metrics (each
// gauge 1, the facts in its labels), so that a capacity calibration can
// read the stages, routes, platforms and rules of the service it measures
// from /metrics, as it reads their load. Any service that exports these
// families gets a stage-level calibration from surge capacity:
//
//	surge_stage_info{stage, when_full, queue_timeout_seconds, retry_after_seconds}
//	surge_route_step{route, path, stage, async}      path: "0", "0.1" (call 1 of step 0)
//	surge_platform_info{platform, proof}
//	surge_rule_info{name, expires, after_seconds, limit, requests, per_seconds, status, code}
//	surge_server_request_timeout_seconds
func (m *metrics) describeProfile(p *profile.Profile) {
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	info := func(name, help string, labels prometheus.Labels) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 { return 1 }))
	}
	for _, name := range p.StageNames() {
		st := p.Stages[name]
		when := st.WhenFull
		if when == "" {
			when = profile.WhenFullShed
		}
		info("surge_stage_info", "A stage of the capacity profile (always 1).", prometheus.Labels{"stage": name, "when_full": when,
			"queue_timeout_seconds": secs(st.QueueTimeout), "retry_after_seconds": secs(st.RetryAfter)})
	}
	for _, route := range spec.SortedKeys(p.Routes) {
		profile.Walk(p.Routes[route], "", func(s profile.Step, path string, _ []string) {
			info("surge_route_step", "A stage visit of a route (always 1): path is its place, \"0.1\" the second call of the first step.",
				prometheus.Labels{"route": route, "path": routePath(path), "stage": s.Stage, "async": strconv.FormatBool(s.Async)})
		})
	}
	for _, pl := range p.PlatformNames() {
		info("surge_platform_info", "A client platform and how it gets its proof (always 1).", prometheus.Labels{"platform": pl, "proof": p.Platforms[pl].Proof})
	}
	for _, r := range p.Rules {
		info("surge_rule_info", "A rule of the service (always 1).", prometheus.Labels{"name": r.Name, "expires": r.Expires, "after_seconds": secs(r.After),
			"limit": r.Limit, "requests": strconv.Itoa(r.Requests), "per_seconds": secs(r.Per), "status": strconv.Itoa(r.Answer.Status), "code": r.Answer.Code})
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "surge_server_request_timeout_seconds",
		Help: "How long the service works on a request before it answers 504 (0: no limit)."}, func() float64 { return p.Server.RequestTimeout.Seconds() }))
}

// routePath turns Walk's key path ("[0].calls[1]") into "0.1".
func routePath(p string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ReplaceAll(p, ".calls", ""), "[") {
		if part = strings.TrimSuffix(part, "]"); part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}
