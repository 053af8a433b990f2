package replay

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/replay/internal/client"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/results/vegetafmt"
	"github.com/surgekit/surge/scenarios/rpc"
)

// Config is one run. Zero optional fields take the documented defaults.
type Config struct {
	Scenario *scenarios.Scenario
	// Target is the service's base URL, such as http://127.0.0.1:8080.
	Target string
	// Seed seeds arrivals and every user decision.
	Seed uint64
	// Shard of Shards plays that share of the arrivals (default 0 of 1):
	// the arrivals whose sequence number is Shard modulo Shards, each user
	// seeded and named by its sequence number as in the unsharded run, so
	// the shards together play exactly the unsharded run's users. The shards
	// share one target: shard 0 alone switches the target's faults (through
	// the default switch) and samples its metrics; every shard applies the
	// client-side faults and its own safety abort.
	Shard, Shards int
	// StartAt, if set, is the wall-clock instant the schedule starts at
	// (the shards of one run share it, so their curves add up in time).
	// The run waits for it once the target is reached; started past it, it
	// records by how much, and the sends it is behind go out late, counted
	// as the generator's lateness.
	StartAt time.Time
	// MaxConns bounds connections to the target (default DefaultMaxConns);
	// requests beyond it wait for a connection, and the wait is charged to
	// their corrected latency.
	MaxConns int
	// MaxUsers bounds the users in their journey at once (default
	// DefaultMaxUsers). Open model up to it; at it, arrivals wait for a user
	// to finish, their sends go out late (recorded as the generator's
	// lateness, with a client-queue event) and their latency still runs from
	// the intended time. It keeps memory bounded past the generator's or the
	// target's ceiling: a user in its journey costs about 8 KB of live heap
	// (its goroutine stack and state); at the default cap the generator
	// measured 40 MB live and 156 MB resident (the GC's default headroom
	// doubles the heap) against a target overloaded many times over.
	MaxUsers int
	// SendSlack is how late past its intended time a send may go out so
	// that sends due close together share one wake-up of the dispatcher
	// (0: none, every send paced on its own; surge run's default is
	// DefaultSendSlack). A wake-up is the costliest thing the generator does at moderate
	// rates: about 25 µs of CPU on a virtual machine, as much as the rest
	// of a request (ci/bench/RESULTS.md). The lateness is recorded and, as
	// any other, counted in the corrected latency.
	SendSlack time.Duration
	// Bucket is the results' time-bucket width (default: a round width
	// giving at most ~300 buckets over the played timeline).
	Bucket time.Duration
	// Drain is how long users still in their journey may go on once the
	// arrivals end or the run is interrupted (default DefaultDrain). The
	// drain is cut at once when Cut is closed, or when ctx is cancelled
	// during a drain that began because the arrivals ended.
	Drain time.Duration
	// Cut, if set, ends the drain (or a run yet to drain) at once when
	// closed: the CLI closes it on a second Ctrl-C.
	Cut <-chan struct{}
	// Enough, if set, ends the arrivals early when closed, the users
	// draining as at the schedule's end: the caller has what it came for
	// (a capacity step whose verdict is decided). The run ends "decided".
	Enough <-chan struct{}
	// Credentials gives credentials to users who hold one before the window
	// (default: POST Target/admin/credentials, the reference server's). An
	// item {"wallet": ..., "session": ...} sets ${credential} and ${session};
	// any other item is the credential.
	Credentials func(ctx context.Context, n int) ([]json.RawMessage, error)
	// SampleMetrics scrapes Target/metrics each second for stage samples.
	SampleMetrics bool
	// Progress, if set, is called about once a second.
	Progress func(Progress)
	// Meta fills the descriptive fields of the results (scenario, profile ...).
	Meta results.Meta
	// TLS configures connections to an https:// target (default: the
	// system's roots).
	TLS *tls.Config
	// Methods are the gRPC methods the scenario's calls may bind to
	// (compiled from its .proto files); nil: the server's reflection
	// service is asked when the run starts.
	Methods *rpc.Methods
	// Protocol pins an https:// target's protocol (ProtocolH2 or
	// ProtocolHTTP1); empty: the one the server picks by ALPN, h2 preferred.
	// An h2c:// target is HTTP/2 with prior knowledge.
	Protocol string
	// Faults switches the scenario's faults (default: the reference
	// server's admin API at Target).
	Faults FaultSwitch
	// AdminToken is the bearer token of the target's admin API (the
	// reference server's faults and seeded credentials); it is sent to the
	// admin paths only and never recorded.
	AdminToken string
	// Live, if set, is given the run as it starts, for a caller to look at
	// it while it runs (the Prometheus exporter).
	Live *Live
	// Raw, if set, gets every answer as a vegeta Result (vegetafmt.Log); the run
	// flushes it when it ends.
	Raw *vegetafmt.Log
	// Data are the scenario's data tables and multipart files
	// (scenarios.LoadData); required when the scenario has data.
	Data *scenarios.Data
	// Env looks up the environment variables the templates read
	// (${env.NAME}); default os.LookupEnv. Their values are sent to the
	// target only, never recorded.
	Env func(string) (string, bool)
	// StageCalls is the target's call graph between stages, when known
	// (the embedded reference server's profile), for the report's
	// bottleneck: it is copied into the results.
	StageCalls map[string][]string
}

