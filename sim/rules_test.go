package sim

import (
	"context"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

// TestRulesAreData: a service of someone else's, with its own rules in its
// profile: a session from /login valid 2 s, two orders per user a minute.
// The simulator applies them to whatever variables the scenario extracts
// from that endpoint, and classifies the refusals as the scenario's
// requests map their codes.
func TestRulesAreData(t *testing.T) {
	s, err := scenarios.Parse("shop.yaml", []byte(`name: shop
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 100, profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests:
  login: {method: POST, path: /login, extract: {sid: session}}
  order: {method: POST, path: "/order?s=${sid}", kinds: {session_expired: expired_session}}
journeys:
  j:
    - request: login
    - request: order
    - think: 3s
    - request: order
behaviour: {retry: {attempts: 1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("shop-profile.yaml", []byte(`name: shop
stages: {app: {workers: 64, queue: 1000, service: 10ms}}
routes: {login: [{stage: app}], order: [{stage: app}]}
rules:
  - {name: session, expires: login, after: 2s, answer: {status: 401, code: session_expired}}
  - {name: orders, limit: order, requests: 1, per: 1m, answer: {status: 429, code: too_many}}
`))
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Bucket: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := run.Endpoints["order"].Total
	// the first order is in time and within the limit; the second, 3 s on, finds the session expired
	if o.Succeeded != 100 || o.Errors["expired_session"] != 100 || o.Attempted != 200 {
		t.Errorf("orders: %d ok, errors %v of %d; want 100 ok and 100 expired_session", o.Succeeded, o.Errors, o.Attempted)
	}
	p.Rules[0].After = time.Minute // a long session: now the limit refuses the second order (429: shed)
	run, _, _ = Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Bucket: 10 * time.Second})
	if o := run.Endpoints["order"].Total; o.Succeeded != 100 || o.Errors["shed"] != 100 {
		t.Errorf("orders with a long session: %d ok, errors %v; want 100 shed by the limit", o.Succeeded, o.Errors)
	}
}
