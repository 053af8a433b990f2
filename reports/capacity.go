package reports

import (
	"time"

	"github.com/surgekit/surge/sim/queueing"
)

// Capacity is what surge capacity found, as its documents show it (the
// JSON object, the text and the page): the knee of a scenario's mix on a
// service, the headroom over its forecast peak, every step, the USL fit
// and how the calibrated profile reproduces the steps.
type Capacity struct {
	Scenario string  `json:"scenario"`
	Mode     string  `json:"mode"` // live or sim
	Target   string  `json:"target,omitempty"`
	Peak     float64 `json:"forecast_peak_arrivals_per_s"`
	Knee     Knee    `json:"knee"`
	// Headroom is the knee over the forecast peak.
	Headroom float64 `json:"headroom"`
	// Bottleneck is the stage (or, with no stage metrics, the request)
	// that limits the knee, and why.
	Bottleneck    string         `json:"bottleneck,omitempty"`
	BottleneckWhy string         `json:"bottleneck_why,omitempty"`
	Steps         []CapacityStep `json:"steps"`
	USL           *USLFit        `json:"usl,omitempty"`
	Gate          []ClauseResult `json:"gate,omitempty"`
	// Ended says why the search stopped: found, max, budget, generator,
	// no capacity, interrupted.
	Ended string `json:"ended"`
	Note  string `json:"note,omitempty"`
	// Profile is the path of the calibrated profile, once written, and
	// ProfileNotes how each of its figures was found.
	Profile      string   `json:"profile,omitempty"`
	ProfileFrom  string   `json:"profile_from,omitempty"`
	ProfileNotes []string `json:"profile_notes,omitempty"`
	// Calibration is how the calibrated profile reproduces the steps.
	Calibration []CalibrationCheck `json:"calibration,omitempty"`
	// TargetNote says what the target's own /metrics said of its bound
	// (its CPU, a connection pool) over the steps, when it exports them.
	TargetNote string `json:"target_note,omitempty"`
	// Candidates are the structures the calibration fitted and simulated
	// against every step, best (the one chosen) first.
	Candidates []Candidate `json:"candidates,omitempty"`
}

// Candidate is one structure a calibration fitted, and how well its
// simulation reproduced each measured step.
type Candidate struct {
	Name      string `json:"name"`
	Structure string `json:"structure"` // in words
	// Score is the mean over steps and requests of |ln(predicted p95 /
	// measured p95)| + 3 |predicted - measured error share| + 3 |ln(predicted
	// successes / measured successes)|: 0 is exact.
	Score float64 `json:"score"`
	// Compared is how many (step, request) pairs the score is over (0: no
	// step had answers enough to compare, and the score says nothing).
	Compared int             `json:"compared"`
	Steps    []CandidateStep `json:"steps"`
}

// CandidateStep is a candidate's simulation of one measured step.
type CandidateStep struct {
	Offered   float64                      `json:"offered_arrivals_per_s"`
	Mix       string                       `json:"mix,omitempty"`
	Endpoints map[string]CandidateEndpoint `json:"endpoints"`
}

// CandidateEndpoint is one request's p95 (seconds) and error share,
// measured and predicted.
type CandidateEndpoint struct {
	MeasuredP95     float64 `json:"measured_p95_s"`
	PredictedP95    float64 `json:"predicted_p95_s"`
	MeasuredErrors  float64 `json:"measured_error_share"`
	PredictedErrors float64 `json:"predicted_error_share"`
	// Successes are the successful answers over the step's steady part.
	MeasuredSuccesses  int64 `json:"measured_successes"`
	PredictedSuccesses int64 `json:"predicted_successes"`
}

// CapacityStep is one steady rate of a capacity search as measured, over its steady part (its warm-up
// cut off).
type CapacityStep struct {
	// Offered is the arrival rate asked for; Achieved the rate that arrived
	// (users a second); Requests the first attempts a second, Answered the
	// answers (of any kind) and Goodput the successful ones a second.
	Offered  float64 `json:"offered_arrivals_per_s"`
	Achieved float64 `json:"achieved_arrivals_per_s"`
	Requests float64 `json:"requests_per_s"`
	Answered float64 `json:"answered_per_s"`
	Goodput  float64 `json:"succeeded_per_s"`
	// Concurrency is the mean requests in flight, by Little's law: the
	// answers a second times their mean latency.
	Concurrency float64                     `json:"mean_concurrency"`
	Endpoints   map[string]CapacityEndpoint `json:"endpoints"`
	Clauses     []ClauseResult              `json:"clauses"`
	Pass        bool                        `json:"pass"`
	// Broke names the first clause that failed and its request.
	Broke string `json:"broke,omitempty"`
	// AllFailed: not one answer succeeded.
	AllFailed bool `json:"all_failed,omitempty"`
	// Behind says the generator could not keep the schedule: its sends
	// went out late (LateP99) or its users cap bound, so the step says
	// nothing about the service.
	Behind  bool          `json:"generator_behind,omitempty"`
	LateP99 time.Duration `json:"late_p99_ns"`
	// ConnWaited counts the step's requests that waited for one of the
	// generator's bounded connections (--max-conns): their latency holds
	// that wait, which is not the service's.
	ConnWaited int64         `json:"conn_waited,omitempty"`
	Warmup     time.Duration `json:"warmup_ns"`
	Length     time.Duration `json:"measured_ns"`
	// Planned is the length the step was planned to measure when it
	// ended sooner, its verdict decided by the sequential test (0: it
	// measured all of it).
	Planned time.Duration `json:"planned_ns,omitempty"`
	// Dir is the step's run directory, relative to the search's.
	Dir string `json:"dir,omitempty"`
	// Mix is what the step played when not the forecast peak's mix: an
	// identification step ("only cohort b") that shows how the requests
	// share the service. Such steps judge no knee.
	Mix string `json:"mix,omitempty"`
	// Settled is how long the service took after the step (which failed)
	// to answer as at the lowest passing rate again, probed (a live search
	// only); Unsettled says it had not within a minute. A service that
	// takes seconds is still working for the step's clients who have gone.
	Settled   time.Duration `json:"settled_after_ns,omitempty"`
	Unsettled bool          `json:"unsettled,omitempty"`
	// Target is what the target's own /metrics said over the step, when
	// it exports the standard families (nil: it has none).
	Target *TargetFigures `json:"target,omitempty"`
}

