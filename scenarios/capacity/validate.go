package capacity

import (
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
}

func (p *Profile) validateStep(pr *spec.Problems, s Step, path string, held []string) {
	if s.Stage == "" {
		pr.Addf(spec.Join(path, "stage"), "required")
		return
	}
	for _, stage := range p.expand(s.Stage) {
		if _, ok := p.Stages[stage]; !ok {
			pr.Addf(spec.Join(path, "stage"), "unknown stage %q (stages: %v)", stage, p.StageNames())
			return
		}
	}
	if slices.Contains(held, s.Stage) {
		pr.Addf(spec.Join(path, "stage"), "stage %q is called while its caller already holds one of its workers (this deadlocks when the pool is full)", s.Stage)
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
	for _, d := range []struct {
		key string
		v   interface{ Seconds() float64 }
	}{{"qr_ttl", s.QRTTL}, {"identity_ttl", s.IdentityTTL}, {"request_timeout", s.RequestTimeout}} {
		if d.v.Seconds() < 0 {
			pr.Addf(spec.Join("server", d.key), "must not be negative")
		}
	}
	if rl := s.IdentityRateLimit; rl != nil {
		if rl.Requests < 1 {
			pr.Addf("server.identity_rate_limit.requests", "must be at least 1, have %d", rl.Requests)
		}
		if rl.Per <= 0 {
			pr.Addf("server.identity_rate_limit.per", "must be a positive duration")
		}
	}
}
