package results

import (
	"sort"
	"time"
)

// Format and Version identify the results format this package writes.
const (
	Format  = "surge-results"
	Version = 1
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
	Stages    []StageSample `json:"stages,omitempty"`
	Generator Generator     `json:"generator"`
}

// Meta says what was run, and how it ended.
type Meta struct {
	Scenario string        `json:"scenario"`
	Kind     string        `json:"kind"` // "run" (measured) or "sim" (predicted)
	Seed     uint64        `json:"seed"`
	Profile  string        `json:"profile,omitempty"`
	Target   string        `json:"target,omitempty"`
	Started  time.Time     `json:"started"`
	Bucket   time.Duration `json:"bucket_ns"`
	Planned  time.Duration `json:"planned_ns"` // the played timeline's length
	Elapsed  time.Duration `json:"elapsed_ns"`
	Complete bool          `json:"complete"` // false: interrupted or aborted
	Ended    string        `json:"ended"`    // why it ended: "done", "interrupted", "aborted: ..."
	Shard    int           `json:"shard"`
	Shards   int           `json:"shards"`
}

// Endpoint is one request name's whole-run series and its series per bucket.
type Endpoint struct {
	Total   *Series   `json:"total"`
	Buckets []*Series `json:"buckets"`
}

// Users counts users (not requests). Goodput is Completed / Arrived.
type Users struct {
	Arrived   int64 `json:"arrived"`
	Completed int64 `json:"completed"`
	Abandoned int64 `json:"abandoned"`
	Manual    int64 `json:"manual"`   // fell back to a manual check (no server load)
	Switched  int64 `json:"switched"` // platform switches
	Reinstall int64 `json:"reinstalled"`
	KeptAt    int64 `json:"kept_trying"`
	Impatient int64 `json:"out_of_patience"`
	// Unfinished users were still in their journey when the run ended
	// (after its drain): they count as not completed.
	Unfinished int64 `json:"unfinished"`
}

func (u *Users) add(o Users) {
	u.Arrived += o.Arrived
	u.Completed += o.Completed
	u.Abandoned += o.Abandoned
	u.Manual += o.Manual
	u.Switched += o.Switched
	u.Reinstall += o.Reinstall
	u.KeptAt += o.KeptAt
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

// StageSample is one reading of one server stage.
type StageSample struct {
	At       time.Duration `json:"at_ns"`
	Stage    string        `json:"stage"`
	Workers  float64       `json:"workers"`
	InFlight float64       `json:"in_flight"`
	Queue    float64       `json:"queue"`
	Served   float64       `json:"served"` // cumulative
	Shed     float64       `json:"shed"`   // cumulative
	Busy     float64       `json:"busy_s"` // cumulative worker-seconds
}

// Generator is the load generator's own health: how late it sent.
type Generator struct {
	// Late holds, for every send, how long after its intended time it went out.
	Late        *Histogram `json:"late"`
	MaxInFlight int64      `json:"max_in_flight"`
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
	r.Users.add(u)
	b := r.BucketOf(at)
	for len(r.UserBuckets) <= b {
		r.UserBuckets = append(r.UserBuckets, Users{})
	}
	r.UserBuckets[b].add(u)
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
	r.Users.add(o.Users)
	for len(r.UserBuckets) < len(o.UserBuckets) {
		r.UserBuckets = append(r.UserBuckets, Users{})
	}
	for i, u := range o.UserBuckets {
		r.UserBuckets[i].add(u)
	}
	r.Events = append(r.Events, o.Events...)
	sort.SliceStable(r.Events, func(i, j int) bool { return r.Events[i].At < r.Events[j].At })
	r.Stages = append(r.Stages, o.Stages...)
	r.Generator.Late.Merge(o.Generator.Late)
	r.Generator.MaxInFlight = max(r.Generator.MaxInFlight, o.Generator.MaxInFlight)
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
