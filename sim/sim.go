package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// Config is one simulation. Zero optional fields take the documented defaults.
type Config struct {
	Scenario *scenarios.Scenario
	Profile  *profile.Profile
	Seed     uint64
	// Capacity multiplies every stage's workers and queue (default 1): when
	// the scenario is played at another scale than the profile was sized
	// for, scale both by the same factor.
	Capacity float64
	// Bucket is the results' time-bucket width (default as the live engine's).
	Bucket time.Duration
	// Drain is how long users may finish once arrivals end (default 2m, virtual).
	Drain time.Duration
	// Meta fills the descriptive fields of the results.
	Meta results.Meta
	// Observe, if set, sees every answer exactly (send time and latency),
	// unrounded by histograms: for analyses such as batch means. Its
	// latency is both Corrected and Service.
	Observe func(request string, o results.Outcome)
	// Thin, if set, drops a share of the arrivals from a point on
	// (FindRelief's question: how far must they fall).
	Thin *Thinning
}

// Stats are the simulation's own counters.
type Stats struct {
	Events int64
	Stages map[string]StageStats
}

// StageStats are one stage's exact counters over the whole simulation.
type StageStats struct {
	Arrivals, Waited, Served, Shed int64
	MeanWait                       time.Duration
	Utilization                    float64
}

// PWait is the share of visits that found every worker busy.
func (s StageStats) PWait() float64 {
	if s.Arrivals == 0 {
		return 0
	}
	return float64(s.Waited) / float64(s.Arrivals)
}

type sim struct {
	ctx    context.Context // checked once a time bucket
	cfg    Config
	s      *scenarios.Scenario
	p      *profile.Profile
	run    *results.Run
	events eventQueue
	seq    uint64
	now    float64
	stages map[string]*stage
	sched  *arrival.Schedule
	plan   *arrival.Plan
	end    float64 // no event after this
	stats  Stats
	live   int // users in their journey
	// the profile's rules (rules.go)
	expiries []expiryRule
	limits   []limitRule
	values   map[*user][]float64 // the times of the values of expiry rules but the first
	// freeUsers are users whose journey ended, for the next arrivals.
	freeUsers    []*user
	userSlab     []user // users not yet used (pool.go)
	visitSlab    []visit
	requestSlab  []request
	freeVisits   []*visit
	freeRequests []*request
	lanes        laneSet
	pending      arrival.Arrival // the next arrival (one is scheduled at a time)
	reqs         map[string]*reqInfo
	kinds        []string // the error kinds answers have had (record.go)
	lastKind     int
	steps        map[*scenarios.Step]*stepInfo
	stepCache    [256]struct {
		st *scenarios.Step
		si *stepInfo
	}
	faults map[int]*onFault
	client []*onFault // request-level faults on now (client-side, or the proxy's), in name order
	thin   *rand.Rand // Thin's draws
	rng    *rand.Rand // the proxy's faults' draws, as the proxy has its own stream live
	// userFaults are the users' client-fault streams, when the scenario has client-side faults
	userFaults map[*user]*faultStream
	err        error // the simulation cannot go on (errTooLarge)
	// orphans: the service finishes the work of clients that gave up
	// (the profile's server.abandoned: finish).
	orphans bool
	// due is a user's action due now, when no other event is (flow.go):
	// the clock's next event, kept out of the queue.
	due event
}

