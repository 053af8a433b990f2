package sim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
)

// faultModel: 100 users/s for 30 s through one stage of 4 workers at a
// constant 10 ms (no queueing), with a fault from 00:00:10 for 10 s.
func faultModel(t *testing.T, fault string) *results.Run {
	t.Helper()
	s, err := scenarios.Parse("f.yaml", []byte(`name: f
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 3000, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour: {timeout: 1m}
faults: [`+fault+`]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("p.yaml", []byte(`name: p
stages: {s: {workers: 4, queue: 100000, service: 10ms}}
routes: {hit: [{stage: s}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Bucket: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestSimFaultWindows(t *testing.T) {
	t.Run("outage fails exactly its window", func(t *testing.T) {
		run := faultModel(t, `{name: down, at: "00:00:10", for: 10s, kind: outage, stage: s}`)
		b := run.Endpoints["hit"].Buckets
		if b[0].Failed() != 0 || b[2].Failed() != 0 || b[1].Errors["shed"] != b[1].Attempted || b[1].Attempted == 0 {
			t.Errorf("failures per bucket %d %d %d (attempts %d)", b[0].Failed(), b[1].Failed(), b[2].Failed(), b[1].Attempted)
		}
		if len(run.Events) != 2 || run.Events[0].Kind != "fault-on" || run.Events[0].At != 10*time.Second || run.Events[1].At != 20*time.Second {
			t.Errorf("events %+v", run.Events)
		}
	})
	t.Run("latency shifts latency only while on", func(t *testing.T) {
		run := faultModel(t, `{name: slow, at: "00:00:10", for: 10s, kind: latency, stage: s, latency: 5ms}`)
		b := run.Endpoints["hit"].Buckets
		if m := b[1].Latency.Mean(); m < 14*time.Millisecond || m > 16*time.Millisecond {
			t.Errorf("mean during the fault %v, want 10ms + 5ms", m)
		}
		if m := b[2].Latency.Mean(); m < 9*time.Millisecond || m > 11*time.Millisecond {
			t.Errorf("mean after the fault %v, want 10ms", m)
		}
	})
	t.Run("capacity to zero queues until it ends", func(t *testing.T) {
		run := faultModel(t, `{name: lost, at: "00:00:10", for: 10s, kind: capacity, stage: s, workers: 0}`)
		b := run.Endpoints["hit"].Buckets
		if b[1].Failed() != 0 || b[1].Succeeded != b[1].Attempted {
			t.Errorf("queued work should complete after the fault: %+v", b[1])
		}
		// the first user of the window waits the whole 10 s
		if mx := b[1].Latency.Max(); math.Abs(mx.Seconds()-10) > 0.2 {
			t.Errorf("longest wait %v, want ~10s", mx)
		}
	})
	t.Run("error probability", func(t *testing.T) {
		run := faultModel(t, `{name: flaky, at: "00:00:10", for: 10s, kind: error, stage: s, status: 500, probability: 30%}`)
		b := run.Endpoints["hit"].Buckets[1]
		share := float64(b.Errors["5xx"]) / float64(b.Attempted)
		if sd := math.Sqrt(0.3 * 0.7 / float64(b.Attempted)); math.Abs(share-0.3) > 4*sd {
			t.Errorf("%.3f of attempts failed, want 30%%", share)
		}
	})
	t.Run("slow under load only above its rate", func(t *testing.T) {
		// 100 arrivals/s: above 50/s the 10 ms service takes 30 ms (75% of 4 workers: no queue yet)
		run := faultModel(t, `{name: deploy, at: "00:00:10", for: 10s, kind: slow_under_load, stage: s, above: 50/s, factor: 3}`)
		if m := run.Endpoints["hit"].Buckets[1].Latency.Mean(); m < 29*time.Millisecond || m > 32*time.Millisecond {
			t.Errorf("mean under the slow deploy %v, want 30ms", m)
		}
		calm := faultModel(t, `{name: deploy, at: "00:00:10", for: 10s, kind: slow_under_load, stage: s, above: 500/s, factor: 3}`)
		if m := calm.Endpoints["hit"].Buckets[1].Latency.Mean(); m > 11*time.Millisecond {
			t.Errorf("below the threshold the deploy should not slow anything: %v", m)
		}
	})
	t.Run("stall holds until the end", func(t *testing.T) {
		run := faultModel(t, `{name: stuck, at: "00:00:10", for: 2s, kind: stall, stage: s}`)
		b := run.Endpoints["hit"].Buckets[1]
		if b.Failed() != 0 || math.Abs(b.Latency.Max().Seconds()-2) > 0.05 {
			t.Errorf("stall: failed %d, max %v; want none failed and the first held ~2s", b.Failed(), b.Latency.Max())
		}
	})
}

func TestSimRejectsUnknownFaultStage(t *testing.T) {
	s, _ := scenarios.Parse("f.yaml", []byte(`name: f
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 10, profile: [100%]}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
faults: [{name: x, at: "00:00:01", for: 1s, kind: outage, stage: mainframe}]
`))
	p, _ := profile.Parse("p.yaml", []byte("name: p\nstages: {s: {workers: 1, service: 1ms}}\nroutes: {hit: [{stage: s}]}\n"))
	_, _, err := Run(context.Background(), Config{Scenario: s, Profile: p})
	if err == nil || !strings.Contains(err.Error(), `f.yaml:8: faults[0].stage: profile p has no stage "mainframe"`) {
		t.Errorf("err = %v", err)
	}
}

func TestSimClientSideFaults(t *testing.T) {
	s, err := scenarios.Parse("c.yaml", []byte(`name: c
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 3000, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {kakao: 50%, naver: 50%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour: {timeout: 1m}
faults:
  - {name: naver-net, at: "00:00:10", for: 10s, kind: outage, platform: naver}
  - {name: slow-net, at: "00:00:20", for: 10s, kind: latency, platform: kakao, request: hit, latency: 200ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profile.Parse("p.yaml", []byte("name: p\nstages: {s: {workers: 4, queue: 100000, service: 10ms}}\nroutes: {hit: [{stage: s}]}\n"))
	run, stats, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 3, Bucket: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := run.Endpoints["hit"].Buckets
	if b[0].Failed() != 0 || b[2].Failed() != 0 {
		t.Errorf("failures outside the client fault's window: %d %d", b[0].Failed(), b[2].Failed())
	}
	if share := float64(b[1].Errors["refused"]) / float64(b[1].Attempted); share < 0.4 || share > 0.6 {
		t.Errorf("%.2f of attempts refused during naver's outage, want naver's ~50%% share", share)
	}
	if served := stats.Stages["s"].Served; served > int64(3000-b[1].Errors["refused"]) {
		t.Errorf("refused requests reached the service: %d served", served)
	}
	// in the third window half the requests (kakao's) take 200 ms more
	if m := b[2].Latency.Mean(); m < 95*time.Millisecond || m > 125*time.Millisecond {
		t.Errorf("mean with kakao's 200ms client latency %v, want ~110ms", m)
	}
}

func TestSimBandwidthChargesSizeOverRate(t *testing.T) {
	s, err := scenarios.Parse("b.yaml", []byte(`name: b
scale: 1
arrivals: {start: "00:00", bucket: 10s, total: 100, profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
faults: [{name: thin, at: "00:00:00", for: 10s, kind: bandwidth, platform: web, bandwidth: 10k/s, size: 2k}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profile.Parse("p.yaml", []byte("name: p\nstages: {s: {workers: 4, queue: 1000, service: 10ms}}\nroutes: {hit: [{stage: s}]}\n"))
	run, _, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m := run.Endpoints["hit"].Total.Latency.Mean(); m < 205*time.Millisecond || m > 215*time.Millisecond {
		t.Errorf("mean %v, want 10ms + 2000 B / 10000 B/s = 210ms", m)
	}
}
