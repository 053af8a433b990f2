package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
	"unsafe"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// user is one person in the simulation. Users are reused once their
// journey ends (a finished user's requests are done, and nothing reads a
// done request's user), so a national run needs only as many as are in
// their journey at once.
type user struct{ userState }

// userLines is the cache lines a user is, and prefetchUser loads: the
// build fails if a user is not exactly that (slab puts each on a line).
const userLines = 3

var (
	_ [userLines*64 - unsafe.Sizeof(user{})]byte
	_ [unsafe.Sizeof(user{}) - userLines*64]byte
)

type userState struct {
	// What act and complete read first, then the random source, then the
	// walker with its hot fields first: a user is several cache lines, and
	// with tens of thousands in their journey they are rarely in cache. An
	// event for a user prefetches all of it (prefetchUser).
	next    scenarios.Action
	tokenAt float64       // when it got the value of the profile's first expiry rule (rules.go); -Inf: it has none
	arrived time.Duration // its arrival, on the played timeline (its start: arrive runs at arrived.Seconds())
	pcg     rand.PCG      // the walker's source: a user's state is one piece of memory
	walk    scenarios.Walker
}

// newUser is a user for arrival a's person p, its streams seeded as the
// live engine seeds its users'.
func (m *sim) newUser(a arrival.Arrival, p int) *user {
	var u *user
	if n := len(m.freeUsers); n > 0 {
		u, m.freeUsers = m.freeUsers[n-1], m.freeUsers[:n-1]
	} else {
		u = slab(&m.userSlab) // each on a line: prefetchUser loads its three lines, not parts of four
	}
	u.arrived, u.tokenAt = a.At, math.Inf(-1)
	u.pcg.Seed(a.UserSeed(m.cfg.Seed, p, arrival.StreamWalker))
	u.walk.Reset(m.s, a.Journey, a.Platform, rand.New(&u.pcg))
	if m.userFaults != nil { // its own stream for the client-side faults (none draws a venue here)
		fs := m.userFaults[u]
		if fs == nil {
			fs = &faultStream{}
			fs.rng = rand.New(&fs.pcg)
			m.userFaults[u] = fs
		}
		fs.pcg.Seed(a.UserSeed(m.cfg.Seed, p, arrival.StreamFaults))
	}
	return u
}

// reqInfo is what the simulator needs of a request template, worked out once.
type reqInfo struct {
	name     string
	tmpl     scenarios.Request
	endpoint string
	call     bool // a gRPC call: its answers' kinds are its codes' (CallKind)
	// The profile's rules (rules.go): the expiry rule of a value it uses
	// and the kind its refusal is, the expiry rule of the values its answer
	// carries, its endpoint's limit rule and that refusal's kind; -1: none.
	uses, sets, limit   int8
	usesKind, limitKind string
	routes              []platformRoute
	figures             *results.Endpoint // where its answers are recorded, once there is one
	series              *results.Series   // figures' series for bucket, the last recorded into
	bucket              int
	errs                tally   // its error counts, until the end (record.go)
	instant             []int64 // its answers given at once, by bucket
}

// platformRoute is a request's route on one platform, its stages resolved.
type platformRoute struct {
	bytes    *byte // platform's bytes: of one string the route was asked for by (the same bytes and length are the same name)
	platform string
	root     *hop // no stage: its calls are the route's steps
}

// hop is a step of a route with its stage resolved.
type hop struct {
	st      *stage
	calls   []hop
	async   bool
	service *spec.Dist // this step's own service time at its stage (nil: the stage's)
	share   float64    // the share of requests that make this visit (1: all)
}

// route is the request's route for a platform. A few platforms, and a
// few strings holding their names (a user's platform comes from the
// scenario's lists): a scan by the address of the name's bytes beats
// hashing, and comparing names, whose lengths are often the same (kakao,
// naver).
func (m *sim) route(ri *reqInfo, platform string) *hop {
	p := unsafe.StringData(platform)
	for i := range ri.routes {
		if r := &ri.routes[i]; r.bytes == p && len(r.platform) == len(platform) {
			return ri.routes[i].root
		}
	}
	var h *hop
	if i := slices.IndexFunc(ri.routes, func(r platformRoute) bool { return r.platform == platform }); i >= 0 {
		h = ri.routes[i].root // another string with the same name
	} else {
		steps, _ := m.p.Route(ri.endpoint, platform)
		h = &hop{calls: m.resolve(steps, platform)}
	}
	ri.routes = append(ri.routes, platformRoute{p, platform, h})
	return h
}

