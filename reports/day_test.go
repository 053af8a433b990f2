package reports

import (
	"math"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// TestReturnCurvesAddUp: the coming-back chart's two series are the
// departures and the returns per second, by when they happened: over the
// chart they add up to the run's counts, on a long run downsampled too.
func TestReturnCurvesAddUp(t *testing.T) {
	for _, buckets := range []int{60, 5000} {
		r := results.New(results.Meta{Scenario: "d", Kind: "sim", Bucket: time.Second, Planned: time.Duration(buckets) * time.Second, Elapsed: time.Duration(buckets) * time.Second})
		for b := range buckets {
			at := time.Duration(b) * time.Second
			r.Count(at, results.Users{Arrived: 1, Completed: 1})
			if b < buckets/3 && b%2 == 0 {
				r.Count(at, results.Users{Left: 3})
			}
			if b > 2*buckets/3 {
				r.Count(at, results.Users{Returned: 1})
			}
		}
		left, back, ok := returnCurves(r)
		if !ok {
			t.Fatal("no curves for a run with departures")
		}
		w := windowsOf(r)
		var l, k float64
		for i := range left {
			l += left[i].y * w.width().Seconds()
			k += back[i].y * w.width().Seconds()
			if x := left[i].x; back[i].x != x || (left[i].y > 0 && x >= float64(buckets/3)+w.width().Seconds()) || (back[i].y > 0 && x+w.width().Seconds() <= float64(2*buckets/3)) {
				t.Errorf("%d buckets: window at %vs: left %v/s, back %v/s, outside where they happened", buckets, x, left[i].y, back[i].y)
			}
		}
		if math.Abs(l-float64(r.Users.Left)) > 1e-6 || math.Abs(k-float64(r.Users.Returned)) > 1e-6 || r.Users.Left == 0 {
			t.Errorf("%d buckets: the curves hold %v departures and %v returns, the run %d and %d", buckets, l, k, r.Users.Left, r.Users.Returned)
		}
	}
	if _, _, ok := returnCurves(results.New(results.Meta{Scenario: "d"})); ok {
		t.Error("curves for a run where nobody left to come back")
	}
}
