package sim

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
)

// firstDownloadAsBuilt is the shipped go-live scenario and the as-built profile.
func firstDownloadAsBuilt(t testing.TB) (*scenarios.Scenario, *profile.Profile) {
	t.Helper()
	s, err := scenarios.Load("../scenarios/first-download.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Load("../reference-server/profiles/as-built.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// The simulator's shortcut recording (record.go) gives the figures that
// recording every answer with results.Run.Record gives. The as-built first download
// has successes, sheds and expired QR codes.
func TestRecordMatchesResults(t *testing.T) {
	s, p := firstDownloadAsBuilt(t)
	want := results.New(results.Meta{Bucket: 10 * time.Second})
	got, _, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 5, Bucket: 10 * time.Second, Capacity: 1.0 / 50, // the scenario's scale
		Observe: func(request string, o results.Outcome) { want.Record(request, o) }})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := got.EndpointNames(), want.EndpointNames(); len(g) != len(w) {
		t.Fatalf("endpoints %v, want %v", g, w)
	}
	kinds := map[string]bool{}
	for name, we := range want.Endpoints {
		ge := got.Endpoints[name]
		if ge == nil || len(ge.Buckets) != len(we.Buckets) {
			t.Fatalf("%s: %d buckets, want %d", name, len(ge.Buckets), len(we.Buckets))
		}
		for i, ws := range append([]*results.Series{we.Total}, we.Buckets...) {
			gs := append([]*results.Series{ge.Total}, ge.Buckets...)[i]
			if (gs == nil) != (ws == nil) {
				t.Fatalf("%s series %d: got %v, want %v", name, i, gs, ws)
			}
			if ws == nil {
				continue
			}
			if gs.Attempted != ws.Attempted || gs.Offered != ws.Offered || gs.Succeeded != ws.Succeeded || !maps.Equal(gs.Errors, ws.Errors) ||
				!gs.Latency.Equal(ws.Latency) || !gs.Service.Equal(ws.Service) || !gs.FailedLatency.Equal(ws.FailedLatency) {
				t.Errorf("%s series %d: attempted %d ok %d errors %v p99 %v/%v; want %d %d %v %v/%v", name, i,
					gs.Attempted, gs.Succeeded, gs.Errors, gs.Latency.Percentile(99), gs.Service.Percentile(99),
					ws.Attempted, ws.Succeeded, ws.Errors, ws.Latency.Percentile(99), ws.Service.Percentile(99))
			}
			for k := range ws.Errors {
				kinds[k] = true
			}
		}
	}
	if len(kinds) < 2 {
		t.Errorf("error kinds %v: the test wants several to compare", kinds)
	}
}
