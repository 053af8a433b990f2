package capacity_test

import (
	"context"
	"fmt"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/capacity"
)

// Search finds the knee: the highest arrival rate of the scenario's peak
// mix at which every clause of its gate still holds, stepping up, then
// bisecting. Its Runner plays a step: live against a target (capacity.LiveRunner),
// or, as here, in the simulator against a profile (capacity.SimRunner).
func ExampleSearch() {
	s, err := scenarios.Load("../lunch.yaml")
	if err != nil {
		panic(err)
	}
	p, err := profiles.Load("as-built")
	if err != nil {
		panic(err)
	}
	res, err := capacity.Search(context.Background(), capacity.Config{Scenario: s, Runner: &capacity.SimRunner{Profile: p}, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("knee %.1f arrivals/s (forecast peak %.1f): headroom %.2fx, %s\n", res.Knee.ArrivalsPerS, res.Peak, res.Headroom, res.Ended)
	fmt.Println("limited by:", res.Bottleneck)
	// Output:
	// knee 27.3 arrivals/s (forecast peak 16.8): headroom 1.63x, found
	// limited by: kdca
}