// Defaults of Config.
const (
	// DefaultMaxConns is DefaultMaxUsers: a user has one request out at
	// a time (but for a journey's parallel steps), so below the users' cap
	// no request waits for a connection. Each person in the field has a
	// connection of their own; a lower bound made requests queue in the
	// generator past the knee (at 512, a service whose requests hung for
	// a 2 s timeout at 260/s held every connection, and a request it
	// answered in 50 ms measured 1.4 s), and the wait read as the service's.
	DefaultMaxConns = DefaultMaxUsers
	DefaultMaxUsers = 5_000
	// DefaultSendSlack is a quarter of the 1 ms a send may be late and
	// still count as on schedule (ci/bench's ceiling criterion).
	DefaultSendSlack = 250 * time.Microsecond
	DefaultDrain     = 2 * time.Minute
	credentialPool   = 64
)

// Progress is a once-a-second view of a run.
type Progress struct {
	Elapsed, Planned time.Duration
	Arrivals         float64       // users per second the curve plans now (this shard's share)
	Answers          float64       // answers (of any kind) in the last second
	Errors           float64       // share of failed answers in the last second
	P99              time.Duration // corrected, last second
	Active           int64         // users in their journey
	MaxLate          time.Duration // latest send in the last second
	// Draining says the arrivals are over and the users still in their
	// journey are finishing (for at most the drain).
	Draining bool
	Done     bool
}

// ErrUnreachable is wrapped when the target does not accept connections.
var ErrUnreachable = errors.New("replay: target unreachable")

type engine struct {
	users       sync.Pool // *user, reused once counted
	cfg         Config
	load        client.Load            // the load: bounded connections
	calls       map[string]*rpc.Method // the gRPC calls' methods, by full name
	waker       *waker
	requests    map[string]*scenarios.Request
	platforms   map[string]json.RawMessage // the scenario's platforms as JSON strings
	ctl         *http.Client               // the control plane (faults, metrics): never queued behind the load
	ctlBase     string                     // the target's URL as ctl reaches it (control)
	start       time.Time
	credentials []held
	env         map[string]json.RawMessage // ${env.NAME} values, by "env.NAME"
	secrets     []secret                   // their values, to redact from what is recorded
	tables      []bound                    // the data tables, bound to users
	// What users coming back later need (return.go), set by play.
	plan     *arrival.Plan
	pool     *userPool
	userWG   *sync.WaitGroup
	usersCtx context.Context

	mu     sync.Mutex
	run    *results.Run
	out    inFlight    // the attempts still out (Live.Answered)
	window secondStats // the current second, for progress and safety

	active         atomic.Int64
	mostActive     atomic.Int64 // the most users in their journey at once
	held, mostHeld atomic.Int64 // connections users hold open (held.go), now and at most
	heldHTTP       *http.Client // opens them
	draining       atomic.Bool
	behindNote     bool            // the generator-behind event was recorded
	connNote       bool            // the connection-cap event was recorded
	queueNote      bool            // the client-queue event was recorded
	rawNote        bool            // the raw-full event was recorded
	transportNoted map[string]bool // the error kinds whose first transport failure is an event

	clientMu  sync.Mutex
	clientOn  map[string]*clientFault // client-side faults on now
	clientsOn atomic.Int32            // len(clientOn), read without the lock
}

