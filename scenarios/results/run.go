package results

import (
	"sort"
	"time"
)

// Format and Version identify the results format this package writes.
const (
	Format = "surge-results"
	// Version 2: latency histograms hold successful answers only (failed
	// ones in failed_latency), attempted counts resends, stage samples carry
	// their capacity, failures are sampled. Version 1 files still read.
	Version = 2
)

// Run is everything a run measured.
type Run struct {
	Format    string               `json:"format"`
	Version   int                  `json:"version"`
	Meta      Meta                 `json:"meta"`
	Endpoints map[string]*Endpoint `json:"endpoints"`
	// Users counts users by what became of them, over the run and per bucket.
	Users       Users   `json:"users"`
	UserBuckets []Users `json:"user_buckets"`
	Events      []Event `json:"events,omitempty"`
	// Stages are samples of the server's per-stage metrics, when it has them.
	Stages []StageSample `json:"stages,omitempty"`
	// StageCalls is the service's call graph when it is known (the
	// reference server's or the simulated profile's): the stages each
	// stage's visits call while they hold its worker.
	StageCalls map[string][]string `json:"stage_calls,omitempty"`
	// Failures are a bounded sample of failed answers, for debugging from
	// the run directory: at most MaxFailureSamples per request and kind.
	Failures  []FailureSample `json:"failures,omitempty"`
	Generator Generator       `json:"generator"`
	// LeftFrom counts the users who left to come back later by where they
	// gave up: the request that failed them, or "out of patience".
	LeftFrom map[string]int64 `json:"left_from,omitempty"`
}

// Leave counts a user who left at at to come back later, from where.
func (r *Run) Leave(at time.Duration, from string) {
	r.Count(at, Users{Left: 1})
	if r.LeftFrom == nil {
		r.LeftFrom = map[string]int64{}
	}
	r.LeftFrom[from]++
}

// MaxFailureSamples is how many failed answers a run keeps per request and
// error kind; MaxSampleBody and MaxSampleHeaders bound what each keeps.
const (
	MaxFailureSamples = 5
	MaxSampleBody     = 512
	MaxSampleHeaders  = 2048
)

// FailureSample is one failed answer as the client saw it. Headers and
// body are cut to MaxSampleHeaders and MaxSampleBody bytes and carry no
// secrets: the recorder redacts credentials (see replay).
type FailureSample struct {
	Endpoint string        `json:"endpoint"`
	Kind     string        `json:"kind"`
	At       time.Duration `json:"at_ns"` // the intended send
	Status   int           `json:"status,omitempty"`
	Headers  string        `json:"headers,omitempty"` // "Name: value" lines
	Body     string        `json:"body,omitempty"`
	Error    string        `json:"error,omitempty"` // a transport failure's message
}

// Sample keeps f if its request and kind have fewer than
// MaxFailureSamples samples; it reports whether it kept it.
func (r *Run) Sample(f FailureSample) bool {
	if !r.WantsSample(f.Endpoint, f.Kind) {
		return false
	}
	r.Failures = append(r.Failures, f)
	return true
}

// WantsSample says whether a failure of kind at endpoint would be kept.
func (r *Run) WantsSample(endpoint, kind string) bool {
	n := 0
	for i := range r.Failures {
		if r.Failures[i].Endpoint == endpoint && r.Failures[i].Kind == kind {
			n++
		}
	}
	return n < MaxFailureSamples
}

