package reports

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// Recovery is how a system came back after one fault ended.
type Recovery struct {
	Fault string        `json:"fault"`
	Ended time.Duration `json:"ended_ns"` // when the fault ended, on the run's timeline
	// Judged is false when the run did not go on long enough after the end
	// to say it did not recover: it recovered by then, or it went on for
	// twice the hold (time to come back, then to hold). Not judged is no
	// verdict either way, not "not recovered".
	Judged bool `json:"judged"`
	// Left is how long the run went on after the end.
	Left      time.Duration `json:"left_ns"`
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
// fault-on / fault-off events) and after the end of each surge. A bucket is healthy when every SLO clause
// that applies per bucket (latency and error shares) holds on it; buckets
// with no requests change nothing.
func Recoveries(s *scenarios.Scenario, r *results.Run) []Recovery {
	hold := hold(s)
	var out []Recovery
	for _, ev := range r.Events {
		if ev.Kind != "fault-off" && ev.Kind != "surge-end" {
			continue
		}
		if ev.At > r.Meta.Elapsed && r.Meta.Elapsed > 0 {
			continue // the run ended before it
		}
		name, _, _ := strings.Cut(ev.Detail, " ")
		name = strings.TrimSuffix(name, ":")
		rec := Recovery{Fault: name, Ended: ev.At}
		rec.After, rec.Recovered, _ = recoveredAfter(s, r, ev.At, hold)
		rec.Left = max(0, r.Meta.Elapsed-ev.At)
		rec.Judged = rec.Recovered || rec.Left >= 2*hold
		rec.Drained, rec.HasDrained = drained(r, ev.At, faultStart(r, name))
		out = append(out, rec)
	}
	return out
}

// RecoveredBeforeEnd says the service recovered from the run's surge (every
// per-bucket clause held again, for the hold) before the played timeline
// ended, the drain not counted: a service that comes back only once
// arrivals stop did not recover from the surge. judged is false when the
// run has no surge end with at least twice the hold of the timeline left.
func RecoveredBeforeEnd(s *scenarios.Scenario, r *results.Run) (recovered, judged bool) {
	hold := hold(s)
	for _, rec := range Recoveries(s, r) {
		if rec.Fault == "surge" && r.Meta.Planned-rec.Ended >= 2*hold {
			return rec.Recovered && rec.Ended+rec.After+hold <= r.Meta.Planned, true
		}
	}
	return false, false
}

// ReliefText says a prediction's relief (results.Relief) in words.
func ReliefText(rel *results.Relief) string {
	if rel.None {
		return fmt.Sprintf("predicted: the service does not recover from the surge before the timeline ends even if arrivals after it fall to 1/64 of the planned %s/s: the users already there and their retries keep it down", fmtRate(rel.Planned))
	}
	return fmt.Sprintf("predicted: the service recovers from the surge before the timeline ends only if arrivals after it fall to %s/s, %.0f%% of the planned %s/s", fmtRate(rel.Rate), 100*rel.Keep, fmtRate(rel.Planned))
}

func fmtRate(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }

func faultStart(r *results.Run, name string) time.Duration {
	if name == "surge" {
		return 0
	}
	for _, ev := range r.Events {
		if ev.Kind == "fault-on" && strings.HasPrefix(ev.Detail, name+":") {
			return ev.At
		}
	}
	return 0
}

// recoveredAfter finds the first stretch of hold after end over which the
// SLO clauses hold, judged on the stretch's merged requests (one error in a
// small bucket is not a relapse; the same share over the hold is).
func recoveredAfter(s *scenarios.Scenario, r *results.Run, end, hold time.Duration) (after time.Duration, recovered, judged bool) {
	w := r.Meta.Bucket
	n := 0
	for _, e := range r.Endpoints {
		n = max(n, len(e.Buckets))
	}
	need := max(1, int((hold+w-1)/w))
	for b := int(end / w); b+need <= n; b++ {
		judged = true
		healthy, empty := windowHealthy(s, r, b, b+need)
		if !empty && healthy {
			return max(0, time.Duration(b)*w-end), true, true
		}
	}
	return 0, false, judged
}

// windowHealthy evaluates the per-bucket clauses on buckets [from, to) merged.
func windowHealthy(s *scenarios.Scenario, r *results.Run, from, to int) (healthy, empty bool) {
	merged := map[string]*results.Series{}
	all := results.NewSeries(results.BucketDigits)
	for name, e := range r.Endpoints {
		m := results.NewSeries(results.BucketDigits)
		for b := from; b < to && b < len(e.Buckets); b++ {
			if e.Buckets[b] != nil {
				m.Merge(e.Buckets[b])
			}
		}
		merged[name] = m
		all.Merge(m)
	}
	if all.Attempted == 0 {
		return true, true
	}
	for _, c := range s.SLO {
		if _, broke := stretchBreaks(c, all, merged); broke {
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
