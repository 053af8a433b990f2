package results

import (
	"testing"
	"time"
)

// TestBetweenIsTheStretch: a stretch of a run holds the answers and users
// of the buckets whose middle lies in it, summed into its totals, and its
// events; what lies outside is not counted.
func TestBetweenIsTheStretch(t *testing.T) {
	r := New(Meta{Scenario: "b", Bucket: 10 * time.Second})
	for s := range 60 {
		at := time.Duration(s) * time.Second
		o := Outcome{At: at, Corrected: time.Duration(s+1) * time.Millisecond, First: true}
		if s >= 30 {
			o.Err = "5xx"
		}
		r.Record("qr", o)
		r.Count(at, Users{Arrived: 1, Completed: 1})
	}
	r.Count(45*time.Second, Users{Returned: 2})
	r.Event(35*time.Second, "fault-on", "x")
	r.Event(5*time.Second, "fault-off", "y")
	part := r.Between(30*time.Second, 50*time.Second)
	q := part.Endpoints["qr"].Total
	if q.Attempted != 20 || q.Failed() != 20 || q.Latency.Count() != 0 {
		t.Errorf("20-50 s: %d attempted, %d failed, %d latencies; want the 20 failed answers of 30-49 s", q.Attempted, q.Failed(), q.Latency.Count())
	}
	if u := part.Users; u.Arrived != 20 || u.Returned != 2 || u.Completed != 20 {
		t.Errorf("users %+v, want 20 arrived and the 2 returns", u)
	}
	if len(part.Events) != 1 || part.Events[0].Kind != "fault-on" {
		t.Errorf("events %+v", part.Events)
	}
	early := r.Between(0, 30*time.Second).Endpoints["qr"].Total
	if early.Succeeded != 30 || early.Latency.Percentile(100) > 31*time.Millisecond {
		t.Errorf("0-30 s: %d succeeded, max %v", early.Succeeded, early.Latency.Percentile(100))
	}
	if r.Users.Arrived != 60 || r.Endpoints["qr"].Total.Attempted != 60 {
		t.Error("Between changed the run")
	}
}
