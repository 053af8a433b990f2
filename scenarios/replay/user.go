package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// user is one person of an arrival: a scenarios.Walker makes its decisions,
// the user sends its requests for real.
type user struct {
	e       *engine
	rng     *rand.Rand
	arrived time.Duration // on the played timeline
	walk    *scenarios.Walker
	vars    vars
	out     results.Users
}

func (e *engine) newUser(a arrival.Arrival, person int) *user {
	rng := rand.New(rand.NewPCG(e.cfg.Seed^0x5eed5eed, a.Seq<<8|uint64(person)))
	u := &user{e: e, rng: rng, arrived: a.At, out: results.Users{Arrived: 1},
		walk: scenarios.NewWalker(e.cfg.Scenario, a.Journey, a.Platform, rng)}
	u.vars = vars{}
	u.vars.set("user", fmt.Sprintf("u%d-%d-%d", e.cfg.Shard, a.Seq, person))
	u.vars.set("venue", fmt.Sprintf("venue-%d", rng.IntN(10_000)))
	if len(e.credentials) > 0 {
		u.vars["credential"] = e.credentials[rng.IntN(len(e.credentials))]
	}
	return u
}

func (v vars) set(name, s string) { v[name], _ = json.Marshal(s) }

// run plays the journey from its intended start until it ends or ctx is cut.
func (u *user) run(ctx context.Context, start time.Time) {
	defer u.count()
	for a := u.walk.Start(); ; {
		if !sleepUntil(ctx, start.Add(a.At)) {
			u.out.Unfinished++
			return
		}
		if a.Step == nil {
			return
		}
		if a.Reset {
			u.vars = vars{"user": u.vars["user"], "venue": u.vars["venue"]}
		}
		u.vars.set("platform", u.walk.Platform)
		kind, done := u.attempt(ctx, *a.Step, start.Add(a.At), a.First)
		if ctx.Err() != nil {
			u.out.Unfinished++
			return
		}
		a = u.walk.After(kind, done.Sub(start))
	}
}

// count moves the walker's counts into the user's outcome.
func (u *user) count() {
	c := u.walk.Counts
	u.out.Completed, u.out.Abandoned, u.out.Manual, u.out.Impatient = c.Completed, c.Abandoned, c.Manual, c.Impatient
	u.out.Switched, u.out.Reinstall, u.out.KeptAt = c.Switched, c.Reinstall, c.KeptTrying
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt sends one request of a step and records it; it returns the error
// kind ("" on success) and when the answer came. first marks the user's
// first attempt at this request (the demand, "offered"): every retry, QR
// regenerated after expiry, platform switch or reinstall that sends it again
// is amplification.
func (u *user) attempt(ctx context.Context, st scenarios.Step, intended time.Time, first bool) (string, time.Time) {
	e := u.e
	t, _ := e.cfg.Scenario.Request(st.Request)
	began := time.Now()
	sent := began
	var ans answer
	if kind := e.clientFaults(ctx, u, st.Request); kind != "" {
		ans.kind = kind
	} else {
		ans = send(ctx, e.client, e.cfg.Target, t, u.vars, e.cfg.Scenario.TimeoutFor(st), &sent)
	}
	done := time.Now()
	if ctx.Err() != nil { // cut by the run ending, not answered by the service: not counted
		return "cancelled", done
	}
	if ans.kind == "" && !extract(t, ans.body, u.vars) {
		ans.kind = "wrong_status"
	}
	e.record(st.Request, results.Outcome{
		At:        intended.Sub(e.start),
		Corrected: done.Sub(intended),
		Service:   done.Sub(sent),
		First:     first,
		Err:       ans.kind,
	}, began.Sub(intended))
	return ans.kind, done
}