// behind is how late a send may go out before the run says the generator
// has fallen behind its schedule.
const behind = 50 * time.Millisecond

// secondStats are counters of one second.
type secondStats struct {
	answered, failed int64
	kinds            map[string]int64
	lat              *results.Histogram
	maxLate          time.Duration
}

func newSecond() secondStats {
	return secondStats{kinds: map[string]int64{}, lat: results.NewHistogram(results.BucketDigits)}
}

// Run plays the scenario against the target and returns what it measured.
// When ctx is cancelled it stops the arrivals, lets users drain for
// cfg.Drain, and returns the partial results (Meta.Complete false) with no
// error: an interrupted run is still a valid run.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	e, plan, done, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer done()
	e.play(ctx, plan)
	return e.run, nil
}

// fill checks the config and fills its defaults (but Bucket, which the
// plan's length decides).
func (c *Config) fill() error {
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.Shards < 0 || c.Shard < 0 || c.Shard >= c.Shards {
		return fmt.Errorf("replay: shard %d of %d: want 0 <= shard < shards", c.Shard, c.Shards)
	}
	if c.Shard != 0 { // the shards share the target: one samples it
		c.SampleMetrics = false
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxUsers <= 0 {
		c.MaxUsers = DefaultMaxUsers
	}
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	if c.SendSlack < 0 {
		return fmt.Errorf("replay: the send slack must not be negative, have %v", c.SendSlack)
	}
	return nil
}

// start checks the config, fills its defaults, reaches the target and
// readies an engine; done closes what it opened.
func start(ctx context.Context, cfg Config) (e *engine, plan *arrival.Plan, done func(), err error) {
	if err := cfg.fill(); err != nil {
		return nil, nil, nil, err
	}
	if err := reachable(ctx, cfg.Target); err != nil {
		return nil, nil, nil, err
	}
	plan = arrival.New(cfg.Scenario)
	if cfg.Bucket <= 0 {
		cfg.Bucket = results.BucketFor(plan.Played())
	}
	load, err := client.New(ctx, cfg.Target, cfg.Protocol, cfg.MaxConns, cfg.TLS)
	if err != nil {
		return nil, nil, nil, err
	}
	calls, err := bindCalls(ctx, cfg, load)
	if err != nil {
		return nil, nil, nil, err
	}
	e = newEngine(cfg, load)
	e.calls = calls
	if err := e.setupData(plan); err != nil {
		return nil, nil, nil, err
	}
	e.ctl, e.ctlBase = control(cfg.Target, cfg.TLS)
	e.heldHTTP = heldClient(cfg.TLS)
	done = func() { e.ctl.CloseIdleConnections(); load.CloseIdle() }
	if err := e.loadCredentials(ctx); err != nil {
		done()
		return nil, nil, nil, err
	}
	if err := e.begin(ctx, plan); err != nil {
		done()
		return nil, nil, nil, err
	}
	e.attach()
	if cfg.SampleMetrics { // the counters' values at the start: the run's own are differences from these
		e.sample()
	}
	return e, plan, done, nil
}

// newEngine is an engine of cfg over its load connections, with the
// templates its journeys send.
func newEngine(cfg Config, load client.Load) *engine {
	e := &engine{cfg: cfg, window: newSecond(), clientOn: map[string]*clientFault{}, load: load, requests: map[string]*scenarios.Request{},
		transportNoted: map[string]bool{}}
	e.platforms = map[string]json.RawMessage{}
	for name := range cfg.Scenario.Platforms {
		v := vars{}
		v.set("p", name)
		e.platforms[name] = v["p"]
	}
	for _, steps := range cfg.Scenario.Journeys {
		for _, st := range steps {
			if t, ok := cfg.Scenario.Request(st.Request); ok && st.Request != "" {
				e.requests[st.Request] = &t
			}
		}
	}
	return e
}

// begin waits for the start and starts the run's results.
func (e *engine) begin(ctx context.Context, plan *arrival.Plan) error {
	cfg := e.cfg
	meta := cfg.Meta
	meta.Kind, meta.Seed, meta.Bucket, meta.Planned, meta.Shard, meta.Shards = "run", cfg.Seed, cfg.Bucket, plan.Played(), cfg.Shard, cfg.Shards
	if meta.Scenario == "" {
		meta.Scenario = cfg.Scenario.Name
	}
	meta.Target, meta.Protocol = cfg.Target, e.load.Protocol()
	late, err := waitStart(ctx, cfg.StartAt)
	if err != nil {
		return err
	}
	e.start = time.Now().Add(-late)
	meta.Started = e.start.UTC()
	e.run = results.New(meta)
	e.run.StageCalls = cfg.StageCalls
	if late > behind {
		e.run.Event(0, "late-start", fmt.Sprintf("shard %d of %d started %v after the common start: the sends due meanwhile went out late, counted as the generator's lateness",
			cfg.Shard, cfg.Shards, late.Round(time.Millisecond)))
	}
	return nil
}

// waitStart waits for at (none when zero) and says how late past it the
// run starts.
func waitStart(ctx context.Context, at time.Time) (late time.Duration, err error) {
	if at.IsZero() {
		return 0, nil
	}
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, fmt.Errorf("replay: interrupted while waiting for the start at %s", at.Format(time.RFC3339))
		}
	}
	return max(0, time.Since(at)), nil
}