// Run simulates the scenario against the profile. Cancelling ctx stops it
// at its next time bucket with ctx's error (a national run takes seconds).
func Run(ctx context.Context, cfg Config) (*results.Run, Stats, error) {
	if cfg.Capacity <= 0 {
		cfg.Capacity = 1
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 2 * time.Minute
	}
	if err := check(cfg.Scenario, cfg.Profile); err != nil {
		return nil, Stats{}, err
	}
	plan := arrival.New(cfg.Scenario)
	if cfg.Bucket <= 0 {
		cfg.Bucket = results.BucketFor(plan.Played())
	}
	meta := cfg.Meta
	meta.Kind, meta.Seed, meta.Bucket, meta.Planned, meta.Shards = "sim", cfg.Seed, cfg.Bucket, plan.Played(), 1
	if meta.Scenario == "" {
		meta.Scenario = cfg.Scenario.Name
	}
	if meta.Profile == "" {
		meta.Profile = cfg.Profile.Name
	}
	m := &sim{ctx: ctx, cfg: cfg, s: cfg.Scenario, p: cfg.Profile, run: results.New(meta), stages: map[string]*stage{},
		sched: plan.Schedule(cfg.Seed), plan: plan, end: (plan.Played() + cfg.Drain).Seconds(), values: map[*user][]float64{},
		steps: map[*scenarios.Step]*stepInfo{}, reqs: map[string]*reqInfo{}, faults: map[int]*onFault{}, rng: rand.New(rand.NewPCG(cfg.Seed, 0xfa17))}
	for i, name := range cfg.Profile.StageNames() {
		m.stages[name] = newStage(name, cfg.Profile.Stages[name], cfg.Capacity, cfg.Seed, i)
	}
	m.orphans = cfg.Profile.Server.Abandoned == profile.AbandonedFinish
	if slices.ContainsFunc(cfg.Scenario.Faults, scenarios.Fault.ClientSide) {
		m.userFaults = map[*user]*faultStream{}
	}
	m.run.StageCalls = cfg.Profile.Calls()
	m.setupRules()
	m.nextArrival()
	m.scheduleFaults(plan)
	if end, ok := plan.SurgeEnd(); ok {
		m.run.Event(end, "surge-end", "surge: the arrival rate falls below half its peak")
	}
	m.at(0, plainEvent(evSample))
	m.loop()
	if m.err != nil {
		return nil, m.stats, m.err
	}
	m.finish(plan.Played())
	return m.run, m.stats, nil
}

func (m *sim) loop() {
	for {
		e := m.due
		if e.p != nil {
			m.due = event{} // nothing else is due now (complete)
		} else {
			f := m.events.peek()
			l := m.earliestLane()
			switch {
			case l != nil && (f == nil || less(l.head.e, *f)):
				e = l.pop()
			case f != nil:
				e = *f
				m.events.drop()
			default:
				return
			}
		}
		if e.t > m.end || m.err != nil {
			break
		}
		m.now = e.t
		m.stats.Events++
		if e.stale() {
			continue // its visit or request ended and was reused: nothing to do
		}
		switch e.kind() {
		case evArrival:
			m.arrive(e)
		case evUser:
			m.act(e.user())
		case evServiceDone:
			m.serviceDone(e.visit())
		case evQueueTimeout:
			m.queueTimeout(e.visit())
		case evDeadline:
			m.deadline(e.request())
		case evFaultOn:
			m.faultOn(e.fault())
		case evFaultOff:
			m.faultOff(e.fault())
		case evStart:
			if r := e.request(); !r.done {
				m.startRoute(r)
			}
		case evSample:
			if err := m.ctx.Err(); err != nil {
				m.err = err
				return
			}
			m.sample()
			if m.live > 0 || m.events.Len() > 0 || m.earliestLane() != nil {
				m.at(m.now+m.run.Meta.Bucket.Seconds(), plainEvent(evSample))
			}
		}
	}
}

// nextArrival schedules the schedule's next arrival.
func (m *sim) nextArrival() {
	a, ok := m.sched.Next()
	for ok && m.thinned(a.At) {
		a, ok = m.sched.Next()
	}
	if !ok {
		return
	}
	m.pending = a
	m.at(a.At.Seconds(), plainEvent(evArrival))
}

func (m *sim) arrive(event) {
	a := m.pending
	for p := range a.Party {
		u := m.newUser(a, p)
		u.next = u.walk.Start()
		m.live++
		m.at(m.now+u.next.At.Seconds(), userEvent(u))
	}
	m.nextArrival()
}

