package capacity

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/sim"
)

// TestReferenceServerKneeAndCalibration: lunch's mix on the embedded
// reference server (as-built). The live knee agrees with the knee the
// same search finds in the simulator on the true profile within 15%; the
// profile calibrated from the live steps (stage by stage: the server
// exports its stage metrics and shape), simulated, predicts a live run at
// 0.8x the knee within 15% on each request's p95.
func TestReferenceServerKneeAndCalibration(t *testing.T) {
	// A live search of lunch's own mix brackets and bisects with 15-40 s
	// steps and then plays 80 s more: over ten minutes on this machine, more
	// than the CI budget allows. TestLiveKneeAndCalibration covers the same
	// path on a fast profile; this one runs on request.
	if testing.Short() || os.Getenv("SURGE_LONG_TESTS") == "" {
		t.Skip("a live capacity search of the as-built reference server (over ten minutes): set SURGE_LONG_TESTS=1 and -timeout 40m")
	}
	s, err := scenarios.Load("../lunch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Load("as-built")
	if err != nil {
		t.Fatal(err)
	}
	simRes, err := Search(context.Background(), Config{Scenario: s, Runner: &SimRunner{Profile: p}, Seed: 1, MinStep: time.Minute, Precision: 0.05, NoOverload: true})
	if err != nil {
		t.Fatal(err)
	}
	simKnee := simRes.Knee.ArrivalsPerS

	target := "http://" + serveReference(t, p, "knee-test-admin")
	live := &LiveRunner{Config: replay.Config{Target: target, AdminToken: "knee-test-admin", SampleMetrics: true, StageCalls: p.Calls()}, Cool: time.Second}
	// Start just below the simulated knee, so that the search brackets it
	// in a few steps; each measures 15-40 s.
	res, err := Search(context.Background(), Config{Scenario: s, Runner: live, Seed: 1, Start: 0.8 * simKnee, Precision: 0.08,
		MinStep: 15 * time.Second, MaxStep: 40 * time.Second, NoOverload: true})
	if err != nil {
		t.Fatal(err)
	}
	liveKnee := res.Knee.ArrivalsPerS
	t.Logf("knee: live %.2f/s (%d steps, %s), simulated %.2f/s", liveKnee, len(res.Steps), res.Ended, simKnee)
	if math.Abs(liveKnee-simKnee)/simKnee > 0.15 {
		t.Errorf("the live knee %.2f/s and the simulated %.2f/s differ by more than 15%%", liveKnee, simKnee)
	}
	cal, err := Calibrate(context.Background(), res, s, live.Snapshots, target, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Calibrated.From != "stage metrics" || len(cal.Stages) != len(p.Stages) || len(cal.Routes) != len(p.Routes) || len(cal.Rules) != len(p.Rules) {
		t.Fatalf("calibrated from %s: %d stages, %d routes, %d rules; want the server's %d, %d, %d",
			cal.Calibrated.From, len(cal.Stages), len(cal.Routes), len(cal.Rules), len(p.Stages), len(p.Routes), len(p.Rules))
	}
	for _, name := range cal.StageNames() { // its own time: the profile's service time and the real work (signing, the database)
		t.Logf("stage %s: calibrated %s (mean %v), the profile says %s", name, cal.Stages[name].Service, cal.Stages[name].Service.Mean(), p.Stages[name].Service)
	}
	// a live run at 0.8x the knee, and its prediction on the calibrated profile
	rate := 0.8 * liveKnee
	const warm, length = 20 * time.Second, 60 * time.Second
	sc, err := Steady(s, res.mix, rate, warm+length)
	if err != nil {
		t.Fatal(err)
	}
	run, err := live.Steady(context.Background(), sc, 2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	measured := run.Slice(warm, warm+length)
	predRun, _, err := sim.Run(context.Background(), sim.Config{Scenario: sc, Profile: cal, Seed: 2, Bucket: time.Second, Drain: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	predicted := predRun.Slice(warm, warm+length)
	checked := 0
	for _, name := range measured.EndpointNames() {
		me, pe := measured.Endpoints[name].Total, predicted.Endpoints[name]
		if me.Succeeded < 200 || pe == nil || pe.Total.Succeeded < 200 {
			continue
		}
		m, q := me.Latency.Percentile(95).Seconds(), pe.Total.Latency.Percentile(95).Seconds()
		t.Logf("%s at %.2f/s: p95 measured %.0fms, predicted %.0fms (%+.1f%%)", name, rate, m*1000, q*1000, 100*(q-m)/m)
		if math.Abs(q-m)/m > 0.15 {
			t.Errorf("%s: p95 predicted %.0fms, measured %.0fms: more than 15%% off", name, q*1000, m*1000)
		}
		checked++
	}
	if checked < 2 {
		t.Errorf("only %d requests had the samples to compare", checked)
	}
}

// serveReference serves the reference server with profile p on loopback
// until the test ends, and says its address.
func serveReference(t *testing.T, p *profile.Profile, adminToken string) string {
	t.Helper()
	srv, err := refserver.New(refserver.Config{Profile: p, Seed: 1, Logger: slog.New(slog.DiscardHandler), AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return ln.Addr().String()
}
