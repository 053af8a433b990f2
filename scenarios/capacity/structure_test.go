package capacity

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// twoRequests is a scenario of two cohorts, each sending one request (a
// or b), at shareA / 1-shareA of the arrivals, its SLO on both p95s.
func twoRequests(t testing.TB, shareA float64, peak float64, slo time.Duration, more ...string) *scenarios.Scenario {
	t.Helper()
	clauses := strings.Join(append([]string{"a p95 <= " + slo.String(), "b p95 <= " + slo.String()}, more...), ", ")
	s, err := scenarios.Parse("two.yaml", []byte(fmt.Sprintf(`name: two
scale: 1
arrivals: {start: "12:00", bucket: 10m, total: %v, profile: [100%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: a-users, share: %v%%, journey: a}, {name: b-users, share: %v%%, journey: b}]
requests: {a: {method: GET, path: /a}, b: {method: GET, path: /b}}
journeys: {a: [{request: a}], b: [{request: b}]}
behaviour: {timeout: 2s}
slo: [%s]
`, peak*600, 100*shareA, 100*(1-shareA), clauses)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parseProfile(t testing.TB, text string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse("truth.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCalibrationTellsSharedFromIndependentPools: the search on a service
// (here simulated, so the truth is known) of two requests either sharing
// one pool or each with its own, for several sizes, service times and
// mixes: the calibration, which sees only the answers, chooses the
// structure the service has, and says so in the profile's notes.
func TestCalibrationTellsSharedFromIndependentPools(t *testing.T) {
	for _, c := range []struct {
		name   string
		shareA float64
		slo    time.Duration
		truth  string
		want   string
	}{
		{"shared 8, a 10ms b 40ms, 70% a", 0.7, 150 * time.Millisecond, `name: t
stages: {pool: {workers: 8, queue: 100000, service: 1s}}
routes: {a: [{stage: pool, service: "exp(10ms)"}], b: [{stage: pool, service: "exp(40ms)"}]}
`, "shared"},
		{"shared 3, a 50ms b 5ms, 40% a", 0.4, 400 * time.Millisecond, `name: t
stages: {pool: {workers: 3, queue: 100000, service: 1s}}
routes: {a: [{stage: pool, service: "exp(50ms)"}], b: [{stage: pool, service: "exp(5ms)"}]}
`, "shared"},
		{"independent 4x10ms and 2x40ms, 60% a", 0.6, 200 * time.Millisecond, `name: t
stages: {pa: {workers: 4, queue: 100000, service: "exp(10ms)"}, pb: {workers: 2, queue: 100000, service: "exp(40ms)"}}
routes: {a: [{stage: pa}], b: [{stage: pb}]}
`, "independent"},
		{"independent 2x30ms and 6x10ms, 30% a", 0.3, 200 * time.Millisecond, `name: t
stages: {pa: {workers: 2, queue: 100000, service: "exp(30ms)"}, pb: {workers: 6, queue: 100000, service: "exp(10ms)"}}
routes: {a: [{stage: pa}], b: [{stage: pb}]}
`, "independent"},
		{"independent 4x6ms and 2x10ms, queues of 8 that shed, 40% a", 0.4, 100 * time.Millisecond, `name: t
stages: {pa: {workers: 4, queue: 8, when_full: shed, service: "exp(6ms)"}, pb: {workers: 2, queue: 8, when_full: shed, service: "exp(10ms)"}}
routes: {a: [{stage: pa}], b: [{stage: pb}]}
`, "independent"},
		{"8 web slots held across 2 database slots, a 2+5ms b 2+15ms, 70% a", 0.7, 150 * time.Millisecond, `name: t
stages: {web: {workers: 8, queue: 100000, service: 1s}, db: {workers: 2, queue: 100000, service: 1s}}
routes:
  a: [{stage: web, service: "exp(2ms)", calls: [{stage: db, service: "exp(5ms)"}]}]
  b: [{stage: web, service: "exp(2ms)", calls: [{stage: db, service: "exp(15ms)"}]}]
`, "shared+transit"},
		{"a cache answering 80% of a and 50% of b in front of a store of 3, a 20ms b 10ms, 60% a", 0.6, 150 * time.Millisecond, `name: t
stages: {web: {workers: 100000, queue: 0, service: 1s}, store: {workers: 3, queue: 100000, service: 1s}}
routes:
  a: [{stage: web, service: "exp(1ms)"}, {stage: store, share: 20%, service: "exp(20ms)"}]
  b: [{stage: web, service: "exp(2ms)"}, {stage: store, share: 50%, service: "exp(10ms)"}]
`, "cache"},
		{"a cache answering 90% of a, b always at a store of 2, a 15ms b 8ms, 50% a", 0.5, 150 * time.Millisecond, `name: t
stages: {web: {workers: 100000, queue: 0, service: 1s}, store: {workers: 2, queue: 100000, service: 1s}}
routes:
  a: [{stage: web, service: "exp(500us)"}, {stage: store, share: 10%, service: "exp(15ms)"}]
  b: [{stage: web, service: "exp(500us)"}, {stage: store, service: "exp(8ms)"}]
`, "cache"},
		{"6 web slots held across a store of 2 behind a cache answering 70% of a and 40% of b, 60% a", 0.6, 150 * time.Millisecond, `name: t
stages: {web: {workers: 6, queue: 100000, service: 1s}, store: {workers: 2, queue: 100000, service: 1s}}
routes:
  a: [{stage: web, service: "exp(1ms)", calls: [{stage: store, share: 30%, service: "exp(20ms)"}]}]
  b: [{stage: web, service: "exp(1ms)", calls: [{stage: store, share: 60%, service: "exp(10ms)"}]}]
`, "cache"},
		{"shared 4 finishing abandoned work, a 20ms b 30ms, 50% a", 0.5, 300 * time.Millisecond, `name: t
stages: {pool: {workers: 4, queue: 100000, service: 1s}}
routes: {a: [{stage: pool, service: "exp(20ms)"}], b: [{stage: pool, service: "exp(30ms)"}]}
server: {abandoned: finish}
`, "shared+finish"},
		{"independent 3x20ms and 3x20ms finishing abandoned work, 50% a", 0.5, 300 * time.Millisecond, `name: t
stages: {pa: {workers: 3, queue: 100000, service: "exp(20ms)"}, pb: {workers: 3, queue: 100000, service: "exp(20ms)"}}
routes: {a: [{stage: pa}], b: [{stage: pb}]}
server: {abandoned: finish}
`, "independent+finish"},
	} {
		if raceEnabled && slices.ContainsFunc([]string{", 30% a", "shared 3", "independent 3x20ms", "cache"}, func(k string) bool { return strings.Contains(c.name, k) }) {
			continue // one of each kind under the race detector (race_test.go); the cache split has no goroutine of its own
		}
		t.Run(c.name, func(t *testing.T) {
			s := twoRequests(t, c.shareA, 100, c.slo)
			truth := parseProfile(t, c.truth)
			res, p := searchAndCalibrate(t, s, truth, c.want)
			identified, filled := 0, 0
			for _, st := range res.Steps {
				if st.Mix != "" {
					identified++
				}
				if strings.Contains(st.Mix, "enough to fill a pool") {
					filled++
				}
			}
			if identified-filled != 2 {
				t.Errorf("%d identification steps at 1.5x a cohort's share, want one for each cohort", identified-filled)
			}
			if c.want == "shared" {
				var page strings.Builder
				if err := reports.CapacityHTML(&page, &res.Capacity, s); err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"<b>shared</b> (chosen)", "an identification step: only a-users, at 1.5x its share of the knee", "share a pool of ~"} {
					if !strings.Contains(page.String(), want) {
						t.Errorf("the capacity page does not say %q", want)
					}
				}
			}
			for _, m := range comparePrediction(t, surgeOf(t, s, res.Knee.ArrivalsPerS), truth, p, res) {
				t.Error(m)
			}
		})
	}
}

// searchAndCalibrate searches the simulated service truth and calibrates
// a profile from its answers; the structure chosen, logged with the
// others, must be want, and the profile's notes must say so.
func searchAndCalibrate(t *testing.T, s *scenarios.Scenario, truth *profile.Profile, want string) (*Result, *profile.Profile) {
	t.Helper()
	ctx := context.Background()
	res, err := Search(ctx, Config{Scenario: s, Runner: &SimRunner{Profile: truth}, Seed: 1, MinStep: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Calibrate(ctx, res, s, nil, "simulated", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, cand := range res.Candidates {
		t.Logf("%-20s %.3f  %s", cand.Name, cand.Score, cand.Structure)
	}
	if got := res.Candidates[0].Name; got != want {
		t.Errorf("chose %s, want %s (knee %.1f/s, %d steps)", got, want, res.Knee.ArrivalsPerS, len(res.Steps))
	}
	if notes := p.Calibrated.Notes; !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, "structure: "+want+" ") }) {
		t.Errorf("the profile's notes do not say the structure: %v", notes)
	}
	return res, p
}

// surgeOf is s as a surge: a minute at half the knee, a minute at 1.4
// times it, a minute at half again; clients retry timeouts and sheds
// twice, and give up after that.
func surgeOf(t testing.TB, s *scenarios.Scenario, knee float64) *scenarios.Scenario {
	return surgeIn(t, s, knee, time.Minute)
}

// surgeIn is surgeOf with phases of the given length.
func surgeIn(t testing.TB, s *scenarios.Scenario, knee float64, phase time.Duration) *scenarios.Scenario {
	t.Helper()
	total := phase.Seconds() * knee * (0.5 + 1.4 + 0.5)
	c := *s
	c.Arrivals.Bucket, c.Arrivals.Total = phase, scenarios.Count(total)
	c.Arrivals.Profile = []scenarios.Percent{scenarios.Percent(0.5 / 2.4), scenarios.Percent(1.4 / 2.4), scenarios.Percent(0.5 / 2.4)}
	b, err := scenarios.Parse("b.yaml", []byte(`name: b
scale: 1
arrivals: {start: "12:00", bucket: 1m, total: 10, profile: [100%]}
platforms: {web: 100%}
cohorts: [{name: x, share: 100%, journey: j}]
requests: {r: {method: GET, path: /}}
journeys: {j: [{request: r}]}
behaviour:
  timeout: 2s
  retry: {attempts: 3, backoff: "uniform(200ms, 1s)", on: [timeout, shed, 5xx]}
  give_up: {abandon: 100%}
`))
	if err != nil {
		t.Fatal(err)
	}
	c.Behaviour = b.Behaviour
	return &c
}

// comparePrediction simulates the surge on the service's true profile and
// on the calibrated one, and says where they differ by more than
// compareRuns allows.
func comparePrediction(t *testing.T, surge *scenarios.Scenario, truth, fitted *profile.Profile, res *Result) []string {
	t.Helper()
	run := func(p *profile.Profile) *results.Run {
		r, _, err := sim.Run(context.Background(), sim.Config{Scenario: surge, Profile: p, Seed: 2, Bucket: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want, got := run(truth), run(fitted)
	logBand(t, sim.Config{Scenario: surge, Profile: fitted, Seed: 2, Bucket: time.Second}, want)
	return append(compareRuns(t, want, got, shareNoise(res, fitted, want), surge.Behaviour.Timeout), compareRecovery(t, surge, want, got)...)
}

// shareNoise is, for each request fitted as answering from a cache, how
// far its measured p95 (in want) moves when the hit share moves by the
// 95% sampling error of the answers it was split from: a p95 between the
// hits and the misses is known only as well as that share (a request with
// 10% misses has its p95 at their median; with 9%, well below it).
func shareNoise(res *Result, fitted *profile.Profile, want *results.Run) map[string][2]float64 {
	out := map[string][2]float64{}
	steps, runs := sortedSteps(peakMixSteps(res))
	for route, rs := range fitted.Routes {
		e := want.Endpoints[route]
		if rs[len(rs)-1].Share == nil || e == nil || p95(e.Total) <= 0 {
			continue
		}
		if m, ok := lowModes(route, steps, runs); ok {
			d := 100 * m.hitErr
			lo, hi := e.Total.Latency.Percentile(math.Max(0, 95-d)).Seconds(), e.Total.Latency.Percentile(math.Min(100, 95+d)).Seconds()
			out[route] = [2]float64{0, (hi - lo) / 2 / p95(e.Total)}
		}
	}
	return out
}

// addNoise is a and b's allowances added, request by request.
func addNoise(a, b map[string][2]float64) map[string][2]float64 {
	out := maps.Clone(a)
	for k, v := range b {
		out[k] = [2]float64{out[k][0] + v[0], out[k][1] + v[1]}
	}
	return out
}

// compareRecovery says where a predicted surge (got) and the true one
// (want) disagree on whether the service recovered from the surge before
// the timeline ended: a collapse that outlives the peak (a service
// finishing the work of clients who have gone, whose retries keep its
// backlog full) predicted as a recovery, or the other way round.
func compareRecovery(t *testing.T, surge *scenarios.Scenario, want, got *results.Run) []string {
	t.Helper()
	wr, wj := reports.RecoveredBeforeEnd(surge, want)
	gr, gj := reports.RecoveredBeforeEnd(surge, got)
	t.Logf("recovered before the end: predicted %v, true %v", gr, wr)
	if wj && gj && wr != gr {
		return []string{fmt.Sprintf("predicted recovered before the end: %v, true %v", gr, wr)}
	}
	return nil
}

// compareRuns says where a predicted surge (got) differs from the true one
// (want) by more than what the calibration achieves today: each request's
// error share within 6 points and p95 within 15%, and the users who gave
// up within 30% (or 1% of the arrivals when few do). The aim is 3 points
// and 20%: the shared pool of 8 misses it by about 2 points (a capacity 2%
// high, which a surge 20% past capacity with retries turns into 4-5 points
// of errors). noise widens each request's bounds by its sampling error
// (error share, relative p95) when want was measured.
//
// A p95 the clients' timeout cut (both at 70% of it or more: the requests
// that succeeded are the few that got in before it) is not judged: it says
// where the timeout is, not the service, and both say so. Measured on the
// metastable service compressed to 20-s phases: 1.79 s predicted, 1.48 s
// live, with 82% and 81% of the requests failing.
func compareRuns(t *testing.T, want, got *results.Run, noise map[string][2]float64, timeout time.Duration) []string {
	t.Helper()
	var misses []string
	for _, name := range want.EndpointNames() {
		w, g := want.Endpoints[name].Total, got.Endpoints[name].Total
		t.Logf("%s: errors %.1f%% (true %.1f%%), p95 %v (true %v), attempts %d (true %d)", name, 100*errorShare(g), 100*errorShare(w),
			g.Latency.Percentile(95), w.Latency.Percentile(95), g.Attempted, w.Attempted)
		if d := math.Abs(errorShare(g) - errorShare(w)); d > 0.06+noise[name][0] {
			misses = append(misses, fmt.Sprintf("%s: predicted error share %.1f%%, true %.1f%%", name, 100*errorShare(g), 100*errorShare(w)))
		}
		cut := 0.7 * timeout.Seconds()
		if wp, gp := p95(w), p95(g); wp > 0 && !(wp >= cut && gp >= cut) && math.Abs(gp-wp)/wp > 0.15+noise[name][1] {
			misses = append(misses, fmt.Sprintf("%s: predicted p95 %.0fms, true %.0fms", name, 1000*gp, 1000*wp))
		}
	}
	wu, gu := want.Users, got.Users
	t.Logf("abandoned %d of %d (true %d of %d)", gu.Abandoned, gu.Arrived, wu.Abandoned, wu.Arrived)
	if d := math.Abs(float64(gu.Abandoned - wu.Abandoned)); d > math.Max(0.3*float64(wu.Abandoned), 0.01*float64(wu.Arrived)) {
		misses = append(misses, fmt.Sprintf("predicted %d users abandoning, true %d", gu.Abandoned, wu.Abandoned))
	}
	return misses
}

// TestCalibrationFindsRateLimitsAndServerTimeouts: services (simulated, so
// the truth is known) that limit themselves when overloaded, a rate
// limiter in front of everything or of each request, a server timeout
// answering 503 or 504, each with other sizes, service times and mixes:
// the calibration, from the answers alone, chooses the structure and
// predicts the surge past the knee as comparePrediction judges.
func TestCalibrationFindsRateLimitsAndServerTimeouts(t *testing.T) {
	for _, c := range []struct {
		name   string
		shareA float64
		slo    time.Duration
		truth  string
		want   string
	}{
		{"one limit of 120/s over pools of 8x10ms and 8x20ms, 60% a", 0.6, 200 * time.Millisecond, `name: t
stages: {gate: {workers: 100000, queue: 0, service: 0s, rate_limit: 120, burst: 20}, pa: {workers: 8, queue: 100000, service: "exp(10ms)"}, pb: {workers: 8, queue: 100000, service: "exp(20ms)"}}
routes: {a: [{stage: gate}, {stage: pa}], b: [{stage: gate}, {stage: pb}]}
`, "global-limit"},
		{"limits of their own, a 50/s b 90/s, 40% a", 0.4, 200 * time.Millisecond, `name: t
stages: {pa: {workers: 20, queue: 100000, service: "exp(15ms)", rate_limit: 50, burst: 5}, pb: {workers: 20, queue: 100000, service: "exp(8ms)", rate_limit: 90, burst: 9}}
routes: {a: [{stage: pa}], b: [{stage: pb}]}
`, "independent+limit"},
		{"shared 4 timing out at 300ms with 503, a 20ms b 40ms, 50% a", 0.5, 250 * time.Millisecond, `name: t
stages: {pool: {workers: 4, queue: 100000, service: 1s}}
routes: {a: [{stage: pool, service: "exp(20ms)"}], b: [{stage: pool, service: "exp(40ms)"}]}
server: {request_timeout: 300ms, timeout_status: 503}
`, "shared+timeout"},
		{"own pools 3x30ms and 5x10ms timing out at 500ms with 504, 30% a", 0.3, 400 * time.Millisecond, `name: t
stages: {pa: {workers: 3, queue: 100000, service: "exp(30ms)"}, pb: {workers: 5, queue: 100000, service: "exp(10ms)"}}
routes: {a: [{stage: pa}], b: [{stage: pb}]}
server: {request_timeout: 500ms}
`, "independent+timeout"},
	} {
		if raceEnabled && (strings.HasPrefix(c.name, "limits") || strings.HasPrefix(c.name, "own")) {
			continue // one of each kind under the race detector
		}
		t.Run(c.name, func(t *testing.T) {
			s := twoRequests(t, c.shareA, 100, c.slo, "errors <= 1%")
			truth := parseProfile(t, c.truth)
			res, p := searchAndCalibrate(t, s, truth, c.want)
			for _, m := range comparePrediction(t, surgeOf(t, s, res.Knee.ArrivalsPerS), truth, p, res) {
				t.Error(m)
			}
		})
	}
}