// Meta says what was run, and how it ended.
type Meta struct {
	Scenario string `json:"scenario"`
	Kind     string `json:"kind"` // "run" (measured) or "sim" (predicted)
	Seed     uint64 `json:"seed"`
	Profile  string `json:"profile,omitempty"`
	Target   string `json:"target,omitempty"`
	// Protocol is what the load spoke to the target: "http/1.1" or "h2"
	// (a run's; empty in a prediction).
	Protocol string        `json:"protocol,omitempty"`
	Started  time.Time     `json:"started"`
	Bucket   time.Duration `json:"bucket_ns"`
	Planned  time.Duration `json:"planned_ns"` // the played timeline's length
	Elapsed  time.Duration `json:"elapsed_ns"`
	Complete bool          `json:"complete"` // false: interrupted or aborted
	Ended    string        `json:"ended"`    // why it ended: "done", "interrupted", "aborted: ..."
	// Abort is the safety clause that stopped the run, when one did.
	Abort *Abort `json:"abort,omitempty"`
	// Shard of Shards is the part of the run's arrivals this run played
	// (0 of 1: all of them).
	Shard  int `json:"shard"`
	Shards int `json:"shards"`
	// Parts are the shards a merged run was merged from (MergeShards),
	// and Missing the ones it lacks (a partial merge).
	Parts   []int `json:"parts,omitempty"`
	Missing []int `json:"missing,omitempty"`
	// ScenarioSHA256 is the hash of the scenario file as run (the bytes of
	// the run directory's scenario.yaml): runs with the same hash played
	// the same scenario.
	ScenarioSHA256 string `json:"scenario_sha256,omitempty"`
	// Source is where the figures came from when surge did not measure
	// them itself: "vegeta" for an imported vegeta attack (its latency is
	// from each actual send, not corrected for coordinated omission).
	Source string `json:"source,omitempty"`
	// Model says, of a prediction, where it leaves the evidence its
	// calibrated profile was fitted from (capacity.Calibration.Outside).
	Model []string `json:"model,omitempty"`
	// Relief is, of a prediction whose service had not recovered from its
	// surge by the end of the played timeline, how far the arrivals after
	// the surge must fall for it to (sim.FindRelief).
	Relief *Relief `json:"relief,omitempty"`
	// Band is, of a prediction made with a calibrated profile that says its
	// capacity's uncertainty, the same prediction at the two ends of it.
	Band *Band `json:"band,omitempty"`
	// Spread is, of a prediction played again with other seeds (surge sim
	// --seeds), what each gate clause measured in every one.
	Spread *Spread `json:"spread,omitempty"`
}

// Spread is a prediction played again with the seeds after its own: the
// same day drawn again (arrivals, the users' decisions, service times), so
// a figure the day's chance decides shows as the range it falls in, not
// one number.
type Spread struct {
	// Seeds are every seed played, the prediction's own first.
	Seeds []uint64 `json:"seeds"`
	// Go is how many of them the gate passed.
	Go      int            `json:"go"`
	Clauses []SpreadClause `json:"clauses"`
}

// SpreadClause is one gate clause over a Spread's seeds.
type SpreadClause struct {
	Clause string `json:"clause"`
	Unit   string `json:"unit"`
	// Values are what it measured with each seed that could judge it, in
	// the order of Seeds; Passed is how many of those passed.
	Values []float64 `json:"values"`
	Passed int       `json:"passed"`
}

// Band is a prediction played again with the capacity the calibration
// fitted lowered and raised by its uncertainty (every service time divided
// by 1-u and 1+u, every rate limit times them): what the figures a review
// sizes from would be if the service is as slow, or as fast, as the
// calibration's evidence allows.
type Band struct {
	// Uncertainty is u, the relative 95% uncertainty of the fitted
	// capacity (profile calibrated.capacity_uncertainty).
	Uncertainty float64 `json:"capacity_uncertainty"`
	// Low is the prediction at capacity x (1-u), High at x (1+u).
	Low  BandEnd `json:"low"`
	High BandEnd `json:"high"`
}

// BandEnd is one end of a Band: the figures of the prediction played at
// that capacity.
type BandEnd struct {
	Capacity  float64                 `json:"capacity"` // the factor played (1-u or 1+u)
	Endpoints map[string]BandEndpoint `json:"endpoints"`
	Abandoned int64                   `json:"abandoned_users"`
	// Pass is the gate's verdict there; Recovered whether the service
	// recovered from the surge before the played timeline ended (false
	// too when there was no surge to judge).
	Pass      bool `json:"gate_pass"`
	Recovered bool `json:"recovered"`
}

