package profile

import (
	"math"
	"slices"
	"sort"

	"github.com/surgekit/surge/scenarios/spec"
)

// Validate checks every value of the profile that decoding cannot.
func (p *Profile) Validate(pr *spec.Problems) {
	if p.Name == "" {
		pr.Addf("name", "required")
	}
	if len(p.Stages) == 0 {
		pr.Addf("stages", "at least one stage is required")
	}
	for _, name := range p.PlatformNames() {
		switch p.Platforms[name].Proof {
		case ProofFetch, ProofWallet:
		default:
			pr.Addf(spec.Join("platforms", name, "proof"), "want %q or %q, have %q", ProofFetch, ProofWallet, p.Platforms[name].Proof)
		}
	}
	for _, name := range p.StageNames() {
		p.Stages[name].validate(pr, spec.Join("stages", name))
	}
	if len(p.Routes) == 0 {
		pr.Addf("routes", "at least one route is required")
	}
	routes := make([]string, 0, len(p.Routes))
	for r := range p.Routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		if len(p.Routes[r]) == 0 {
			pr.Addf(spec.Join("routes", r), "a route needs at least one step")
		}
		Walk(p.Routes[r], spec.Join("routes", r), func(s Step, path string, held []string) {
			p.validateStep(pr, s, path, held)
		})
	}
	p.Server.validate(pr)
	p.validateRules(pr)
	if c := p.Calibrated; c != nil && !(c.CapacityUncertainty >= 0 && c.CapacityUncertainty < 1) {
		pr.Addf("calibrated.capacity_uncertainty", "want a share of the capacity, at least 0 and below 1 (0.07 for 7%%), have %v", c.CapacityUncertainty)
	}
}

func (s Stage) validate(pr *spec.Problems, path string) {
	if s.Workers < 1 {
		pr.Addf(spec.Join(path, "workers"), "must be at least 1, have %d", s.Workers)
	}
	if s.Queue < 0 {
		pr.Addf(spec.Join(path, "queue"), "must not be negative, have %d", s.Queue)
	}
	switch s.WhenFull {
	case "", WhenFullShed, WhenFullWait:
	default:
		pr.Addf(spec.Join(path, "when_full"), "want %q or %q, have %q", WhenFullShed, WhenFullWait, s.WhenFull)
	}
	if s.QueueTimeout < 0 {
		pr.Addf(spec.Join(path, "queue_timeout"), "must not be negative, have %v", s.QueueTimeout)
	}
	if s.WhenFull == WhenFullWait && s.QueueTimeout == 0 {
		pr.Addf(spec.Join(path, "queue_timeout"), "when_full: wait needs a queue_timeout, or requests could wait without bound")
	}
	if s.RetryAfter < 0 {
		pr.Addf(spec.Join(path, "retry_after"), "must not be negative, have %v", s.RetryAfter)
	}
	if s.RateLimit < 0 || math.IsNaN(s.RateLimit) || math.IsInf(s.RateLimit, 0) {
		pr.Addf(spec.Join(path, "rate_limit"), "want visits a second, at least 0 (0: no limit), have %v", s.RateLimit)
	}
	if s.Burst < 0 || s.Burst > 0 && s.RateLimit == 0 {
		pr.Addf(spec.Join(path, "burst"), "want a number of tokens, at least 1, with a rate_limit; have %d with rate_limit %v", s.Burst, s.RateLimit)
	}
}

func (p *Profile) validateStep(pr *spec.Problems, s Step, path string, held []string) {
	if s.Stage == "" {
		pr.Addf(spec.Join(path, "stage"), "required")
		return
	}
	for _, stage := range p.expand(s.Stage) {
		if _, ok := p.Stages[stage]; !ok {
			pr.Addf(spec.Join(path, "stage"), "unknown stage %q (stages: %s)", stage, spec.Some(p.StageNames()))
			return
		}
	}
	if slices.Contains(held, s.Stage) {
		pr.Addf(spec.Join(path, "stage"), "stage %q is called while its caller already holds one of its workers (this deadlocks when the pool is full)", s.Stage)
	}
	if v := s.Visits(); !(v > 0 && v <= 1) {
		pr.Addf(spec.Join(path, "share"), "want the share of requests that make this visit, above 0%% and at most 100%%; have %v", *s.Share)
	}
	if s.Async && len(held) > 0 {
		pr.Addf(spec.Join(path, "async"), "only a top-level step of a route can be async")
	}
}

