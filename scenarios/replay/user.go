package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// user is one person of an arrival, running a journey.
type user struct {
	e        *engine
	rng      *rand.Rand
	arrived  time.Duration // on the played timeline
	journey  string
	platform string
	vars     vars
	deadline time.Time
	out      results.Users
	wanted   map[string]bool // requests this user has attempted at least once
}

func (e *engine) newUser(a arrival.Arrival, person int) *user {
	u := &user{
		e:        e,
		rng:      rand.New(rand.NewPCG(e.cfg.Seed^0x5eed5eed, a.Seq<<8|uint64(person))),
		arrived:  a.At,
		journey:  a.Journey,
		platform: a.Platform,
		out:      results.Users{Arrived: 1},
		wanted:   map[string]bool{},
	}
	u.vars = u.freshVars(a.Seq, person, true)
	return u
}

// freshVars are the variables a user starts a journey with.
func (u *user) freshVars(seq uint64, person int, withCredential bool) vars {
	v := vars{}
	v.set("user", fmt.Sprintf("u%d-%d-%d", u.e.cfg.Shard, seq, person))
	v.set("platform", u.platform)
	v.set("venue", fmt.Sprintf("venue-%d", u.rng.IntN(10_000)))
	if withCredential && len(u.e.credentials) > 0 {
		v["credential"] = u.e.credentials[u.rng.IntN(len(u.e.credentials))]
	}
	return v
}

func (v vars) set(name, s string) { v[name], _ = json.Marshal(s) }

func (u *user) draw(d *spec.Dist) time.Duration {
	if d == nil {
		return 0
	}
	return d.Sample(u.rng)
}

// wait sleeps until t; false if the run is cut or the user's patience ends first.
func (u *user) wait(ctx context.Context, t time.Time) bool {
	if !u.deadline.IsZero() && t.After(u.deadline) {
		sleepUntil(ctx, u.deadline)
		u.out.Impatient++
		return false
	}
	return sleepUntil(ctx, t)
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

// run plays the user's journey from its intended start; it reports true if
// the journey completed.
func (u *user) run(ctx context.Context, start time.Time) {
	defer func() {
		if ctx.Err() != nil && u.out.Completed == 0 && u.out.Abandoned == 0 && u.out.Manual == 0 && u.out.Impatient == 0 {
			u.out.Unfinished++
		}
	}()
	sc := u.e.cfg.Scenario
	if p := sc.Behaviour.Patience; p != nil {
		u.deadline = start.Add(u.draw(p))
	}
	next := start // when the user means to send the next request
	steps := sc.Journeys[u.journey]
	attempt := 0
	for i := 0; i < len(steps); {
		st := steps[i]
		if st.Think != nil {
			next = next.Add(u.draw(st.Think))
			i++
			continue
		}
		if !u.wait(ctx, next) {
			return
		}
		attempt++
		kind, done := u.attempt(ctx, st, next, !u.wanted[st.Request])
		u.wanted[st.Request] = true
		if ctx.Err() != nil {
			return
		}
		if kind == "" {
			i, attempt, next = i+1, 0, done
			continue
		}
		if to, ok := st.RestartFrom[kind]; ok {
			i, attempt, next = slices.IndexFunc(steps[:i], func(s scenarios.Step) bool { return s.Request == to }), 0, done
			continue
		}
		if attempt < u.attempts(st) && u.retried(kind) {
			next = done.Add(u.draw(&sc.Behaviour.Retry.Backoff))
			continue
		}
		switch u.giveUp() {
		case scenarios.GiveUpSwitch:
			u.out.Switched++
			u.platform = u.switchTo()
			u.vars.set("platform", u.platform)
			i, attempt, next = 0, 0, done
		case scenarios.GiveUpKeepTrying:
			u.out.KeptAt++
			attempt, next = 0, done.Add(u.draw(sc.Behaviour.KeepTryingAfter))
		case scenarios.GiveUpReinstall:
			u.out.Reinstall++
			u.journey = sc.Behaviour.ReinstallJourney
			steps = sc.Journeys[u.journey]
			user, venue := u.vars["user"], u.vars["venue"]
			u.vars = vars{"user": user, "venue": venue}
			u.vars.set("platform", u.platform)
			i, attempt, next = 0, 0, done.Add(u.draw(sc.Behaviour.ReinstallTime))
		case scenarios.GiveUpManual:
			u.out.Manual++
			return
		default:
			u.out.Abandoned++
			return
		}
	}
	u.out.Completed++
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
	ans := send(ctx, e.client, e.cfg.Target, t, u.vars, e.cfg.Scenario.TimeoutFor(st), &sent)
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

func (u *user) attempts(st scenarios.Step) int {
	if st.Attempts > 0 {
		return st.Attempts
	}
	return max(1, u.e.cfg.Scenario.Behaviour.Retry.Attempts)
}

func (u *user) retried(kind string) bool {
	on := u.e.cfg.Scenario.Behaviour.Retry.On
	return len(on) == 0 || slices.Contains(on, kind)
}

// giveUp draws the user's decision (abandon when the scenario gives none).
func (u *user) giveUp() string {
	g := u.e.cfg.Scenario.Behaviour.GiveUp
	if len(g) == 0 {
		return scenarios.GiveUpAbandon
	}
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	x, acc := u.rng.Float64(), 0.0
	for _, k := range keys {
		acc += float64(g[k])
		if x < acc {
			return k
		}
	}
	return keys[len(keys)-1]
}

// switchTo is the platform a switching user moves to.
func (u *user) switchTo() string {
	sw := u.e.cfg.Scenario.Behaviour.SwitchTo
	if to, ok := sw[u.platform]; ok {
		return to
	}
	if to, ok := sw["*"]; ok && to != u.platform {
		return to
	}
	var others []string
	for p := range u.e.cfg.Scenario.Platforms {
		if p != u.platform {
			others = append(others, p)
		}
	}
	sort.Strings(others)
	if len(others) == 0 {
		return u.platform
	}
	return others[u.rng.IntN(len(others))]
}
