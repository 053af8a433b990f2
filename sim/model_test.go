package sim

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
)

// TestSharedStageWithAServiceTimePerRequest: two requests share one pool,
// each with its own service time there (a route step's service). For
// several pool sizes, service times and mixes, the pool's utilization is
// the offered work, (lambda_a S_a + lambda_b S_b) / c, and each request's
// mean latency at light load is its own service time, not the other's,
// both within a 99% interval from the run's own samples.
func TestSharedStageWithAServiceTimePerRequest(t *testing.T) {
	for _, c := range []struct {
		workers     int
		sa, sb      time.Duration
		shareA      float64
		lambda, rho float64 // total arrivals per second; the utilization that gives
	}{
		{4, 5 * time.Millisecond, 40 * time.Millisecond, 0.7, 0, 0.6},
		{16, 20 * time.Millisecond, 2 * time.Millisecond, 0.3, 0, 0.8},
		{2, 100 * time.Millisecond, 10 * time.Millisecond, 0.5, 0, 0.5},
	} {
		meanS := c.shareA*c.sa.Seconds() + (1-c.shareA)*c.sb.Seconds()
		c.lambda = c.rho * float64(c.workers) / meanS
		name := fmt.Sprintf("c=%d/a=%v/b=%v/%.0f%%a", c.workers, c.sa, c.sb, 100*c.shareA)
		t.Run(name, func(t *testing.T) {
			length := min(20*time.Minute, time.Duration(200_000/c.lambda)*time.Second) // about 200,000 requests
			s, err := scenarios.Parse("m.yaml", []byte(fmt.Sprintf(`name: m
scale: 1
arrivals: {start: "00:00", bucket: %v, total: %v, profile: [100%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: a, share: %v%%, journey: a}, {name: b, share: %v%%, journey: b}]
requests: {a: {method: GET, path: /a}, b: {method: GET, path: /b}}
journeys: {a: [{request: a}], b: [{request: b}]}
behaviour: {timeout: 1h}
`, length, c.lambda*length.Seconds(), 100*c.shareA, 100*(1-c.shareA))))
			if err != nil {
				t.Fatal(err)
			}
			p, err := profile.Parse("m-profile.yaml", []byte(fmt.Sprintf(`name: m
stages: {web: {workers: %d, queue: 100000000, service: 1h}}
routes:
  a: [{stage: web, service: "exp(%v)"}]
  b: [{stage: web, service: "exp(%v)"}]
`, c.workers, c.sa, c.sb)))
			if err != nil {
				t.Fatal(err)
			}
			var sum, sumSq [2]float64
			var n [2]float64
			_, stats, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 5, Drain: time.Minute,
				Observe: func(req string, o results.Outcome) {
					i := map[string]int{"a": 0, "b": 1}[req]
					x := o.Corrected.Seconds()
					sum[i] += x
					sumSq[i] += x * x
					n[i]++
				}})
			if err != nil {
				t.Fatal(err)
			}
			// The offered work of the requests that came, and its 99%
			// interval: exponential service times, variance S^2 each.
			work := (n[0]*c.sa.Seconds() + n[1]*c.sb.Seconds()) / (float64(c.workers) * length.Seconds())
			half := 2.576 * math.Sqrt(n[0]*c.sa.Seconds()*c.sa.Seconds()+n[1]*c.sb.Seconds()*c.sb.Seconds()) / (float64(c.workers) * length.Seconds())
			if util := stats.Stages["web"].Utilization; math.Abs(util-work) > half+0.005 { // 0.005: the work begun before the end, done in the drain
				t.Errorf("utilization %.4f, want the offered work %.4f ± %.4f", util, work, half)
			}
			// At light load the waits are short; a request's mean latency
			// is its own service time plus a wait shared by both: the
			// difference of the two means is S_a - S_b.
			mean := func(i int) (float64, float64) {
				m := sum[i] / n[i]
				sd := math.Sqrt(sumSq[i]/n[i] - m*m)
				return m, 2.576 * sd / math.Sqrt(n[i])
			}
			ma, ha := mean(0)
			mb, hb := mean(1)
			want := c.sa.Seconds() - c.sb.Seconds()
			if d := ma - mb; math.Abs(d-want) > ha+hb {
				t.Errorf("mean latency a %.4fs (±%.4f), b %.4fs (±%.4f): a - b = %.4f, want S_a - S_b = %.4f", ma, ha, mb, hb, d, want)
			}
		})
	}
}