func (m *sim) resolve(steps []profile.Step, platform string) []hop {
	out := make([]hop, len(steps))
	for i, s := range steps {
		out[i] = hop{st: m.stages[profile.StageName(s.Stage, platform)], calls: m.resolve(s.Calls, platform), async: s.Async, service: s.Service, share: s.Visits()}
	}
	return out
}

// stepInfo is what the simulator needs of a journey step, worked out once.
type stepInfo struct {
	ri           *reqInfo
	timeout      float64 // seconds
	deadlineKind string  // what the deadline's expiry is counted as
	lane         *lane   // the timeout's lane
}

func (m *sim) step(st *scenarios.Step) *stepInfo {
	// A scenario has a few dozen steps: a direct-mapped cache by address
	// answers nearly every time, for less than the map's hashing.
	c := &m.stepCache[uintptr(unsafe.Pointer(st))>>4%uintptr(len(m.stepCache))]
	if c.st == st {
		return c.si
	}
	if si, ok := m.steps[st]; ok {
		c.st, c.si = st, si
		return si
	}
	si := &stepInfo{ri: m.info(st.Request), timeout: m.s.TimeoutFor(*st).Seconds(), deadlineKind: "timeout"}
	if rt := m.p.Server.RequestTimeout.Seconds(); rt > 0 && rt < si.timeout {
		si.timeout, si.deadlineKind = rt, statusKind(m.p.Server.TimeoutAnswer()) // the server gives up first: 504 (5xx) or 503 (shed)
	}
	si.lane = m.lane(si.timeout)
	m.steps[st] = si
	return si
}

func (m *sim) info(name string) *reqInfo {
	if ri, ok := m.reqs[name]; ok {
		return ri
	}
	t, _ := m.s.Request(name)
	ri := &reqInfo{name: name, tmpl: t, endpoint: t.EndpointName(name), call: t.IsGRPC()}
	m.ruleInfo(ri)
	m.reqs[name] = ri
	return ri
}

// request is one request in flight. Requests and visits come in slabs
// (pool.go), a whole number of cache lines each, their hot fields in the
// first line: with tens of thousands in flight they are rarely in cache,
// and an event for one is prefetched a line at a time (warm).
type request struct {
	u        *user
	si       *stepInfo // its step: timeout, what its deadline counts as
	ri       *reqInfo
	sent     float64
	active   *visit // the deepest visit queued or holding a worker
	gen      uint32 // bumped when it is freed (pool.go)
	first    bool
	done     bool
	deadline timer                                   // its timeout, pending until it is answered
	_        [128 - 48 - unsafe.Sizeof(timer{})]byte // (48: the fields above)
}

// visit is one stage visit of a request's route (or the route itself, as
// the root visit with no stage). A route's walk reads only the first line;
// the queue timeout and queueing time are on the second, touched only if
// it waits.
type visit struct {
	r      *request // nil for an async step, and for orphaned work (abandoned: finish)
	h      *hop     // the step it plays: its calls, its service time
	st     *stage
	parent *visit
	next   int32
	gen    uint32 // bumped when it is freed (pool.go)
	held   bool
	queued bool // waiting in its stage's queue, its expiry pending if the stage has a queue timeout
	dead   bool
	_      [64 - 43]byte // (43: the fields above) the first line ends here

	queuedAt float64
	expiry   timer // its queue timeout, pending while it waits
}

