package replay

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// user is one person of an arrival: a scenarios.Walker makes its decisions,
// the user sends its requests for real.
type user struct {
	e *engine
	// its random streams, one per purpose (arrival.Stream): the walker's,
	// who it is (venue, credential), the client-side faults'
	pcg, idPCG, faultPCG rand.PCG
	rng, idRng, faultRng *rand.Rand    // over each
	arrived              time.Duration // on the played timeline
	walk                 scenarios.Walker
	vars                 vars
	platform             string // the platform vars holds
	scratch              scratch
	id                   []byte // the bytes of vars' user and venue
	venue                []byte
	out                  results.Users
	jar                  []cookie // its cookies, when the scenario keeps them
	// its pauses (waker.go)
	timer *time.Timer
	woken chan uint64
	seq   uint64
}

// newUser is arrival a's person, its streams seeded as the simulator seeds
// its users'.
// Users are reused (e.users) once counted: at tens of thousands of arrivals
// a second their allocation was a tenth of the engine's CPU.
func (e *engine) newUser(a arrival.Arrival, person int) *user {
	u, _ := e.users.Get().(*user)
	if u == nil {
		u = &user{e: e, vars: vars{}}
		u.rng, u.idRng, u.faultRng = rand.New(&u.pcg), rand.New(&u.idPCG), rand.New(&u.faultPCG)
	}
	u.pcg.Seed(a.UserSeed(e.cfg.Seed, person, arrival.StreamWalker))
	u.idPCG.Seed(a.UserSeed(e.cfg.Seed, person, arrival.StreamIdentity))
	u.faultPCG.Seed(a.UserSeed(e.cfg.Seed, person, arrival.StreamFaults))
	u.arrived, u.out, u.platform = a.At, results.Users{Arrived: 1}, ""
	u.walk.Reset(e.cfg.Scenario, a.Journey, a.Platform, u.rng)
	clear(u.vars)
	// The id and venue reuse the last user's bytes: nothing keeps a
	// user's variables once it is counted (extract and set copy).
	id := append(u.id[:0], "\"u"...) // u<seq>-<person>: the same user in whichever shard plays it
	id = strconv.AppendUint(id, a.Seq, 10)
	id = append(id, '-')
	id = append(strconv.AppendInt(id, int64(person), 10), '"')
	u.vars["user"], u.id = id, id
	venue := append(u.venue[:0], "\"venue-"...)
	u.venue = append(strconv.AppendInt(venue, int64(u.idRng.IntN(10_000)), 10), '"')
	u.vars["venue"] = u.venue
	u.jar = u.jar[:0]
	if len(e.env) > 0 || len(e.tables) > 0 {
		u.bind(a, person)
	}
	if len(e.credentials) > 0 {
		h := e.credentials[u.idRng.IntN(len(e.credentials))]
		u.vars["credential"] = h.credential
		if h.session != nil {
			u.vars["session"] = h.session
		}
	}
	return u
}

// set stores a string variable as its JSON text.
func (v vars) set(name, s string) {
	for i := 0; i < len(s); i++ { // json.Marshal's output, without it, for plain names
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			v[name], _ = json.Marshal(s)
			return
		}
	}
	v[name] = append(append(append(make([]byte, 0, len(s)+2), '"'), s...), '"')
}

// run plays the journey from action a (the first, or a return's) until it
// ends, the user leaves to come back later, or ctx is cut; it returns the
// last action.
func (u *user) run(ctx context.Context, start time.Time, a scenarios.Action) scenarios.Action {
	defer u.count()
	for {
		if !u.pause(ctx, start.Add(a.At)) {
			u.out.Unfinished++
			return scenarios.Action{}
		}
		if a.Step == nil {
			return a
		}
		if a.Reset { // a reinstall forgets everything but who and where (and its data rows and the environment)
			for k := range u.vars {
				if k != "user" && k != "venue" && !strings.Contains(k, ".") {
					delete(u.vars, k)
				}
			}
			u.platform, u.jar = "", u.jar[:0]
		}
		if u.platform != u.walk.Platform {
			if raw, ok := u.e.platforms[u.walk.Platform]; ok { // shared, never written
				u.vars["platform"] = raw
			} else {
				u.vars.set("platform", u.walk.Platform)
			}
			u.platform = u.walk.Platform
		}
		kind, done := u.attempt(ctx, a.Step, start.Add(a.At), a.First)
		if ctx.Err() != nil {
			u.out.Unfinished++
			return scenarios.Action{}
		}
		a = u.walk.After(kind, done.Sub(start))
	}
}

// count moves the walker's counts into the user's outcome.
func (u *user) count() {
	c := u.walk.Counts
	u.out.Completed, u.out.Abandoned, u.out.Manual, u.out.Impatient = int64(c.Completed), int64(c.Abandoned), int64(c.Manual), int64(c.Impatient)
	u.out.Switched, u.out.Reinstall, u.out.KeptTrying = int64(c.Switched), int64(c.Reinstall), int64(c.KeptTrying)
	u.out.ReturnedCompleted = 0
	if u.walk.Back() == scenarios.BackCompleted {
		u.out.ReturnedCompleted = 1
	}
}

// attempt sends one request of a step and records it; it returns the error
// kind ("" on success) and when the answer came. first marks the user's
// first attempt at this request (the demand, "offered"): every retry, QR
// regenerated after expiry, platform switch or reinstall that sends it again
// is amplification.
func (u *user) attempt(ctx context.Context, st *scenarios.Step, intended time.Time, first bool) (string, time.Time) {
	e := u.e
	t := e.requests[st.Request]
	at := intended.Sub(e.start)
	e.out.add(at, 1)
	defer e.out.add(at, -1)
	began := time.Now()
	sent := began
	var ans answer
	if kind := e.clientFaults(ctx, u, st.Request); kind != "" {
		ans.kind = kind
	} else if t.IsHeld() {
		ans = e.hold(ctx, t, u, e.cfg.Scenario.TimeoutFor(*st), &sent)
	} else {
		ans = e.send(ctx, t, u, e.cfg.Scenario.TimeoutFor(*st), &sent)
	}
	done := time.Now()
	answered := done
	if !ans.answered.IsZero() {
		answered = ans.answered
	}
	if ctx.Err() != nil { // cut by the run ending, not answered by the service: not counted
		return "cancelled", done
	}
	if e.cfg.Scenario.Behaviour.Cookies && len(ans.head) > 0 {
		u.jar = setCookies(u.jar, ans.head)
	}
	if ans.kind == "" && len(t.Check) > 0 {
		ans.kind = checkAnswer(t, ans.body)
	}
	if ans.kind == "" && !extract(t, &ans, u.vars) {
		ans.kind = scenarios.KindExtractFailed
	}
	o := results.Outcome{
		At:        at,
		Corrected: answered.Sub(intended),
		Service:   answered.Sub(sent),
		First:     first,
		Err:       ans.kind,
		Resent:    ans.resent,
	}
	if !ans.firstAt.IsZero() { // a server stream: its first message, and how many
		o.FirstMessage, o.Messages = max(ans.firstAt.Sub(intended), 1), ans.messages
	}
	e.record(st.Request, o, began.Sub(intended), &ans)
	return ans.kind, done
}