// TestAbandonedWorkKeepsTheServiceDown: a surge to twice a pool's capacity
// for a minute, then arrivals at half of it; clients time out after 2 s
// and retry. A service that cancels its clients' abandoned work recovers
// soon after the surge; one that finishes it (abandoned: finish) stays
// down, every worker busy with work for clients long gone, until the
// backlog drains at the spare capacity, for several sizes of service.
func TestAbandonedWorkKeepsTheServiceDown(t *testing.T) {
	for _, c := range []struct {
		workers int
		service time.Duration
	}{{8, 50 * time.Millisecond}, {32, 200 * time.Millisecond}, {4, 20 * time.Millisecond}} {
		t.Run(fmt.Sprintf("c=%d/S=%v", c.workers, c.service), func(t *testing.T) {
			capRate := float64(c.workers) / c.service.Seconds()
			// 60 s at 2x capacity, then 120 s at 0.5x: the profile's buckets are 60 s.
			total := 60*2*capRate + 120*0.5*capRate
			s, err := scenarios.Parse("o.yaml", []byte(fmt.Sprintf(`name: o
scale: 1
arrivals: {start: "00:00", bucket: 60s, total: %v, profile: [%v%%, %v%%, %v%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: a, share: 100%%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour:
  timeout: 2s
  retry: {attempts: 3, backoff: "uniform(100ms, 500ms)", on: [timeout]}
  give_up: {abandon: 100%%}
`, total, 100*120*capRate/total, 100*30*capRate/total, 100*30*capRate/total)))
			if err != nil {
				t.Fatal(err)
			}
			after := map[string]float64{}
			for _, abandoned := range []string{"cancel", "finish"} {
				p, err := profile.Parse("o-profile.yaml", []byte(fmt.Sprintf(`name: o
stages: {s: {workers: %d, queue: 100000000, service: "exp(%v)"}}
routes: {hit: [{stage: s}]}
server: {abandoned: %s}
`, c.workers, c.service, abandoned)))
				if err != nil {
					t.Fatal(err)
				}
				var ok, all float64
				_, _, err = Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Drain: 10 * time.Second,
					Observe: func(_ string, o results.Outcome) {
						if o.At >= 90*time.Second && o.At < 180*time.Second { // from 30 s after the surge
							all++
							if o.Err == "" {
								ok++
							}
						}
					}})
				if err != nil {
					t.Fatal(err)
				}
				after[abandoned] = ok / all
			}
			if after["cancel"] < 0.9 {
				t.Errorf("cancelling abandoned work: %.0f%% of answers after the surge succeeded, want it recovered (90%% or more)", 100*after["cancel"])
			}
			if after["finish"] > 0.5 {
				t.Errorf("finishing abandoned work: %.0f%% of answers after the surge succeeded, want the service still down", 100*after["finish"])
			}
		})
	}
}

// TestRateLimitAdmitsItsRate: a stage with a rate limit (a token bucket)
// offered more than its rate admits the rate and refuses the rest at once
// (429: shed, latency zero), its admitted requests' latency their service
// time, not a queue's; offered less, it refuses nothing past its burst.
// Several rates, bursts and offered loads.
func TestRateLimitAdmitsItsRate(t *testing.T) {
	for _, c := range []struct {
		rate    float64
		burst   int
		offered float64
	}{
		{100, 10, 250},
		{40, 1, 60},
		{500, 100, 1000},
		{100, 10, 70},
	} {
		t.Run(fmt.Sprintf("%v/s burst %d offered %v/s", c.rate, c.burst, c.offered), func(t *testing.T) {
			const length = 120.0
			s, err := scenarios.Parse("m.yaml", []byte(fmt.Sprintf(`name: m
scale: 1
arrivals: {start: "00:00", bucket: 2m, total: %v, profile: [100%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: a, share: 100%%, journey: a}]
requests: {a: {method: GET, path: /a}}
journeys: {a: [{request: a}]}
behaviour: {timeout: 10s}
`, c.offered*length)))
			if err != nil {
				t.Fatal(err)
			}
			p, err := profile.Parse("m-profile.yaml", []byte(fmt.Sprintf(`name: m
stages: {api: {workers: 1000, queue: 0, service: "exp(5ms)", rate_limit: %v, burst: %d}}
routes: {a: [{stage: api}]}
`, c.rate, c.burst)))
			if err != nil {
				t.Fatal(err)
			}
			run, stats, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Bucket: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			tot := run.Endpoints["a"].Total
			admitted := float64(tot.Succeeded) / length
			// Poisson arrivals: the admitted count is at most the offered's,
			// and past the rate it is the rate, within 3 sigma of the
			// arrivals' own noise plus one burst.
			want := math.Min(c.rate, c.offered)
			if c.burst == 1 { // one token: each admission waits 1/rate, then for the next arrival (memoryless)
				want = 1 / (1/c.rate + 1/c.offered)
			}
			slack := 3*math.Sqrt(c.offered*length)/length + float64(c.burst)/length
			if c.offered < c.rate {
				slack += 0.05 * c.offered // a Poisson burst past the bucket now and then
			}
			if math.Abs(admitted-want) > slack {
				t.Errorf("admitted %.1f/s, want %.1f ± %.1f", admitted, want, slack)
			}
			if shed := stats.Stages["api"].Shed; tot.Errors["shed"] != shed {
				t.Errorf("%d answers shed, the stage counted %d", tot.Errors["shed"], shed)
			}
			if p95 := tot.Latency.Percentile(95); p95 > 20*time.Millisecond {
				t.Errorf("admitted p95 %v: a rate limit refuses, it does not queue", p95)
			}
			if c.offered > 1.2*c.rate && tot.FailedLatency.Percentile(95) > time.Millisecond {
				t.Errorf("refused p95 %v, want at once", tot.FailedLatency.Percentile(95))
			}
		})
	}
}