// BandEndpoint is one request's figures at one end of a Band.
type BandEndpoint struct {
	ErrorShare float64 `json:"error_share"`
	P95        float64 `json:"p95_s"` // of successful answers (0: none)
}

// Relief is how far the arrivals after a surge must fall for a service
// that stays down (its backlog of orphaned work and its clients' retries
// keep it full) to recover before the played timeline ends.
type Relief struct {
	// Keep is the largest share of the planned arrivals after the surge's
	// end (to 1/64, from 1/64) with which the simulated service recovered
	// in time.
	Keep float64 `json:"keep"`
	// Rate is Keep of Planned: the mean arrivals per second, from the
	// surge's end to the end of the played timeline, that let it recover;
	// Planned is the mean the scenario plans there.
	Rate    float64 `json:"arrivals_per_s"`
	Planned float64 `json:"planned_arrivals_per_s"`
	// None: it did not recover in time even with 1/64 of the planned
	// arrivals (the users already there and their retries kept it down).
	None bool `json:"none,omitempty"`
}

// SourceVegeta is Meta.Source of a run imported from vegeta's results.
const SourceVegeta = "vegeta"

// Abort is what the safety clause measured when it stopped the run.
type Abort struct {
	Clause   string        `json:"clause"`
	Measured float64       `json:"measured"` // a share (0..1)
	Samples  int64         `json:"samples"`  // answers in its window
	At       time.Duration `json:"at_ns"`
}

// Endpoint is one request name's whole-run series and its series per bucket.
type Endpoint struct {
	Total   *Series   `json:"total"`
	Buckets []*Series `json:"buckets"`
}

// Users counts users (not requests). Goodput is Completed / Arrived.
type Users struct {
	Arrived    int64 `json:"arrived"`
	Completed  int64 `json:"completed"`
	Abandoned  int64 `json:"abandoned"`
	Manual     int64 `json:"manual"`   // fell back to a manual check (no server load)
	Switched   int64 `json:"switched"` // platform switches
	Reinstall  int64 `json:"reinstalled"`
	KeptTrying int64 `json:"kept_trying"`
	Impatient  int64 `json:"out_of_patience"`
	// Unfinished users were still in their journey when the run ended
	// (after its drain): they count as not completed.
	Unfinished int64 `json:"unfinished"`
	// Users who gave up with come_back: counted in the bucket they left
	// in; Returned in the bucket they came back in; ReturnedCompleted with
	// the user (its arrival's bucket). Left - Returned never came back
	// within the day.
	Left              int64 `json:"left_to_come_back,omitempty"`
	Returned          int64 `json:"returned,omitempty"`
	ReturnedCompleted int64 `json:"returned_completed,omitempty"`
}

// Add adds o's counts to u.
func (u *Users) Add(o Users) {
	u.Left += o.Left
	u.Returned += o.Returned
	u.ReturnedCompleted += o.ReturnedCompleted
	u.Arrived += o.Arrived
	u.Completed += o.Completed
	u.Abandoned += o.Abandoned
	u.Manual += o.Manual
	u.Switched += o.Switched
	u.Reinstall += o.Reinstall
	u.KeptTrying += o.KeptTrying
	u.Impatient += o.Impatient
	u.Unfinished += o.Unfinished
}

// Goodput is the share of arrived users who completed their journey.
func (u Users) Goodput() float64 { return ratio(u.Completed, u.Arrived) }

// Abandonment is the share of arrived users who gave up and left.
func (u Users) Abandonment() float64 { return ratio(u.Abandoned+u.Impatient, u.Arrived) }

// Event is something that happened at a time in the run (a fault on or
// off, an abort, the generator falling behind).
type Event struct {
	At     time.Duration `json:"at_ns"`
	Kind   string        `json:"kind"`
	Detail string        `json:"detail,omitempty"`
}

