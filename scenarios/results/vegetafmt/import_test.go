package vegetafmt

import (
	"bytes"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios"
)

// TestImportReadsAnAttackAsARun: results in the order their requests ended
// (not sent) become a run from the earliest send, each failure by surge's
// kind for its status or vegeta's error.
func TestImportReadsAnAttackAsARun(t *testing.T) {
	s, err := scenarios.Parse("v.yaml", []byte(`name: v
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 10, profile: [100%]}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {qr: {method: POST, path: /v1/qr, expect: [201]}}
journeys: {j: [{request: qr}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1639364400, 0)
	var b bytes.Buffer
	enc := vegeta.NewJSONEncoder(&b)
	for _, r := range []vegeta.Result{
		{Timestamp: t0.Add(2 * time.Second), Latency: 10 * time.Millisecond, Code: 201},
		{Timestamp: t0, Latency: 3 * time.Second, Code: 503}, // sent first, ended last
		{Timestamp: t0.Add(time.Second), Latency: time.Millisecond, Code: 200},
		{Timestamp: t0.Add(4 * time.Second), Latency: time.Second, Error: "dial tcp 127.0.0.1:9: connect: connection refused"},
	} {
		if err := enc.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	run, err := Import(vegeta.NewJSONDecoder(&b), s, "qr")
	if err != nil {
		t.Fatal(err)
	}
	tot := run.Endpoints["qr"].Total
	if tot.Attempted != 4 || tot.Succeeded != 1 || tot.Errors["shed"] != 1 || tot.Errors["wrong_status"] != 1 || tot.Errors["refused"] != 1 {
		t.Errorf("attempted %d, succeeded %d, errors %v", tot.Attempted, tot.Succeeded, tot.Errors)
	}
	if !run.Meta.Started.Equal(t0) || run.Meta.Elapsed != 5*time.Second {
		t.Errorf("started %v, elapsed %v: want the earliest send and to the last answer", run.Meta.Started, run.Meta.Elapsed)
	}
	if run.Users.Arrived != 4 || run.Users.Completed != 1 {
		t.Errorf("users %+v", run.Users)
	}
	if _, err := Import(vegeta.NewJSONDecoder(&bytes.Buffer{}), s, "qr"); err == nil {
		t.Error("no results imported without an error")
	}
	if _, err := Import(vegeta.NewJSONDecoder(&bytes.Buffer{}), s, "nope"); err == nil {
		t.Error("a request the scenario lacks was taken")
	}
}
