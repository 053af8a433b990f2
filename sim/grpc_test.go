package sim

import (
	"context"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
)

// TestCallsAreNamedByTheirCodes: a gRPC call is a request to its stages,
// and what the stages answer is named as a gRPC client names it: a full
// queue's shed is unavailable (retried where a shed is), a rule's 429
// unavailable, an error fault's 500 unknown; deadline exceeded stays a
// timeout.
func TestCallsAreNamedByTheirCodes(t *testing.T) {
	s, err := scenarios.Parse("venue.yaml", []byte(`name: venue
target: {url: "grpc://127.0.0.1:9"}
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 2000, profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests:
  checkin: {grpc: pass.v1.Venue/CheckIn, message: {token: "${user}"}, deadline: 300ms}
journeys: {j: [{request: checkin}]}
behaviour: {retry: {attempts: 2, backoff: 10ms, on: [shed]}}
faults: [{name: broken, at: "00:00:05", for: 1s, kind: error, stage: pool, status: 500, probability: 100%}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("venue-profile.yaml", []byte(`name: venue
stages: {pool: {workers: 2, queue: 4, service: 20ms}}
routes: {checkin: [{stage: pool}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Bucket: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := run.Endpoints["checkin"].Total
	if c.Errors["unavailable"] == 0 || c.Errors["unknown"] == 0 || c.Errors["shed"] != 0 || c.Errors["5xx"] != 0 {
		t.Errorf("errors %v: want unavailable (the queue's sheds) and unknown (the fault's 500), no HTTP kinds", c.Errors)
	}
	if c.Attempted <= c.Offered {
		t.Errorf("%d attempts of %d offered: unavailable should be retried as a shed", c.Attempted, c.Offered)
	}
}