// TargetFigures are a step as the target's own /metrics saw it: the
// process's CPU (process_cpu_seconds_total, which every Prometheus client
// library exports) against the cores it may use (Go's
// go_sched_gomaxprocs_threads), and a database/sql pool's (client_golang's
// DBStats collector: go_sql_*) connections in use, its bound and the
// waits for a connection. Rates are over the time between the scrapes
// before and after the step (its warm-up and drain included).
type TargetFigures struct {
	HasCPU   bool    `json:"has_cpu,omitempty"`
	CPUCores float64 `json:"cpu_cores,omitempty"` // CPU seconds a second
	Cores    float64 `json:"cores,omitempty"`     // 0: not exported
	// ResidentBytes is the process's memory after the step.
	ResidentBytes float64 `json:"resident_bytes,omitempty"`
	HasPool       bool    `json:"has_pool,omitempty"`
	// PoolInUse is the connections in use when the step ended, PoolMax the
	// pool's bound (0: none), PoolWaits the waits for a connection a
	// second and PoolWait their mean (seconds).
	PoolInUse float64 `json:"pool_in_use,omitempty"`
	PoolMax   float64 `json:"pool_max_open,omitempty"`
	PoolWaits float64 `json:"pool_waits_per_s,omitempty"`
	PoolWait  float64 `json:"pool_mean_wait_s,omitempty"`
}

// CapacityEndpoint is one request's figures in a step (latencies in seconds,
// of the successful answers).
type CapacityEndpoint struct {
	Offered  float64          `json:"offered_per_s"`
	Answered float64          `json:"answered_per_s"`
	Goodput  float64          `json:"succeeded_per_s"`
	Mean     float64          `json:"mean_s"`
	P50      float64          `json:"p50_s"`
	P95      float64          `json:"p95_s"`
	P99      float64          `json:"p99_s"`
	Errors   map[string]int64 `json:"errors,omitempty"`
}

// Knee is the most arrivals/s of the mix at which every clause held.
type Knee struct {
	ArrivalsPerS float64 `json:"arrivals_per_s"`
	RequestsPerS float64 `json:"requests_per_s"`
	// Below is the lowest rate a clause broke at (0: none broke), so the
	// knee lies in [ArrivalsPerS, Below).
	Below float64 `json:"fails_at_arrivals_per_s,omitempty"`
	// Found says the bisection brought the bracket within the precision.
	Found bool `json:"found"`
	// Limit is what bounds the answer: the service (a clause broke), the
	// generator (it fell behind first), max (it held up to --max), budget.
	Limit string `json:"limit"`
}

// USLFit is the closed-loop sweep and its Universal Scalability Law fit.
type USLFit struct {
	Points         []queueing.Point `json:"points"`
	Sigma          float64          `json:"sigma"`
	Kappa          float64          `json:"kappa"`
	Lambda         float64          `json:"lambda"`
	PeakLoad       float64          `json:"peak_load,omitempty"`
	PeakThroughput float64          `json:"peak_throughput,omitempty"`
	// NoPeak: kappa is 0, throughput rises toward its limit forever.
	NoPeak bool    `json:"no_finite_peak,omitempty"`
	Limit  float64 `json:"throughput_limit,omitempty"`
	Note   string  `json:"note,omitempty"`
}

// CalibrationCheck is how the calibrated profile, simulated at one
// measured step's rate, reproduces that step: each request's p95 of its
// successful answers, measured and predicted.
type CalibrationCheck struct {
	Offered   float64                  `json:"offered_arrivals_per_s"`
	Endpoints map[string]CheckEndpoint `json:"endpoints"`
	MaxError  float64                  `json:"max_p95_error"`
}

// CheckEndpoint is one request's p95, measured and predicted (seconds).
type CheckEndpoint struct {
	Measured  float64 `json:"measured_p95_s"`
	Predicted float64 `json:"predicted_p95_s"`
	Error     float64 `json:"error"` // (predicted - measured) / measured
}
