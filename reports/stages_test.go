package reports

import (
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// samples makes one stage's samples a second apart from counters given
// per second (cumulative values are built by adding).
func samples(stage string, workers float64, served0, busy0 float64, servedPerS, busyPerS []float64, capacity bool) []results.StageSample {
	var out []results.StageSample
	served, busy, cp := served0, busy0, 1000.0
	for i := range len(servedPerS) + 1 {
		s := results.StageSample{At: time.Duration(i) * time.Second, Stage: stage, Workers: workers, Served: served, Busy: busy}
		if capacity {
			s.Capacity = cp
		}
		out = append(out, s)
		if i < len(servedPerS) {
			served, busy, cp = served+servedPerS[i], busy+busyPerS[i], cp+workers
		}
	}
	return out
}

// TestStageCountersAreThisRuns: a target's counters are its lifetime
// totals; the figures are this run's (the last sample less the first).
func TestStageCountersAreThisRuns(t *testing.T) {
	r := results.New(results.Meta{})
	r.Stages = append(r.Stages, samples("relay.toss", 4, 5000, 800, []float64{0, 0, 0}, []float64{0, 0, 0}, true)...) // a third platform, idle now
	r.Stages = append(r.Stages, samples("relay.kakao", 4, 120, 30, []float64{10, 10, 10}, []float64{1, 1, 1}, true)...)
	by := map[string]*StageFigures{}
	for _, f := range stageFigures(r) {
		by[f.Stage] = f
	}
	if by["relay.toss"].Served != 0 || by["relay.kakao"].Served != 30 {
		t.Errorf("served: toss %v (want 0: its count is from an earlier run), kakao %v (want 30)", by["relay.toss"].Served, by["relay.kakao"].Served)
	}
}

// TestUtilisationCannotExceedOne: busy time credited late (a long visit
// counted when it ends, as a target without a capacity counter may) is
// capped at the stretch's capacity, and a target's capacity counter is
// what utilisation is measured against.
func TestUtilisationCannotExceedOne(t *testing.T) {
	r := results.New(results.Meta{})
	// 2 workers; a burst of long visits all credited in the third second
	r.Stages = samples("ssis", 2, 0, 0, []float64{0, 0, 9, 0}, []float64{0, 0, 7.3, 0}, false)
	f := stageFigures(r)[0]
	if f.PeakUtil > 1 || f.MeanUtil > 1 {
		t.Errorf("peak %.2f, mean %.2f: a utilisation over 100%%", f.PeakUtil, f.MeanUtil)
	}
	r.Stages = samples("kdca", 8, 0, 0, []float64{5, 5}, []float64{4, 8}, true)
	f = stageFigures(r)[0]
	if f.PeakUtil != 1 || f.MeanUtil != 0.75 {
		t.Errorf("against the capacity counter: peak %v, mean %v; want 1 and 0.75", f.PeakUtil, f.MeanUtil)
	}
}

// TestBottleneckIsTheFirstToSaturate: the stage that saturates first is
// the bottleneck, whatever shed most; on a tie, the callee.
func TestBottleneckIsTheFirstToSaturate(t *testing.T) {
	ramp := func(stage string, workers float64, from int, shedding bool) []results.StageSample {
		var out []results.StageSample
		var busy, shed, cp float64
		for i := range 60 {
			out = append(out, results.StageSample{At: time.Duration(i) * time.Second, Stage: stage, Workers: workers, Busy: busy, Shed: shed, Capacity: cp})
			cp += workers
			if i >= from {
				busy += workers
				if shedding {
					shed += 50
				}
			} else {
				busy += workers * 0.3
			}
		}
		return out
	}
	r := results.New(results.Meta{})
	r.Stages = append(append(append(r.Stages, ramp("anchor", 1, 10, false)...), ramp("kdca", 8, 20, true)...), ramp("ssis", 16, 25, true)...)
	b := bottleneck(stageFigures(r), nil)
	if b == nil || b.Stage != "anchor" || len(b.Downstream) != 2 {
		t.Errorf("bottleneck %+v, want anchor with kdca and ssis downstream (they shed most, but saturated later)", b)
	}
	r.Stages = append(ramp("anchor", 1, 10, false), ramp("kdca", 8, 10, true)...)
	if b := bottleneck(stageFigures(r), map[string][]string{"kdca": {"anchor", "registry"}}); b == nil || b.Stage != "anchor" {
		t.Errorf("a tie: %+v, want anchor, which kdca calls", b)
	}
	r.Stages = ramp("kdca", 8, 100, false)
	if b := bottleneck(stageFigures(r), nil); b == nil || b.Saturated || b.Stage != "kdca" {
		t.Errorf("nothing saturated: %+v, want the busiest, not saturated", b)
	}
}
