package reports

import (
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// Recovery is how a system came back after one fault ended.
type Recovery struct {
	Fault     string        `json:"fault"`
	Ended     time.Duration `json:"ended_ns"` // when the fault ended, on the run's timeline
	Recovered bool          `json:"recovered"`
	// After is from the fault's end until every per-bucket SLO clause held
	// again and kept holding for the hold (0 when they never broke).
	After time.Duration `json:"after_ns"`
	// Drained is from the fault's end until the server's stage queues were
	// back to their level before the fault (when stage samples exist).
	Drained    time.Duration `json:"drained_ns"`
	HasDrained bool          `json:"has_drained"`
}

// DefaultRecoveryHold is the hold when the scenario sets none.
const DefaultRecoveryHold = 30 * time.Second

// Recoveries measures recovery after every fault of the run (its
// fault-on / fault-off events). A bucket is healthy when every SLO clause
// that applies per bucket (latency and error shares) holds on it; buckets
// with no requests change nothing.
func Recoveries(s *scenarios.Scenario, r *results.Run) []Recovery {
	hold := s.Gate.RecoveryHold
	if hold <= 0 {
		hold = DefaultRecoveryHold
	}
	var out []Recovery
	for _, ev := range r.Events {
		if ev.Kind != "fault-off" {
			continue
		}
		name, _, _ := strings.Cut(ev.Detail, " ")
		rec := Recovery{Fault: name, Ended: ev.At}
		rec.After, rec.Recovered = recoveredAfter(s, r, ev.At, hold)
		rec.Drained, rec.HasDrained = drained(r, ev.At, faultStart(r, name))
		out = append(out, rec)
	}
	return out
}

func faultStart(r *results.Run, name string) time.Duration {
	for _, ev := range r.Events {
		if ev.Kind == "fault-on" && strings.HasPrefix(ev.Detail, name+":") {
			return ev.At
		}
	}
	return 0
}

// recoveredAfter finds the first healthy stretch of hold after end.
func recoveredAfter(s *scenarios.Scenario, r *results.Run, end, hold time.Duration) (time.Duration, bool) {
	w := r.Meta.Bucket
	n := 0
	for _, e := range r.Endpoints {
		n = max(n, len(e.Buckets))
	}
	first := int(end / w)
	need := max(1, int((hold+w-1)/w))
	run, since := 0, first
	for b := first; b < n; b++ {
		healthy, empty := bucketHealthy(s, r, b)
		switch {
		case empty:
			continue
		case healthy:
			if run == 0 {
				since = b
			}
			run++
			if run >= need {
				return max(0, time.Duration(since)*w-end), true
			}
		default:
			run = 0
		}
	}
	return 0, false
}

// bucketHealthy evaluates the per-bucket clauses on bucket b.
func bucketHealthy(s *scenarios.Scenario, r *results.Run, b int) (healthy, empty bool) {
	all := results.NewSeries(results.BucketDigits)
	for _, e := range r.Endpoints {
		if b < len(e.Buckets) && e.Buckets[b] != nil {
			all.Merge(e.Buckets[b])
		}
	}
	if all.Attempted == 0 {
		return true, true
	}
	for _, c := range s.SLO {
		ser := all
		if c.Endpoint != "" {
			e := r.Endpoints[c.Endpoint]
			if e == nil || b >= len(e.Buckets) || e.Buckets[b] == nil {
				continue
			}
			ser = e.Buckets[b]
		}
		var v float64
		switch {
		case c.Percentile() > 0:
			v = ser.Latency.Quantile(c.Percentile()).Seconds()
		case c.Percentile() < 0:
			v = ser.Latency.Mean().Seconds()
		case c.Metric == "errors":
			v = ser.ErrorRate()
		case c.Metric == "timeouts":
			v = ser.KindRate("timeout")
		case c.Metric == "shed" || c.Metric == "expired_qr":
			v = ser.KindRate(c.Metric)
		default:
			continue // user-level and whole-run clauses do not apply per bucket
		}
		if !c.Holds(v) {
			return false, false
		}
	}
	return true, false
}

// drained finds when the summed stage queues fell back to their level in
// the last sample before the fault started.
func drained(r *results.Run, end, start time.Duration) (time.Duration, bool) {
	if len(r.Stages) == 0 {
		return 0, false
	}
	queues := map[time.Duration]float64{}
	var times []time.Duration
	for _, s := range r.Stages {
		if _, ok := queues[s.At]; !ok {
			times = append(times, s.At)
		}
		queues[s.At] += s.Queue
	}
	base := 0.0
	for _, t := range times {
		if t < start {
			base = queues[t]
		}
	}
	for _, t := range times {
		if t >= end && queues[t] <= base {
			return t - end, true
		}
	}
	return 0, false
}
