package replay_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay"
)

// Run replays a scenario against a live target, open model: each user is
// sent at its scheduled time whatever the answers before it, and each
// latency runs from that intended time. Here 60 users over 3 s, one
// request each, against a service on loopback that answers 200.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	s, err := scenarios.Parse("hello.yaml", []byte(`name: hello
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 60, profile: [34%, 33%, 33%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: hit}]
journeys: {hit: [{request: hello}]}
requests: {hello: {method: GET, path: /hello}}
slo: [hello p99 <= 1s, errors <= 0%]
`))
	if err != nil {
		panic(err)
	}
	run, err := replay.Run(context.Background(), replay.Config{Scenario: s, Target: srv.URL, Seed: 1})
	if err != nil {
		panic(err)
	}
	hello := run.Endpoints["hello"].Total
	fmt.Printf("users %d, hello: %d sent, %d succeeded, p99 under a second: %v\n",
		run.Users.Arrived, hello.Attempted, hello.Succeeded, hello.Latency.Percentile(99) < 1e9)
	// Output:
	// users 60, hello: 60 sent, 60 succeeded, p99 under a second: true
}
