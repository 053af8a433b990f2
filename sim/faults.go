package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// onFault is a scenario fault while it is on.
type onFault struct {
	f       scenarios.Fault
	stalled []visitRef   // visits held until the fault ends (stall)
	parked  []requestRef // client side: requests held until the fault ends (stall)
}

// scheduleFaults puts every fault's start and end on the virtual clock.
func (m *sim) scheduleFaults(plan *arrival.Plan) {
	for i, f := range m.s.Faults {
		m.at(plan.PlayedAt(f.At).Seconds(), faultEvent(evFaultOn, i))
		m.at(plan.PlayedAt(f.At+scenarios.Clock(f.For)).Seconds(), faultEvent(evFaultOff, i))
	}
}

func (m *sim) faultOn(i int) {
	f := m.s.Faults[i]
	af := &onFault{f: f}
	m.faults[i] = af
	if m.requestLevel(f) { // in name order, as the live engine draws them
		m.client = append(m.client, af)
		slices.SortStableFunc(m.client, func(a, b *onFault) int { return strings.Compare(a.f.Name, b.f.Name) })
	}
	for _, st := range m.faultStages(f) {
		st.faults = append(st.faults, af)
		m.applyCapacity(st)
	}
	m.run.Event(spec.Seconds(m.now), "fault-on", fmt.Sprintf("%s: %s on %s for %v", f.Name, f.Kind, f.Stage, f.For))
}

func (m *sim) faultOff(i int) {
	af := m.faults[i]
	if af == nil {
		return
	}
	delete(m.faults, i)
	for j, g := range m.client {
		if g == af {
			m.client = append(m.client[:j:j], m.client[j+1:]...)
			break
		}
	}
	for _, ref := range af.parked { // a client-side stall ends: the requests go out
		if r := ref.r; ref.live() && !r.done {
			m.startRoute(r)
		}
	}
	for _, st := range m.faultStages(af.f) {
		for j, g := range st.faults {
			if g == af {
				st.faults = append(st.faults[:j:j], st.faults[j+1:]...)
				break
			}
		}
		m.applyCapacity(st)
	}
	m.run.Event(spec.Seconds(m.now), "fault-off", af.f.Name)
	for _, ref := range af.stalled { // the stall ends: held visits go on to the stage
		if v := ref.v; ref.live() && !v.dead {
			m.enter(v)
		}
	}
}

// requestLevel says a fault acts on whole requests before the service's
// stages: client-side faults, and every fault injected by the proxy.
func (m *sim) requestLevel(f scenarios.Fault) bool {
	return f.ClientSide() || m.s.Target.Via == scenarios.ViaProxy
}

func (m *sim) faultStages(f scenarios.Fault) []*stage {
	if m.requestLevel(f) {
		return nil
	}
	if f.Stage != "*" {
		return []*stage{m.stages[f.Stage]}
	}
	out := make([]*stage, 0, len(m.stages))
	for _, name := range spec.SortedKeys(m.stages) {
		out = append(out, m.stages[name])
	}
	return out
}

// applyCapacity sets a stage's worker limit from its capacity faults (the
// smallest wins) and admits waiting visits if it rose.
func (m *sim) applyCapacity(st *stage) {
	limit := st.cfg.Workers
	for _, af := range st.faults {
		if af.f.Kind == fault.Capacity {
			limit = min(limit, *af.f.Workers)
		}
	}
	st.advance(m.now) // the stretch so far at the old limit
	st.limit = limit
	m.grant(st)
}

// faultArrival applies the faults on a visit reaching a stage; false when
// the visit went no further (failed, or held by a stall).
func (m *sim) faultArrival(v *visit) bool {
	st := v.st
	for _, af := range st.faults {
		f := af.f
		switch f.Kind {
		case fault.Outage:
			st.shed++
			m.fail(v, "shed")
			return false
		case fault.Error:
			if st.rng.Float64() < f.Share() {
				m.fail(v, statusKind(f.Status))
				return false
			}
		case fault.Stall:
			if st.rng.Float64() < f.Share() {
				af.stalled = append(af.stalled, visitRef{v, v.gen})
				return false
			}
		}
	}
	return true
}

// faultLatency is the extra service time the active faults add to a visit
// whose own service time is base (seconds).
func (m *sim) faultLatency(st *stage, base float64) float64 {
	var extra float64
	for _, af := range st.faults {
		switch af.f.Kind {
		case fault.Latency:
			if st.rng.Float64() < af.f.Share() {
				extra += af.f.Latency.Sample(st.rng).Seconds()
			}
		case fault.SlowUnderLoad:
			if st.rate(m.now) > float64(af.f.Above) {
				extra += base * (af.f.Factor - 1)
			}
		}
	}
	return extra
}

// statusKind is the error kind a client sees for an injected status.
func statusKind(status int) string {
	if status == 0 { // a fault's default answer, 503
		return scenarios.KindShed
	}
	return scenarios.StatusKind(status)
}

// clientFault applies the request-level faults in force to a request about
// to be sent, in name order, as the live engine does: each draws by
// scenarios.Fault.Take (a client-side fault from the user's fault stream,
// the same draws as live; a proxy's from the simulator's). Delays add up;
// the first that fails or holds the request ends the draws. It returns an
// error kind, or true if it took the request over (delayed or parked it).
func (m *sim) clientFault(r *request) (string, bool) {
	var delay time.Duration
	for _, af := range m.client {
		f := af.f
		if !f.Applies(r.u.walk.Platform, r.ri.name) {
			continue
		}
		rng := m.rng
		if f.ClientSide() {
			rng = m.faultStream(r.u)
		}
		eff, ok := f.Take(rng)
		switch {
		case !ok:
		case eff.Kind != "": // failed at once (live, after the delays drawn before it)
			return eff.Kind, false
		case eff.Stall:
			af.parked = append(af.parked, requestRef{r, r.gen})
			return "", true
		default:
			delay += eff.Delay
		}
	}
	if delay > 0 {
		m.at(m.now+delay.Seconds(), requestEvent(evStart, r))
		return "", true
	}
	return "", false
}

// faultStream is a user's client-fault stream (kept beside the user, whose
// three cache lines are full).
type faultStream struct {
	pcg rand.PCG
	rng *rand.Rand // over pcg
}

// faultStream is user u's client-fault stream (arrival.StreamFaults),
// seeded by newUser; only a scenario with client-side faults keeps them.
func (m *sim) faultStream(u *user) *rand.Rand {
	return m.userFaults[u].rng
}