// StageSample is one reading of one server stage. The cumulative figures
// are the server's counters as read (a long-running target's count from its
// own start): reports take differences between samples, never the values.
type StageSample struct {
	At       time.Duration `json:"at_ns"`
	Stage    string        `json:"stage"`
	Workers  float64       `json:"workers"`
	InFlight float64       `json:"in_flight"`
	Queue    float64       `json:"queue"`
	Served   float64       `json:"served"` // cumulative
	Shed     float64       `json:"shed"`   // cumulative
	Busy     float64       `json:"busy_s"` // cumulative worker-seconds spent, accrued as they are spent
	// Capacity is the cumulative worker-seconds the stage had: the integral
	// of max(workers, busy) over time, so utilisation = ΔBusy / ΔCapacity
	// cannot exceed 1. 0 when the target does not export it (then
	// utilisation is ΔBusy / (Δt x workers), capped at 1).
	Capacity float64 `json:"capacity_s,omitempty"`
}

// Generator is the load generator's own health: how late it sent.
type Generator struct {
	// Late holds, for every send, how long after its intended time it went out.
	Late        *Histogram `json:"late"`
	MaxInFlight int64      `json:"max_in_flight"`
	// MaxHeld is the most connections users held open at once (WebSocket,
	// event streams): a service's capacity for them is its own dimension.
	MaxHeld int64 `json:"max_held,omitempty"`
	// ConnWaited counts the attempts that waited for one of the client's
	// bounded connections (or HTTP/2 streams), and ConnWaitMax is the
	// longest such wait: the generator's own queue, inside the latency.
	ConnWaited  int64         `json:"conn_waited,omitempty"`
	ConnWaitMax time.Duration `json:"conn_wait_max_ns,omitempty"`
}

// New starts an empty run with the given bucket width.
func New(meta Meta) *Run {
	if meta.Bucket <= 0 {
		meta.Bucket = time.Second
	}
	if meta.Shards == 0 {
		meta.Shards = 1
	}
	return &Run{Format: Format, Version: Version, Meta: meta, Endpoints: map[string]*Endpoint{},
		Generator: Generator{Late: NewHistogram(BucketDigits)}}
}

// BucketOf is the index of the time bucket holding at.
func (r *Run) BucketOf(at time.Duration) int { return max(0, int(at/r.Meta.Bucket)) }

// Record counts one attempt at a request.
func (r *Run) Record(endpoint string, o Outcome) {
	e := r.Endpoint(endpoint)
	e.Total.Record(o)
	e.Bucket(r.BucketOf(o.At)).Record(o)
}

// Endpoint is the endpoint's figures, made empty on first use: a recorder
// that keeps it looks no name up per answer.
func (r *Run) Endpoint(name string) *Endpoint {
	e := r.Endpoints[name]
	if e == nil {
		e = &Endpoint{Total: NewSeries(TotalDigits)}
		r.Endpoints[name] = e
	}
	return e
}

// Bucket is the endpoint's series for time bucket b, made empty on first use.
func (e *Endpoint) Bucket(b int) *Series {
	for len(e.Buckets) <= b {
		e.Buckets = append(e.Buckets, nil)
	}
	if e.Buckets[b] == nil {
		e.Buckets[b] = NewSeries(BucketDigits)
	}
	return e.Buckets[b]
}

// Count adds user outcomes at a time (the user's arrival time).
func (r *Run) Count(at time.Duration, u Users) {
	r.Users.Add(u)
	b := r.BucketOf(at)
	for len(r.UserBuckets) <= b {
		r.UserBuckets = append(r.UserBuckets, Users{})
	}
	r.UserBuckets[b].Add(u)
}

// Event notes an event.
func (r *Run) Event(at time.Duration, kind, detail string) {
	r.Events = append(r.Events, Event{At: at, Kind: kind, Detail: detail})
}