// attach gives the engine to the caller's Live view and the requests'
// methods and paths to the raw log.
func (e *engine) attach() {
	if l := e.cfg.Live; l != nil {
		l.mu.Lock()
		l.e = e
		l.mu.Unlock()
	}
	if r := e.cfg.Raw; r != nil {
		methods := map[string]string{}
		for name, t := range e.requests {
			methods[name] = t.Method + " " + t.Path
			if t.IsGRPC() { // a call is a POST to its method's path; its code is in Error (the HTTP status is 200)
				methods[name] = "POST /" + t.GRPC
			}
		}
		r.SetMethods(methods)
	}
}

// serve plays one person of an arrival from start, and counts what became
// of it.
func (e *engine) serve(ctx context.Context, a arrival.Arrival, person int, start time.Time) {
	u := e.newUser(a, person)
	e.settle(u, u.run(ctx, start, u.walk.Start()))
}

// settle counts a user whose journey is over, or sends it away to come
// back later (return.go).
func (e *engine) settle(u *user, last scenarios.Action) {
	if last.Away && e.away(u, last) {
		return
	}
	e.mu.Lock()
	e.run.Count(u.arrived, u.out)
	e.mu.Unlock()
	e.users.Put(u)
}

// play dispatches the arrivals, drains the users still in their journey,
// and finishes the run's figures.
func (e *engine) play(ctx context.Context, plan *arrival.Plan) {
	arrivals, stopArrivals := context.WithCancel(ctx)
	defer stopArrivals()
	users, cutUsers := context.WithCancel(context.Background())
	defer cutUsers()
	abort := make(chan results.Abort, 1)
	monitorDone, stopMonitor := make(chan struct{}), make(chan struct{})
	go func() { defer close(monitorDone); e.monitor(plan, stopMonitor, abort) }()
	var faults sync.WaitGroup
	faults.Add(1)
	e.runFaults(plan, stopMonitor, &faults)
	if end, ok := plan.SurgeEnd(); ok { // marked now, on the timeline: recovery is measured after it
		e.mu.Lock()
		e.run.Event(end, "surge-end", "surge: the arrival rate falls below half its peak")
		e.mu.Unlock()
	}
	e.waker = newWaker(e.cfg.SendSlack)
	var wg sync.WaitGroup
	pool := newUserPool(e.cfg.MaxUsers, func(j userJob) { // the user is made on its own goroutine: the dispatcher only paces
		defer wg.Done()
		defer e.active.Add(-1)
		if j.back != nil {
			e.resume(users, j.back, j.next)
			return
		}
		e.serve(users, j.a, j.person, e.start.Add(j.a.At))
	})
	defer pool.close()
	e.plan, e.pool, e.userWG, e.usersCtx = plan, pool, &wg, users
	ended := e.dispatch(arrivals, plan, pool, &wg, abort)
	ended = e.drain(ctx, ended, &wg, cutUsers)
	close(stopMonitor)
	<-monitorDone
	faults.Wait()
	e.finish(ended)
}

