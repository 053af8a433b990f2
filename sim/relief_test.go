package sim_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// collapse is a minute at half a pool's capacity, a minute at 1.4 times
// it, then six at half again; clients time out after 2 s, retry twice and
// give up.
func collapse(t *testing.T, capacity float64) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("collapse.yaml", []byte(fmt.Sprintf(`name: collapse
scale: 1
arrivals: {start: "12:00", bucket: 1m, total: %v, profile: [%v%%, %v%%, %v%%, %v%%, %v%%, %v%%, %v%%, %v%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: x, share: 100%%, journey: j}]
requests: {r: {method: GET, path: /}}
journeys: {j: [{request: r}]}
behaviour:
  timeout: 2s
  retry: {attempts: 3, backoff: "uniform(200ms, 1s)", on: [timeout, shed, 5xx]}
  give_up: {abandon: 100%%}
slo: [r p95 <= 500ms, errors <= 5%%]
`, 60*capacity*4.9, 50/4.9, 140/4.9, 50/4.9, 50/4.9, 50/4.9, 50/4.9, 50/4.9, 50/4.9)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFindReliefOfACollapse: a pool that finishes the work of clients who
// have gone, surged 40% past its capacity with retries, stays down after
// the surge at half its capacity (the metastable failure); FindRelief
// finds the share of the arrivals after the surge with which it recovers,
// which does recover when played, and says the planned rate after the
// surge. The same pool abandoning that work recovers by itself. Several
// sizes and service times.
func TestFindReliefOfACollapse(t *testing.T) {
	recovered := func(s *scenarios.Scenario) func(*results.Run) bool {
		return func(r *results.Run) bool { ok, _ := reports.RecoveredBeforeEnd(s, r); return ok }
	}
	for _, c := range []struct {
		workers int
		mean    time.Duration
	}{{4, 25 * time.Millisecond}, {16, 80 * time.Millisecond}, {2, 5 * time.Millisecond}} {
		t.Run(fmt.Sprintf("%d x %v", c.workers, c.mean), func(t *testing.T) {
			capacity := float64(c.workers) / c.mean.Seconds()
			s := collapse(t, capacity)
			for _, abandoned := range []string{profile.AbandonedFinish, profile.AbandonedCancel} {
				p, err := profile.Parse("pool.yaml", []byte(fmt.Sprintf(`name: pool
stages: {pool: {workers: %d, queue: 1000000, service: "exp(%v)"}}
routes: {r: [{stage: pool}]}
server: {abandoned: %s}
`, c.workers, c.mean, abandoned)))
				if err != nil {
					t.Fatal(err)
				}
				cfg := sim.Config{Scenario: s, Profile: p, Seed: 3, Bucket: time.Second}
				run, _, err := sim.Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				ok, judged := reports.RecoveredBeforeEnd(s, run)
				if !judged {
					t.Fatal("the surge's recovery was not judged")
				}
				if abandoned == profile.AbandonedCancel {
					if !ok {
						t.Errorf("a pool that drops abandoned work did not recover after the surge")
					}
					continue
				}
				if ok {
					t.Fatalf("a pool that finishes abandoned work recovered after the surge: no collapse to relieve")
				}
				rel, err := sim.FindRelief(context.Background(), cfg, recovered(s))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("capacity %.0f/s: %s", capacity, reports.ReliefText(&rel))
				if want := 0.5 * capacity; math.Abs(rel.Planned-want) > 0.01*want {
					t.Errorf("planned after the surge %.1f/s, want %.1f/s", rel.Planned, want)
				}
				if rel.None || rel.Keep <= 0 || rel.Keep >= 1 {
					t.Fatalf("relief %+v: want a share between 0 and 1", rel)
				}
				cfg.Thin = &sim.Thinning{From: time.Minute * 2, Keep: rel.Keep}
				thinned, _, err := sim.Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !recovered(s)(thinned) {
					t.Errorf("with %.3f of the arrivals after the surge it did not recover", rel.Keep)
				}
				if lost, want := run.Users.Arrived-thinned.Users.Arrived, (1-rel.Keep)*rel.Planned*360; math.Abs(float64(lost)-want) > 4*math.Sqrt(want) {
					t.Errorf("thinning dropped %d arrivals, want about %.0f", lost, want)
				}
			}
		})
	}
}
