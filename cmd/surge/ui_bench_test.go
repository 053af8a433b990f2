package main

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// liveRun is a run as the engine holds it halfway through lunch.yaml's
// played hour: every request of the scenario over half the buckets,
// latencies over four decades.
func liveRun(tb testing.TB) (*scenarios.Scenario, *results.Run) {
	s, err := scenarios.Load("../../scenarios/lunch.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 1))
	run := results.New(results.Meta{Scenario: s.Name, Kind: "run", Seed: 1, Bucket: results.BucketFor(time.Hour), Planned: time.Hour,
		Started: time.Now().Add(-30 * time.Minute)})
	recordSynthetic(run, r, lunchRequests, 400_000, 30*time.Minute)
	return s, run
}

// BenchmarkLiveDrawing: one redraw of the live page of a run halfway
// through a played hour (the copy under the engine's lock, then the page).
func BenchmarkLiveDrawing(b *testing.B) {
	s, run := liveRun(b)
	b.ReportAllocs()
	for b.Loop() {
		page, _ := drawRun(s, snapshot(run))
		if len(live(page, s.Name, "")) == 0 {
			b.Fatal("no page")
		}
	}
}

// BenchmarkLiveDrawingParts splits a redraw: the copy, the report.
func BenchmarkLiveDrawingParts(b *testing.B) {
	s, run := liveRun(b)
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			snapshot(run)
		}
	})
	snap := snapshot(run)
	b.Run("html", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			reports.HTML(&buf, reports.New(s, snap))
		}
	})
}
