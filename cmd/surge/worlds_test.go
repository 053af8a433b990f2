package main

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/sim"
)

// worldsScenario: 120 users whose second request a client-side fault fails
// half the time; they retry, then abandon or keep trying at random. What
// each user does follows only from its draws (no patience, a fast
// service), so a seed must play the same users in both worlds: the same
// requests sent, the same ones failed by the fault, the same give-ups.
const worldsScenario = `name: worlds
scale: 1
arrivals: {start: "00:00", bucket: 1s, total: 120, profile: [0%, 50%, 50%], process: uniform}
platforms: {web: 50%, app: 50%}
cohorts: [{name: a, share: 100%, journey: j}]
requests:
  a: {method: GET, path: /a}
  b: {method: GET, path: /b}
journeys:
  j:
    - request: a
    - think: "uniform(1ms, 20ms)"
    - request: b
behaviour:
  timeout: 5s
  retry: {attempts: 2, backoff: "uniform(1ms, 5ms)", on: [refused]}
  give_up: {abandon: 50%, keep_trying: 50%}
  keep_trying_after: "uniform(1ms, 5ms)"
faults:
  - {name: flaky, at: "00:00", for: 20s, request: b, kind: error, probability: 50%}
`

// TestSeedPlaysTheSameUsersInBothWorlds: one random stream per purpose per
// user (arrival.Stream), seeded alike live and in the simulator. Live, a
// user also draws its venue (its identity stream) and the fault's draws
// come from its fault stream; before the streams were split, those draws
// moved its walker's and the two worlds played different users.
func TestSeedPlaysTheSameUsersInBothWorlds(t *testing.T) {
	s, err := scenarios.Parse("worlds.yaml", []byte(worldsScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("worlds-profile.yaml", []byte(`name: fast
stages: {web: {workers: 1000, queue: 1000, service: 1ms}}
routes: {a: [{stage: web}], b: [{stage: web}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	for _, seed := range []uint64{1, 7} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		live, err := replay.Run(ctx, replay.Config{Scenario: s, Target: srv.URL, Seed: seed, Drain: 10 * time.Second})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		simulated, _, err := sim.Run(context.Background(), sim.Config{Scenario: s, Profile: p, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		lu, su := live.Users, simulated.Users
		if lu != su {
			t.Errorf("seed %d: users live %+v, simulated %+v", seed, lu, su)
		}
		if lu.Abandoned == 0 || lu.KeptTrying == 0 || lu.Completed == 0 {
			t.Errorf("seed %d: the scenario should make users abandon, keep trying and complete: %+v", seed, lu)
		}
		for _, name := range []string{"a", "b"} {
			l, m := live.Endpoints[name].Total, simulated.Endpoints[name].Total
			if l.Attempted != m.Attempted || l.Offered != m.Offered || !maps.Equal(l.Errors, m.Errors) {
				t.Errorf("seed %d, %s: live %d attempts (%d offered), errors %v; simulated %d (%d), %v",
					seed, name, l.Attempted, l.Offered, l.Errors, m.Attempted, m.Offered, m.Errors)
			}
		}
		t.Logf("seed %d: users %+v; b: %d attempts, errors %v", seed, lu, live.Endpoints["b"].Total.Attempted, live.Endpoints["b"].Total.Errors)
	}
}
