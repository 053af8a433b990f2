package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

// TestRunStopsWhenCancelled: a cancelled context stops the simulation at
// its next time bucket with the context's error, after simulating only
// part of the timeline.
func TestRunStopsWhenCancelled(t *testing.T) {
	s, err := scenarios.Parse("c.yaml", []byte(`name: c
scale: 1
arrivals: {start: "00:00", bucket: 1h, total: 2M, profile: [100%], process: poisson}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("p.yaml", []byte("name: p\nstages: {s: {workers: 64, queue: 1000, service: 10ms}}\nroutes: {hit: [{stage: s}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, stats, err := Run(ctx, Config{Scenario: s, Profile: p, Seed: 1, Bucket: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled run: %v, want context.Canceled", err)
	}
	if stats.Events > 1000 {
		t.Errorf("a run cancelled before it began simulated %d events", stats.Events)
	}
}