// finish counts the users still in their journey as unfinished, records
// every user's outcome and closes the results.
func (m *sim) finish(planned time.Duration) {
	m.run.Meta.Elapsed = spec.Seconds(m.now)
	m.settle()
	sort.SliceStable(m.run.Events, func(i, j int) bool { return m.run.Events[i].At < m.run.Events[j].At })
	m.run.Meta.Complete, m.run.Meta.Ended = true, "done"
	if m.live > 0 {
		m.run.Meta.Ended = fmt.Sprintf("done (%d users still in their journey after the drain)", m.live)
	}
	m.run.Users.Unfinished += int64(m.live)
	m.run.Users.Arrived += int64(m.live)
	m.stats.Stages = map[string]StageStats{}
	for _, name := range spec.SortedKeys(m.stages) {
		st := m.stages[name]
		st.advance(m.now)
		ss := StageStats{Arrivals: st.arrivals, Waited: st.waited, Served: st.served, Shed: st.shed}
		if st.waited > 0 {
			ss.MeanWait = spec.Seconds(st.waitSum / float64(st.arrivals))
		}
		if st.capInt > 0 {
			ss.Utilization = st.busyInt / st.capInt
		}
		m.stats.Stages[name] = ss
	}
}

func (m *sim) sample() {
	at := spec.Seconds(m.now)
	for _, name := range spec.SortedKeys(m.stages) {
		st := m.stages[name]
		st.advance(m.now)
		m.run.Stages = append(m.run.Stages, results.StageSample{At: at, Stage: name, Workers: float64(st.limit),
			InFlight: float64(st.busy), Queue: float64(st.live), Served: float64(st.served), Shed: float64(st.shed), Busy: st.busyInt, Capacity: st.capInt})
	}
}

// Check makes sure the scenario can run against the profile (see check).
func Check(s *scenarios.Scenario, p *profile.Profile) error { return check(s, p) }

// check makes sure every fault names a stage of the profile, and every request of every journey has a route for every
// platform a user may be on, and that its stages exist.
func check(s *scenarios.Scenario, p *profile.Profile) error {
	platforms := map[string]bool{}
	for pl := range s.Platforms {
		platforms[pl] = true
	}
	for _, c := range s.Cohorts {
		for pl := range c.Platforms {
			platforms[pl] = true
		}
	}
	for _, x := range s.Extra {
		for pl := range x.Platforms {
			platforms[pl] = true
		}
	}
	for i, f := range s.Faults {
		if _, ok := p.Stages[f.Stage]; !ok && f.Stage != "*" && !f.ClientSide() {
			return s.Errorf(fmt.Sprintf("faults[%d].stage", i), "profile %s has no stage %q (stages: %v)", p.Name, f.Stage, p.StageNames())
		}
	}
	for _, name := range spec.SortedKeys(s.Journeys) {
		for i, st := range s.Journeys[name] {
			if st.Request == "" {
				continue
			}
			t, _ := s.Request(st.Request)
			ep := t.EndpointName(st.Request)
			for pl := range platforms {
				steps, ok := p.Route(ep, pl)
				if !ok {
					return s.Errorf(fmt.Sprintf("journeys.%s[%d].request", name, i), "profile %s has no route for endpoint %q (platform %s)", p.Name, ep, pl)
				}
				var missing string
				profile.Walk(steps, "", func(step profile.Step, _ string, _ []string) {
					if _, ok := p.Stages[profile.StageName(step.Stage, pl)]; !ok && missing == "" {
						missing = profile.StageName(step.Stage, pl)
					}
				})
				if missing != "" {
					return s.Errorf(fmt.Sprintf("journeys.%s[%d].request", name, i), "profile %s has no stage %q for platform %s", p.Name, missing, pl)
				}
			}
		}
	}
	return nil
}

// sortedKeys lists a map's keys in order.
