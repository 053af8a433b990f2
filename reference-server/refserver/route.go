package refserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/spec"
)

// work is the real operation bound to a step's work name.
type work func(ctx context.Context) error

// works binds work names to one request's operations.
type works map[string]work

// Work names the API binds, and which each route must do.
var requiredWork = map[string][]string{
	"identity.request":  {"identity-request"},
	"identity.confirm":  {"identity-confirm"},
	"certificate.issue": {"registry-lookup", "sign", "store-certificate"},
	"qr.fetch":          {"fetch-proof", "mint-qr"},
	"qr.wallet":         {"mint-qr"},
	"checkin":           {"verify-credential", "write-visit"},
	"waiting-room":      {}, // optional: GET /v1/waiting-room, in a profile that routes it
}

var optionalWork = map[string][]string{"certificate.issue": {"anchor"}}

// checkRoutes makes sure the profile routes every endpoint and each route
// does the work its endpoint needs, exactly once, before any traffic.
// ruleAnswers are the answers the reference server gives when a profile
// rule refuses a request: a profile that says otherwise would make the
// simulator predict answers the server does not give.
var ruleAnswers = map[string]profile.RuleAnswer{
	"expires qr":               {Status: 403, Code: "qr_expired"},
	"expires identity.request": {Status: 410, Code: "identity_request_expired"},
	"expires identity.confirm": {Status: 401, Code: "identity_token_expired"},
	"limit identity.request":   {Status: 429, Code: "rate_limited"},
}

// checkRules checks the profile's rules are ones the server enforces, with
// the answers it gives.
func checkRules(p *profile.Profile) error {
	for i, r := range p.Rules {
		key := "expires " + r.Expires
		if r.Limit != "" {
			key = "limit " + r.Limit
		}
		want, ok := ruleAnswers[key]
		if !ok {
			return p.Errorf(fmt.Sprintf("rules[%d]", i), "the reference server has no rule %q (it has: %v)", key, spec.SortedKeys(ruleAnswers))
		}
		if r.Answer != want {
			return p.Errorf(fmt.Sprintf("rules[%d].answer", i), "the reference server answers %d %s, not %d %s", want.Status, want.Code, r.Answer.Status, r.Answer.Code)
		}
	}
	return nil
}

func checkRoutes(p *profile.Profile) error {
	if err := checkRules(p); err != nil {
		return err
	}
	for _, route := range spec.SortedKeys(requiredWork) {
		if _, ok := p.Routes[route]; !ok && route != "qr.fetch" && route != "qr.wallet" && route != "waiting-room" {
			return p.Errorf("routes", "no route for endpoint %q", route)
		}
	}
	for _, pl := range p.PlatformNames() {
		name := p.RouteName("qr", pl)
		if _, ok := requiredWork[name]; !ok || p.Routes[name] == nil {
			return p.Errorf("platforms."+pl, "platform %s needs a route qr.%s", pl, p.Platforms[pl].Proof)
		}
	}
	for _, route := range spec.SortedKeys(p.Routes) {
		steps := p.Routes[route]
		need, known := requiredWork[route]
		if !known {
			return p.Errorf("routes."+route, "the reference server has no endpoint %q (endpoints: identity.request, identity.confirm, certificate.issue, qr.fetch, qr.wallet, checkin, waiting-room)", route)
		}
		allowed := map[string]bool{}
		for _, w := range append(need, optionalWork[route]...) {
			allowed[w] = true
		}
		done := map[string]int{}
		var err error
		profile.Walk(steps, "routes."+route, func(s profile.Step, path string, _ []string) {
			if s.Share != nil && err == nil { // its routes are its code's: every request does each step
				err = p.Errorf(path+".share", "the reference server makes every visit of a route; a share (a cache's misses) is for surge sim's profile of another service")
			}
			if s.Work == "" || err != nil {
				return
			}
			if !allowed[s.Work] {
				err = p.Errorf(path+".work", "route %s cannot do work %q (it can: %v)", route, s.Work, spec.SortedKeys(allowed))
			}
			done[s.Work]++
			if done[s.Work] > 1 {
				err = p.Errorf(path+".work", "work %q appears twice in route %s", s.Work, route)
			}
		})
		if err != nil {
			return err
		}
		for _, w := range need {
			if done[w] == 0 {
				return p.Errorf("routes."+route, "route %s must do work %q in one of its steps", route, w)
			}
		}
	}
	return nil
}

// run executes a route's steps for a platform with this request's work.
func (s *Server) run(ctx context.Context, steps []profile.Step, platform string, w works) error {
	for _, st := range steps {
		if st.Async {
			s.runAsync(st, platform, w)
			continue
		}
		if err := s.visit(ctx, st, platform, w); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) visit(ctx context.Context, st profile.Step, platform string, w works) error {
	stg, ok := s.stages[profile.StageName(st.Stage, platform)]
	if !ok {
		return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: fmt.Sprintf("no stage %q for platform %q", st.Stage, platform)}
	}
	svc := stg.service
	if st.Service != nil {
		svc = *st.Service
	}
	return stg.serve(ctx, svc, func(ctx context.Context) (time.Duration, error) {
		began := time.Now()
		if err := s.run(ctx, st.Calls, platform, w); err != nil {
			return time.Since(began), err
		}
		called := time.Since(began)
		if st.Work != "" {
			return called, w[st.Work](ctx)
		}
		return called, nil
	})
}

// runAsync hands a step to the background: the request does not wait, and
// the step's outcome is counted in surge_async_total.
func (s *Server) runAsync(st profile.Step, platform string, w works) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := s.visit(s.bgCtx, st, platform, w)
		result := "ok"
		if err != nil {
			result = "error"
			s.log.Warn("async step failed", "stage", st.Stage, "work", st.Work, "err", err)
		}
		s.met.async.WithLabelValues(profile.StageName(st.Stage, platform), result).Inc()
	}()
}
