package sim

import (
	"math"
	"slices"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

// The profile's rules (profile.Rule) as the simulator applies them: a
// request that uses a value an expiry rule's endpoint answered, after the
// value's time, is refused at once with the rule's answer, as is one past
// its endpoint's per-user limit. Nothing here knows the reference server:
// which values expire, for how long, and what the service answers are the
// profile's data, and which variables hold them the scenario's (the
// variables the requests of the rule's endpoint extract).

// expiryRule is an expiry rule with the scenario's variables it covers.
type expiryRule struct {
	after  float64 // seconds
	answer profile.RuleAnswer
	vars   []string
}

// limitRule is a per-user limit rule, and who has sent what within it.
type limitRule struct {
	requests int
	per      float64
	answer   profile.RuleAnswer
	sent     map[*user][]float64
}

// setupRules works out the rules against the scenario's requests.
func (m *sim) setupRules() {
	for _, r := range m.p.Rules {
		switch {
		case r.Expires != "":
			e := expiryRule{after: r.After.Seconds(), answer: r.Answer}
			for _, name := range requestNames(m.s) {
				t, _ := m.s.Request(name)
				if t.EndpointName(name) == r.Expires {
					for v := range t.Extract {
						e.vars = append(e.vars, v)
					}
				}
			}
			slices.Sort(e.vars)
			m.expiries = append(m.expiries, e)
		case r.Limit != "":
			m.limits = append(m.limits, limitRule{requests: r.Requests, per: r.Per.Seconds(), answer: r.Answer, sent: map[*user][]float64{}})
		}
	}
}

// requestNames are the requests the scenario's journeys send, sorted.
func requestNames(s *scenarios.Scenario) []string {
	var out []string
	for _, steps := range s.Journeys {
		for _, st := range steps {
			if st.Request != "" && !slices.Contains(out, st.Request) {
				out = append(out, st.Request)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ruleInfo fills a request's rules: the expiry rule of a value it uses,
// the expiry rule of the values its answer carries, its endpoint's limit.
func (m *sim) ruleInfo(ri *reqInfo) {
	ri.uses, ri.sets, ri.limit = -1, -1, -1
	uses := ri.tmpl.Uses()
	for i, e := range m.expiries {
		if ri.uses < 0 && slices.ContainsFunc(e.vars, func(v string) bool { return slices.Contains(uses, v) }) {
			ri.uses = int8(i)
			ri.usesKind = m.refusal(ri, e.answer)
		}
	}
	e, l := int8(0), int8(0) // the rules' indexes in m.expiries and m.limits, in the profile's order
	for _, r := range m.p.Rules {
		switch {
		case r.Expires != "":
			if r.Expires == ri.endpoint && len(ri.tmpl.Extract) > 0 {
				ri.sets = e
			}
			e++
		case r.Limit != "":
			if r.Limit == ri.endpoint {
				ri.limit, ri.limitKind = l, m.refusal(ri, r.Answer)
			}
			l++
		}
	}
}

// refusal is the error kind a rule's answer is for a request.
func (m *sim) refusal(ri *reqInfo, a profile.RuleAnswer) string {
	return ri.tmpl.Classify(a.Status, func() string { return a.Code })
}

// valueAt is when the user got the value of expiry rule k (-Inf: never).
// Rule 0's time is kept in the user (the one most requests read), the
// others' beside it.
func (m *sim) valueAt(u *user, k int8) float64 {
	if k == 0 {
		return u.tokenAt
	}
	if ts := m.values[u]; int(k) < len(ts) {
		return ts[k]
	}
	return math.Inf(-1)
}

func (m *sim) setValue(u *user, k int8, t float64) {
	if k == 0 {
		u.tokenAt = t
		return
	}
	ts := m.values[u]
	for len(ts) <= int(k) {
		ts = append(ts, math.Inf(-1))
	}
	ts[k] = t
	m.values[u] = ts
}

// forgetValues drops a user's values (a reinstall, or its journey's end).
func (m *sim) forgetValues(u *user) {
	u.tokenAt = math.Inf(-1)
	if len(m.values) > 0 {
		delete(m.values, u)
	}
}

// ruleRefusal applies the rules before any stage: the kind of the refusal,
// or "".
func (m *sim) ruleRefusal(r *request) string {
	u, ri := r.u, r.ri
	if ri.uses >= 0 && m.now-m.valueAt(u, ri.uses) >= m.expiries[ri.uses].after { // (never had it: -Inf)
		return ri.usesKind
	}
	if ri.limit >= 0 {
		l := &m.limits[ri.limit]
		var kept []float64
		for _, t := range l.sent[u] {
			if m.now-t < l.per {
				kept = append(kept, t)
			}
		}
		if len(kept) >= l.requests {
			l.sent[u] = kept
			return ri.limitKind
		}
		l.sent[u] = append(kept, m.now)
	}
	return ""
}

// endRules forgets a finished user in every rule.
func (m *sim) endRules(u *user) {
	if len(m.values) > 0 {
		delete(m.values, u)
	}
	for i := range m.limits {
		if len(m.limits[i].sent) > 0 {
			delete(m.limits[i].sent, u)
		}
	}
}
