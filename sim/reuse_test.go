package sim

import (
	"context"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

// A visit or request whose event is still on the clock when it is freed
// must not be acted on by that event once it is reused: here every request
// times out at 50 ms while its service (100 ms) or its client-side delay
// (200 ms) is still pending. Acting on a reused one would answer a new
// request early (a success) or send it twice.
func TestSimNothingReusedWhileOnTheClock(t *testing.T) {
	s, err := scenarios.Parse("r.yaml", []byte(`name: r
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 4000, profile: [50%, 50%], process: poisson}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}, {request: hit}]}
behaviour: {timeout: 50ms, retry: {attempts: 1}}
faults: [{name: slow-net, at: "00:00:10", for: 10s, kind: latency, request: hit, latency: 200ms}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("p.yaml", []byte("name: p\nstages: {s: {workers: 64, queue: 100000, service: 100ms}}\nroutes: {hit: [{stage: s}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	run, stats, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 5, Bucket: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := run.Endpoints["hit"]
	if e.Total.Succeeded != 0 || e.Total.Errors["timeout"] != e.Total.Attempted || e.Total.Attempted < 3000 {
		t.Errorf("%d attempts, %d succeeded, %v: want every one timed out", e.Total.Attempted, e.Total.Succeeded, e.Total.Errors)
	}
	if lo, hi := e.Total.FailedLatency.Percentile(0), e.Total.FailedLatency.Max(); lo < 49*time.Millisecond || hi > 51*time.Millisecond {
		t.Errorf("latencies %v to %v, want 50ms (the timeout)", lo, hi)
	}
	// Only the first window's requests reach the stage: the delayed ones
	// time out before they go out.
	if got, want := stats.Stages["s"].Arrivals, e.Buckets[0].Attempted; got != want {
		t.Errorf("the stage saw %d arrivals, want the first window's %d attempts", got, want)
	}
}
