package refserver

import (
	"github.com/prometheus/client_golang/prometheus"
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
	queueWait prometheus.Observer
	workers   prometheus.Gauge
}

func (m *stageMetrics) shed(reason string) { m.shedVec.WithLabelValues(m.name, reason).Inc() }

var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

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
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "surge_stage_queue_wait_seconds",
			Help: "Time a visit waited in the stage's queue for a worker.", Buckets: latencyBuckets}, []string{"stage"}),
		workers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "surge_stage_workers",
			Help: "Workers a stage has now (capacity faults lower it)."}, []string{"stage"}),
		async: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_async_total",
			Help: "Background (async) steps, by stage and result (ok, error)."}, []string{"stage", "result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.served, m.shed, m.held, m.wait, m.workers, m.async)
	return m
}

func (m *metrics) forStage(name string) *stageMetrics {
	return &stageMetrics{
		served:    m.served.WithLabelValues(name),
		shedVec:   m.shed,
		name:      name,
		held:      m.held.WithLabelValues(name),
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