// dispatch starts each arrival's users at its intended time until the
// schedule ends, the arrivals are stopped or the safety clause aborts; it
// says how the run ended so far ("done" or "aborted: ...").
//
// Pacing: Go's timers wake about a millisecond late on an idle machine
// (the netpoller's resolution), so a wait sleeps on a timer until
// timerSlack before the send and naps the rest with nanosleep, which wakes
// within ~0.1 ms (ci/bench/RESULTS.md). The naps also wake the users whose
// pauses end meanwhile (waker.go).
func (e *engine) dispatch(arrivals context.Context, plan *arrival.Plan, pool *userPool, wg *sync.WaitGroup, abort <-chan results.Abort) string {
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	due := make(chan time.Time)
	close(due)
	sched := plan.Shard(e.cfg.Seed, e.cfg.Shard, e.cfg.Shards)
	for a, ok := sched.Next(); ok; a, ok = sched.Next() {
		intended := e.start.Add(a.At)
		wake := intended // a send already due goes now; one not yet due, up to the slack late, with the others due by then
		if time.Until(intended) > 0 {
			wake = intended.Add(e.cfg.SendSlack)
		}
		if stop, why := e.pace(wake, wait, arrivals, abort); stop {
			return why
		}
		if stop, why := e.stopped(arrivals, abort, due); stop {
			return why
		}
		for p := range a.Party {
			wg.Add(1)
			e.arrived()
			job := userJob{a: a, person: p}
			if !pool.tryRun(job) {
				e.noteClientQueue(a.At)
				if !pool.wait(arrivals, job) {
					wg.Done()
					e.active.Add(-1)
					return "done"
				}
			}
		}
		// Let the user just started run on this P now: otherwise it waits
		// for another P to steal it while the dispatcher naps holding this one.
		runtime.Gosched()
	}
	return "done"
}

// pace waits until wake, waking the pausing users due meanwhile; it stops
// early when the arrivals end.
func (e *engine) pace(wake time.Time, wait *time.Timer, arrivals context.Context, abort <-chan results.Abort) (bool, string) {
	for {
		now := time.Now()
		next, users := e.waker.wake(now)
		if !wake.After(now) {
			return false, ""
		}
		if !users || wake.Before(next) {
			next = wake
		}
		switch d := next.Sub(now); {
		case d <= 0: // a user is due: the next turn wakes it
		case d <= timerSlack:
			nap(d)
		default:
			wait.Reset(d - timerSlack)
			if stop, why := e.stopped(arrivals, abort, wait.C); stop {
				return true, why
			}
		}
	}
}

// stopped waits for tick (or a user handed over to the dispatcher) and
// says whether the arrivals end instead: interrupted, or aborted by the
// safety clause (recorded). With a closed tick it only looks.
func (e *engine) stopped(arrivals context.Context, abort <-chan results.Abort, tick <-chan time.Time) (bool, string) {
	select {
	case <-arrivals.Done():
		return true, "done"
	case <-e.cfg.Enough:
		e.event("decided", "arrivals ended early: the caller had what it needed")
		return true, "decided"
	case a := <-abort:
		e.mu.Lock()
		e.run.Meta.Abort = &a
		e.mu.Unlock()
		e.event("aborted", fmt.Sprintf("%s: measured %.2f%% over %d answers; arrivals stopped", a.Clause, 100*a.Measured, a.Samples))
		return true, "aborted: " + a.Clause
	case <-tick:
		return false, ""
	case <-e.waker.poke: // a user was handed over: it may be due first
		return false, ""
	}
}