// Merge adds o (a shard or another worker's record of the same run) into r.
func (r *Run) Merge(o *Run) {
	for name, oe := range o.Endpoints {
		e := r.Endpoints[name]
		if e == nil {
			e = &Endpoint{Total: NewSeries(TotalDigits)}
			r.Endpoints[name] = e
		}
		e.Total.Merge(oe.Total)
		for len(e.Buckets) < len(oe.Buckets) {
			e.Buckets = append(e.Buckets, nil)
		}
		for i, s := range oe.Buckets {
			if s == nil {
				continue
			}
			if e.Buckets[i] == nil {
				e.Buckets[i] = NewSeries(BucketDigits)
			}
			e.Buckets[i].Merge(s)
		}
	}
	r.Users.Add(o.Users)
	for from, n := range o.LeftFrom {
		if r.LeftFrom == nil {
			r.LeftFrom = map[string]int64{}
		}
		r.LeftFrom[from] += n
	}
	for len(r.UserBuckets) < len(o.UserBuckets) {
		r.UserBuckets = append(r.UserBuckets, Users{})
	}
	for i, u := range o.UserBuckets {
		r.UserBuckets[i].Add(u)
	}
	r.Events = append(r.Events, o.Events...)
	sort.SliceStable(r.Events, func(i, j int) bool { return r.Events[i].At < r.Events[j].At })
	r.Stages = append(r.Stages, o.Stages...)
	for _, f := range o.Failures {
		r.Sample(f)
	}
	r.Generator.Late.Merge(o.Generator.Late)
	r.Generator.MaxInFlight = max(r.Generator.MaxInFlight, o.Generator.MaxInFlight)
	r.Generator.MaxHeld = max(r.Generator.MaxHeld, o.Generator.MaxHeld)
	r.Generator.ConnWaited += o.Generator.ConnWaited
	r.Generator.ConnWaitMax = max(r.Generator.ConnWaitMax, o.Generator.ConnWaitMax)
}

// EndpointNames lists the endpoints, sorted.
func (r *Run) EndpointNames() []string {
	out := make([]string, 0, len(r.Endpoints))
	for n := range r.Endpoints {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Overall merges every endpoint's whole-run series.
func (r *Run) Overall() *Series {
	all := NewSeries(TotalDigits)
	for _, e := range r.Endpoints {
		all.Merge(e.Total)
	}
	return all
}

// RetryAmplification is attempted / offered over every request.
func (r *Run) RetryAmplification() float64 {
	o := r.Overall()
	return ratio(o.Attempted, o.Offered)
}

// BucketFor picks a round bucket width giving at most ~300 buckets over a
// run of the given length (the default of the live engine and the simulator).
func BucketFor(played time.Duration) time.Duration {
	for _, b := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute} {
		if played/b <= 300 {
			return b
		}
	}
	return 5 * time.Minute
}

// Slice is the run restricted to the time buckets that start in [from,
// to): each endpoint's totals are the sums of those buckets, the users
// those who arrived in them, the events and stage samples those within
// the stretch. A capacity step's steady part is a slice of its run (its
// warm-up cut off); histograms merge exactly, so the slice's percentiles
// are its own, not averages. The generator's lateness is the whole run's.
func (r *Run) Slice(from, to time.Duration) *Run {
	out := New(r.Meta)
	out.Version = r.Version
	b0, b1 := r.BucketOf(from), r.BucketOf(to-1)+1
	for name, e := range r.Endpoints {
		oe := out.Endpoint(name)
		for b := b0; b < b1 && b < len(e.Buckets); b++ {
			if s := e.Buckets[b]; s != nil {
				oe.Bucket(b).Merge(s)
				oe.Total.Merge(s)
			}
		}
	}
	for b := b0; b < b1 && b < len(r.UserBuckets); b++ {
		out.Count(time.Duration(b)*r.Meta.Bucket, r.UserBuckets[b])
	}
	for _, ev := range r.Events {
		if ev.At >= from && ev.At < to {
			out.Events = append(out.Events, ev)
		}
	}
	for _, s := range r.Stages {
		if s.At >= from && s.At < to {
			out.Stages = append(out.Stages, s)
		}
	}
	out.StageCalls, out.Generator = r.StageCalls, r.Generator
	out.Meta.Planned, out.Meta.Elapsed = to-from, to-from
	return out
}