// act carries out a user's next action: a request, or the end of its journey.
func (m *sim) act(u *user) {
	a := u.next
	if a.Away {
		m.away(u, a)
		return
	}
	if a.Step == nil {
		m.live--
		c := u.walk.Counts
		m.run.Count(u.arrived, results.Users{Arrived: 1, Completed: int64(c.Completed), Abandoned: int64(c.Abandoned), Manual: int64(c.Manual),
			Impatient: int64(c.Impatient), Switched: int64(c.Switched), Reinstall: int64(c.Reinstall), KeptTrying: int64(c.KeptTrying),
			ReturnedCompleted: b2i(u.walk.Back() == scenarios.BackCompleted)})
		m.endRules(u)
		m.freeUsers = append(m.freeUsers, u)
		return
	}
	if a.Reset {
		m.forgetValues(u)
	}
	si := m.step(a.Step)
	r := m.newRequest()
	r.u, r.si, r.ri, r.sent, r.first, r.done, r.active = u, si, si.ri, m.now, a.First, false, nil
	if len(m.client) > 0 {
		kind, taken := m.clientFault(r)
		if kind != "" {
			m.complete(r, kind)
			return
		}
		if taken {
			m.timeout(si.lane, &r.deadline, requestEvent(evDeadline, r))
			return
		}
	}
	kind, root := m.atOnce(r)
	if kind != "" {
		// Answered before it could time out: what setting its timeout and
		// stopping it again would leave, at a fraction of the cost (a third
		// of a national run's requests).
		m.stamp(m.now, event{})
		m.complete(r, kind)
		return
	}
	m.timeout(si.lane, &r.deadline, requestEvent(evDeadline, r))
	m.runCalls(m.newVisit(r, root, nil))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// away schedules the return of a user who left to come back later (or ends
// its journey when it will not come back today), as the live engine does.
func (m *sim) away(u *user, a scenarios.Action) {
	m.run.Leave(u.arrived+a.At, u.walk.LeftFrom())
	next, back := m.plan.Back(&u.walk, u.arrived, a.At)
	if back {
		m.run.Count(u.arrived+next.At, results.Users{Returned: 1})
	}
	u.next = next
	m.at(u.arrived.Seconds()+next.At.Seconds(), userEvent(u))
}

// startRoute sends a request to the service: its pre-route checks, then its route.
func (m *sim) startRoute(r *request) {
	kind, root := m.atOnce(r)
	if kind != "" {
		m.complete(r, kind)
		return
	}
	m.runCalls(m.newVisit(r, root, nil))
}

// atOnce is the answer a request gets before any stage holds it, if it
// gets one: refused (refused), or shed by its first stage, full (as enter
// sheds it, without making its visits to unwind). Otherwise it is the
// request's route.
func (m *sim) atOnce(r *request) (string, *hop) {
	if kind := m.refused(r); kind != "" {
		return kind, nil
	}
	root := m.route(r.ri, r.u.walk.Platform)
	if len(root.calls) == 0 {
		return "", root
	}
	h := &root.calls[0]
	st := h.st
	if h.async || h.share < 1 || len(st.faults) > 0 || st.idle() || !st.full() {
		return "", root
	}
	st.arrived(m.now) // what arriveAt and enter count for a visit they shed
	st.arrivals++
	st.waited++
	st.shed++
	return "shed", nil
}

// refused applies the profile's rules, which act before any stage (rules.go).
func (m *sim) refused(r *request) string {
	if r.ri.uses < 0 && r.ri.limit < 0 {
		return ""
	}
	return m.ruleRefusal(r)
}

// runCalls starts v's next call, or finishes v when none is left.
func (m *sim) runCalls(v *visit) {
	for int(v.next) < len(v.h.calls) {
		c := &v.h.calls[v.next]
		v.next++
		if c.share < 1 && c.st.visits.Float64() >= c.share {
			continue // not this request: a cache's hit, which the store behind it never sees
		}
		child := m.newVisit(v.r, c, v)
		if c.async {
			child.r, child.parent = nil, nil
			m.arriveAt(child, c.st)
			continue
		}
		m.arriveAt(child, c.st)
		return
	}
	m.finishVisit(v)
}

func (m *sim) arriveAt(v *visit, st *stage) {
	v.st = st
	v.st.arrived(m.now)
	if v.r != nil {
		v.r.active = v
	}
	if len(v.st.faults) > 0 && !m.faultArrival(v) {
		return
	}
	m.enter(v)
}

// enter admits a visit to its stage: a worker, the queue, or shed.
func (m *sim) enter(v *visit) {
	st := v.st
	if !st.bucket.Take(m.now) { // past its rate limit: 429 at once
		st.limited++
		st.shed++
		m.fail(v, "shed")
		return
	}
	st.arrivals++
	if st.idle() {
		m.acquire(v)
		return
	}
	st.waited++
	if st.full() {
		st.shed++
		m.fail(v, "shed")
		return
	}
	st.queue.push(visitRef{v, v.gen})
	st.live++
	v.queued, v.queuedAt = true, m.now
	if qt := st.cfg.QueueTimeout.Seconds(); qt > 0 {
		if st.expiries == nil {
			st.expiries = m.lane(qt)
		}
		m.timeout(st.expiries, &v.expiry, visitEvent(evQueueTimeout, v))
	}
}

func (m *sim) acquire(v *visit) {
	st := v.st
	st.advance(m.now)
	st.busy++
	if v.queued {
		st.waitSum += m.now - v.queuedAt
		v.expiry.stop()
	}
	v.held, v.queued = true, false
	svc := &st.cfg.Service
	if v.h.service != nil {
		svc = v.h.service
	}
	d := svc.Sample(st.rng).Seconds()
	if len(st.faults) > 0 {
		d += m.faultLatency(st, d)
	}
	m.at(m.now+d, visitEvent(evServiceDone, v))
}

func (m *sim) serviceDone(v *visit) {
	if !v.dead {
		m.runCalls(v)
	}
}

func (m *sim) finishVisit(v *visit) {
	if v.st == nil { // the route is done: the request succeeded (unless its client had gone)
		if v.r != nil {
			m.complete(v.r, "")
		}
		m.freeVisit(v)
		return
	}
	m.release(v)
	v.st.served++
	v.dead = true
	parent := v.parent
	if parent != nil && v.r != nil {
		v.r.active = parent
	}
	// Freed first, it is the visit the parent's next call reuses: in cache.
	m.freeVisit(v)
	if parent != nil {
		m.runCalls(parent)
	}
}

func (m *sim) release(v *visit) {
	st := v.st
	st.advance(m.now)
	st.busy--
	v.held = false
	m.grant(st)
}

// grant admits waiting visits, in order, while the stage has free workers.
func (m *sim) grant(st *stage) {
	for st.busy < st.limit && st.live > 0 {
		ref := st.queue.pop()
		next := ref.v
		if !ref.live() || !next.queued {
			continue // cancelled while waiting
		}
		st.live--
		m.acquire(next)
	}
}

func (m *sim) queueTimeout(v *visit) {
	if !v.queued || v.dead {
		return
	}
	v.queued = false
	v.st.live--
	v.st.shed++
	m.fail(v, "shed") // 503 queue_timeout
}

// fail abandons a visit and everything its callers hold, and fails the request.
func (m *sim) fail(v *visit, kind string) {
	m.unwind(v)
	if v.r != nil && !v.r.done {
		m.complete(v.r, kind)
	}
	m.freeChain(v)
}

// unwind releases the workers a chain of visits holds and marks it dead.
func (m *sim) unwind(v *visit) {
	for x := v; x != nil; x = x.parent {
		if x.queued {
			x.queued = false
			x.expiry.stop()
			x.st.live--
		}
		if x.held {
			m.release(x)
		}
		x.dead = true
	}
}

// deadline: the client (or the server's request timeout) gives up; the
// server's work for the request is cancelled, as a disconnect cancels it,
// unless the service finishes what its clients abandon (abandoned:
// finish): then the work goes on without its request, holding its
// workers (or its place in a queue) to the end.
func (m *sim) deadline(r *request) {
	if r.done {
		return
	}
	chain := r.active
	if m.orphans && chain != nil && r.si.deadlineKind == "timeout" {
		for x := chain; x != nil; x = x.parent {
			x.r = nil
		}
		m.complete(r, r.si.deadlineKind)
		return
	}
	if chain != nil {
		m.unwind(chain)
	}
	m.complete(r, r.si.deadlineKind)
	if chain != nil {
		m.freeChain(chain)
	}
}

// complete records an answer and hands it to the user's walker.
func (m *sim) complete(r *request, kind string) {
	u := r.u
	prefetchUser(uintptr(unsafe.Pointer(u))) // rarely in cache; recording the answer first overlaps the wait
	r.done = true
	r.deadline.stop()
	if r.ri.call && kind != "" {
		kind = r.ri.tmpl.CallKind(kind)
	}
	lat := spec.Seconds(m.now - r.sent)
	m.record(r.ri, spec.Seconds(r.sent), lat, r.first, kind)
	if m.cfg.Observe != nil {
		m.cfg.Observe(r.ri.name, results.Outcome{At: spec.Seconds(r.sent), Corrected: lat, Service: lat, First: r.first, Err: kind})
	}
	if kind == "" && r.ri.sets >= 0 {
		m.setValue(u, r.ri.sets, m.now)
	}
	start := u.arrived.Seconds()
	held := 0.0
	if kind == "" { // a held connection's user stays on it for its hold before going on
		held = r.ri.tmpl.Hold.Seconds()
	}
	u.next = u.walk.After(kind, spec.Seconds(m.now+held-start))
	if t := start + u.next.At.Seconds(); t > m.now || !m.nextIsLater() {
		m.at(t, userEvent(u))
	} else {
		// Its next request follows at once (or its journey ends): a
		// sixth of a national run's events. With nothing else due now
		// it is the next event, whatever is scheduled after this one.
		m.due = m.stamp(m.now, userEvent(u))
	}
	m.freeRequest(r)
}

// nextIsLater says every event scheduled, and due, is after now.
func (m *sim) nextIsLater() bool {
	if m.due.p != nil {
		return false
	}
	if l := m.earliestLane(); l != nil && l.head.e.t <= m.now {
		return false
	}
	f := m.events.peek()
	return f == nil || f.t > m.now
}
