package reports

import (
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// timeline builds a run with 1 s buckets where bucket b's requests take
// lat(b), a fault on from 5 s to 8 s, and the stage queue given by queue(b).
func timeline(n int, lat func(b int) time.Duration, queue func(b int) float64) *results.Run {
	r := results.New(results.Meta{Bucket: time.Second, Elapsed: time.Duration(n) * time.Second})
	for b := range n {
		for i := range 20 {
			r.Record("qr", results.Outcome{At: time.Duration(b)*time.Second + time.Duration(i)*50*time.Millisecond, Corrected: lat(b), First: true})
		}
		r.Stages = append(r.Stages, results.StageSample{At: time.Duration(b) * time.Second, Stage: "kdca", Queue: queue(b)})
	}
	r.Event(5*time.Second, "fault-on", "slow: latency on kdca for 3s")
	r.Event(8*time.Second, "fault-off", "slow")
	return r
}

func recoveryScenario(t *testing.T) *scenarios.Scenario {
	s, err := scenarios.Parse("r.yaml", []byte(`name: r
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 1, profile: [100%]}
platforms: {kakao: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
journeys: {j: [{request: qr}]}
gate: {recovery_hold: 3s}
slo: [qr p99 <= 1s, recovery <= 5s]
`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRecoveryOnASyntheticTimeline(t *testing.T) {
	s := recoveryScenario(t)
	bad := func(lo, hi int, also ...int) func(int) time.Duration {
		return func(b int) time.Duration {
			for _, x := range also {
				if b == x {
					return 3 * time.Second
				}
			}
			if b >= lo && b < hi {
				return 3 * time.Second
			}
			return 10 * time.Millisecond
		}
	}
	queue := func(b int) float64 {
		if b >= 5 && b < 14 {
			return 40
		}
		return 2
	}
	cases := []struct {
		name      string
		lat       func(int) time.Duration
		n         int
		recovered bool
		after     time.Duration
		pass      bool
	}{
		{"healthy from 12 s: 4 s after the end", bad(5, 12), 20, true, 4 * time.Second, true},
		{"a relapse inside the hold restarts it", bad(5, 12, 13), 20, true, 6 * time.Second, false},
		{"never healthy again", bad(5, 100), 20, false, 0, false},
		{"never broken", bad(0, 0), 20, true, 0, true},
	}
	for _, c := range cases {
		r := timeline(c.n, c.lat, queue)
		recs := Recoveries(s, r)
		if len(recs) != 1 || recs[0].Recovered != c.recovered || recs[0].After != c.after {
			t.Errorf("%s: %+v, want recovered %v after %v", c.name, recs, c.recovered, c.after)
			continue
		}
		if !recs[0].HasDrained || recs[0].Drained != 6*time.Second {
			t.Errorf("%s: queues drained after %v, want 6s (back to 2 at 14 s)", c.name, recs[0].Drained)
		}
		v := Evaluate(s, r)
		if got := v.Clauses[1]; got.Pass != c.pass {
			t.Errorf("%s: recovery clause %+v, want pass %v", c.name, got, c.pass)
		}
	}
}

// TestRecoveryOfACollapseThatAnswersNothing: a latency clause of
// successful answers breaks on a stretch whose answers all failed (here
// timeouts from the fault's start to the end): not recovered, and the
// clause's first breach is there, at what the failed answers took.
func TestRecoveryOfACollapseThatAnswersNothing(t *testing.T) {
	s := recoveryScenario(t)
	r := results.New(results.Meta{Bucket: time.Second, Elapsed: 20 * time.Second})
	for b := range 20 {
		for i := range 20 {
			o := results.Outcome{At: time.Duration(b)*time.Second + time.Duration(i)*50*time.Millisecond, Corrected: 10 * time.Millisecond, First: true}
			if b >= 5 {
				o.Corrected, o.Err = 2*time.Second, "timeout"
			}
			r.Record("qr", o)
		}
	}
	r.Event(5*time.Second, "fault-on", "slow: latency on kdca for 3s")
	r.Event(8*time.Second, "fault-off", "slow")
	recs := Recoveries(s, r)
	if len(recs) != 1 || recs[0].Recovered || !recs[0].Judged {
		t.Errorf("recoveries %+v, want one judged, not recovered", recs)
	}
	fb := firstBreaches(s, r)
	if len(fb) != 1 || fb[0].At != 5*time.Second || fb[0].Measured < 1.9 || fb[0].Measured > 2.1 {
		t.Errorf("first breaches %+v, want qr p99 at 5s, measured about 2s (the timeouts)", fb)
	}
}
