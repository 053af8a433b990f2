package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/sim"
)

// Run predicts a scenario against a capacity profile on a virtual clock:
// the same arrivals and user decisions as a live run of the same seed, the
// profile's stages instead of a service. Here the go-live lunch of the
// first downloads, against the system as it was built.
func ExampleRun() {
	s, err := scenarios.Load("../scenarios/first-download.yaml")
	if err != nil {
		panic(err)
	}
	p, err := profiles.Load("as-built")
	if err != nil {
		panic(err)
	}
	run, _, err := sim.Run(context.Background(), sim.Config{Scenario: s, Profile: p, Seed: 1})
	if err != nil {
		panic(err)
	}
	issue := run.Endpoints["certificate.issue"].Total
	fmt.Printf("users %d, completed %d\n", run.Users.Arrived, run.Users.Completed)
	fmt.Printf("certificate.issue: %d attempted, %.0f%% failed, p99 %v\n", issue.Attempted, 100*issue.ErrorRate(), issue.Latency.Percentile(99).Round(time.Millisecond))
	fmt.Printf("retry amplification %.2fx\n", run.RetryAmplification())
	// Output:
	// users 2925, completed 1192
	// certificate.issue: 2048 attempted, 69% failed, p99 14.86s
	// retry amplification 6.11x
}