// drain lets the users still in their journey finish: it ends by itself,
// at the drain's limit, or when cut (by Cut, or by ctx when the arrivals
// had ended before it: the first Ctrl-C then). It says how the run ended.
func (e *engine) drain(ctx context.Context, ended string, wg *sync.WaitGroup, cutUsers context.CancelFunc) string {
	cutNow, interrupt := e.cfg.Cut, ctx.Done()
	if ctx.Err() != nil {
		ended, interrupt = "interrupted", nil
		e.event("interrupted", "arrivals stopped; draining users for "+e.cfg.Drain.String()+" (interrupt again to cut the drain)")
	}
	e.draining.Store(true)
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	wakerDone := make(chan struct{}) // the dispatcher no longer wakes pausing users: the waker does
	go func() { defer close(wakerDone); e.waker.run(drained) }()
	defer func() { <-wakerDone }()
	select {
	case <-drained:
		return ended
	case <-time.After(e.cfg.Drain):
		e.event("cut", fmt.Sprintf("%d users still in their journey after the %v drain", e.active.Load(), e.cfg.Drain))
	case <-cutNow:
		ended = e.cutBy("drain cut by an interrupt")
	case <-interrupt:
		ended = e.cutBy("drain cut by an interrupt")
	}
	cutUsers()
	e.load.Cut()
	<-drained
	return ended
}

// cutBy records why the drain was cut, with the users it cuts; the run is
// interrupted.
func (e *engine) cutBy(why string) string {
	e.event("cut", fmt.Sprintf("%s: %d users still in their journey", why, e.active.Load()))
	return "interrupted"
}

// finish sets the run's ending and drops the events past what it reached.
func (e *engine) finish(ended string) {
	if e.cfg.Raw != nil {
		if err := e.cfg.Raw.Flush(); err != nil {
			e.run.Event(time.Since(e.start), "raw-error", "writing the raw results file: "+err.Error())
		}
	}
	e.redactRecorded()
	e.run.Meta.Elapsed = time.Since(e.start)
	e.run.Generator.MaxInFlight = e.mostActive.Load()
	e.run.Generator.MaxHeld = e.mostHeld.Load()
	e.run.Meta.Ended = ended
	e.run.Meta.Complete = ended == "done"
	reached := e.run.Meta.Elapsed // a run cut short never reached what was planned after it (the surge's end)
	if e.run.Meta.Complete {
		reached = max(reached, e.run.Meta.Planned)
	}
	e.run.Events = slices.DeleteFunc(e.run.Events, func(ev results.Event) bool { return ev.At > reached })
	sort.SliceStable(e.run.Events, func(i, j int) bool { return e.run.Events[i].At < e.run.Events[j].At })
}

// arrived counts a user into its journey, and the most there were at once.
func (e *engine) arrived() {
	n := e.active.Add(1)
	for m := e.mostActive.Load(); n > m && !e.mostActive.CompareAndSwap(m, n); m = e.mostActive.Load() {
	}
}

// noteClientQueue records, once, that the users cap bound.
func (e *engine) noteClientQueue(at time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.queueNote {
		return
	}
	e.queueNote = true
	e.run.Event(at, "client-queue", fmt.Sprintf("%d users in their journey, the cap (--max-users): later arrivals wait for one to finish; their sends go out late and latency stays measured from the intended times", e.cfg.MaxUsers))
}