// expand lists the concrete stage names a step's stage stands for.
func (p *Profile) expand(stage string) []string {
	if !containsToken(stage) {
		return []string{stage}
	}
	var out []string
	for _, pl := range p.PlatformNames() {
		out = append(out, StageName(stage, pl))
	}
	return out
}

func containsToken(s string) bool { return len(StageName(s, "")) != len(s) }

func (s ServerSettings) validate(pr *spec.Problems) {
	if s.RequestTimeout < 0 {
		pr.Addf("server.request_timeout", "must not be negative")
	}
	if s.TimeoutStatus != 0 && s.TimeoutStatus != 503 && s.TimeoutStatus != 504 {
		pr.Addf("server.timeout_status", "want 504 (the default) or 503, have %d", s.TimeoutStatus)
	}
	switch s.Abandoned {
	case "", AbandonedCancel, AbandonedFinish:
	default:
		pr.Addf("server.abandoned", "want %q (work for a client that has gone is stopped) or %q (it is carried out anyway), have %q", AbandonedCancel, AbandonedFinish, s.Abandoned)
	}
}

// validateRules checks each rule is one kind, on an endpoint the profile
// routes, with its parameters, and that no endpoint has two of a kind.
func (p *Profile) validateRules(pr *spec.Problems) {
	names := map[string]bool{}
	seen := map[string]bool{}
	for i, r := range p.Rules {
		path := spec.Join("rules", i)
		if r.Name == "" {
			pr.Addf(spec.Join(path, "name"), "required")
		} else if names[r.Name] {
			pr.Addf(spec.Join(path, "name"), "rule %q is defined twice", r.Name)
		}
		names[r.Name] = true
		switch {
		case (r.Expires == "") == (r.Limit == ""):
			pr.Addf(path, "a rule is either an expiry (expires: ENDPOINT, after) or a limit (limit: ENDPOINT, requests, per)")
			continue
		case r.Expires != "":
			p.checkRuleEndpoint(pr, spec.Join(path, "expires"), r.Expires)
			if r.After <= 0 {
				pr.Addf(spec.Join(path, "after"), "an expiry needs a positive duration, such as 15s")
			}
			if r.Requests != 0 || r.Per != 0 {
				pr.Addf(path, "an expiry takes after, not requests or per")
			}
		default:
			p.checkRuleEndpoint(pr, spec.Join(path, "limit"), r.Limit)
			if r.Requests < 1 {
				pr.Addf(spec.Join(path, "requests"), "must be at least 1, have %d", r.Requests)
			}
			if r.Per <= 0 {
				pr.Addf(spec.Join(path, "per"), "must be a positive duration, such as 10m")
			}
			if r.After != 0 {
				pr.Addf(spec.Join(path, "after"), "a limit takes requests and per, not after")
			}
		}
		key := "expires " + r.Expires + " limit " + r.Limit
		if seen[key] {
			pr.Addf(path, "a second rule of this kind on the same endpoint: which holds?")
		}
		seen[key] = true
		if st := r.Answer.Status; st < 400 || st > 599 {
			pr.Addf(spec.Join(path, "answer", "status"), "the refusal's HTTP status, 4xx or 5xx, have %d", st)
		}
	}
}

// checkRuleEndpoint checks a rule names an endpoint the profile routes
// (endpoint itself, or split by proof mode).
func (p *Profile) checkRuleEndpoint(pr *spec.Problems, path, endpoint string) {
	for name := range p.Routes {
		if name == endpoint || name == endpoint+"."+ProofFetch || name == endpoint+"."+ProofWallet {
			return
		}
	}
	routes := make([]string, 0, len(p.Routes))
	for r := range p.Routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	pr.Addf(path, "unknown endpoint %q (routes: %s)", endpoint, spec.Some(routes))
}