// record counts one attempt (called by users); a failure is sampled while
// its request and kind have room, and the first transport failure of each
// kind is an event with its message.
func (e *engine) record(endpoint string, o results.Outcome, late time.Duration, ans *answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.run.Record(endpoint, o)
	if o.Err != "" && e.run.WantsSample(endpoint, o.Err) {
		e.run.Sample(sampleOf(endpoint, o, ans))
	}
	if ans.err != nil && !e.transportNoted[o.Err] {
		e.transportNoted[o.Err] = true
		e.run.Event(o.At, "transport-error", transportNote(endpoint, o.Err, ans.err))
	}
	e.run.Generator.Late.Record(late)
	e.connWaited(o.At, ans.waited)
	if e.cfg.Raw != nil && !e.cfg.Raw.Add(endpoint, o, e.start, ans.status, len(ans.body)) && !e.rawNote {
		e.rawNote = true
		e.run.Event(o.At, "raw-full", fmt.Sprintf("the raw results file reached its limit (%d bytes): later answers are in results.json only", e.cfg.Raw.Limit()))
	}
	w := &e.window
	w.answered++
	if o.Err != "" {
		w.failed++
		w.kinds[o.Err]++
	}
	w.lat.Record(o.Corrected)
	w.maxLate = max(w.maxLate, late)
	if late > behind && !e.behindNote {
		e.behindNote = true
		e.run.Event(o.At+late, "generator-behind", fmt.Sprintf("a send went out %v after its intended time: the generator cannot keep the schedule; latencies stay measured from the intended times", late.Round(time.Millisecond)))
	}
}

// connWaited counts an attempt that waited for one of the client's
// bounded connections, and records the first wait longer than behind as
// a connection-cap event: from there the latencies hold the generator's
// own queue as well as the service's time.
func (e *engine) connWaited(at time.Duration, waited time.Duration) {
	if waited <= 0 {
		return
	}
	g := &e.run.Generator
	g.ConnWaited++
	g.ConnWaitMax = max(g.ConnWaitMax, waited)
	if waited > behind && !e.connNote {
		e.connNote = true
		e.run.Event(at, "connection-cap", fmt.Sprintf("a request waited %v for a connection: every one the client may open (--max-conns %d) was busy, with HTTP/2 every stream the server allows on them; latencies from here include that wait, the generator's own queue, not the service's (raise --max-conns)",
			waited.Round(time.Millisecond), e.cfg.MaxConns))
	}
}

// transportNote says what a transport failure was, with a hint where one helps.
func transportNote(endpoint, kind string, err error) string {
	note := fmt.Sprintf("%s: %s: %v", endpoint, kind, err)
	if kind == "tls" {
		note += " (for a service whose certificate a private CA signed, give its certificate with SSL_CERT_FILE=ca.pem)"
	}
	return note
}

func (e *engine) event(kind, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.run.Event(time.Since(e.start), kind, detail)
}

// control is the client of the target's control plane (its faults, admin
// API and /metrics), apart from the load's connections, and the target's
// base URL as that client reaches it: an h2c:// target is an http:// URL
// spoken as HTTP/2 with prior knowledge; an https:// one negotiates h2 or
// HTTP/1.1 by ALPN.
func control(target string, conf *tls.Config) (*http.Client, string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 2, TLSClientConfig: conf, ForceAttemptHTTP2: true}
	target = client.HTTPOfWS(target)
	if scheme, rest, _ := strings.Cut(target, "://"); scheme == "h2c" || scheme == "grpc" {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
		target = "http://" + rest
	} else if scheme == "grpcs" {
		target = "https://" + rest
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: tr}, target
}

// reachable dials the target once, so an unreachable one fails in seconds.
func reachable(ctx context.Context, target string) error {
	_, addr, err := client.ParseTarget(target)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, target, err)
	}
	return c.Close()
}

// Live lets a caller look at a run while it runs (and after): the
// Prometheus exporter's view. Give it in Config.Live.
type Live struct {
	mu sync.Mutex
	e  *engine
}

// View calls f with the run as it stands and the users in their journey,
// under the engine's lock; it does nothing before the run has started.
func (l *Live) View(f func(run *results.Run, active int64)) {
	l.mu.Lock()
	e := l.e
	l.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e.run, e.active.Load())
}

// Answered is the time on the run's clock before which every attempt
// intended is answered and counted in its bucket (an attempt lands in the
// bucket of its intended send, seconds later when it waits on a slow
// service): a reader judging a stretch of the run as it stands reads only
// before it. ok is false before the run has started, and for a run
// longer than about 68 minutes.
func (l *Live) Answered() (time.Duration, bool) {
	l.mu.Lock()
	e := l.e
	l.mu.Unlock()
	if e == nil {
		return 0, false
	}
	return e.out.answeredBefore(time.Since(e.start))
}
