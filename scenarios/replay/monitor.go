package replay

import (
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// monitor ticks once a second: progress, the safety clause, and stage
// metrics samples. It sends on abort when the safety clause has held for
// its duration.
func (e *engine) monitor(plan *arrival.Plan, stop <-chan struct{}, abort chan<- results.Abort) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sf := e.cfg.Scenario.Safety
	var history []secondStats
	var holding time.Duration
	for {
		select {
		case <-stop:
			e.report(plan, true)
			return
		case <-tick.C:
		}
		w := e.report(plan, false)
		if e.cfg.SampleMetrics {
			e.sample()
		}
		if sf == nil {
			continue
		}
		history = append(history, w)
		window := max(int(sf.For/time.Second), 1)
		if len(history) > window {
			history = history[len(history)-window:]
		}
		if measured, n := safetyValue(sf.AbortIf, history); n >= int64(sf.MinRequests) && n > 0 && sf.AbortIf.Holds(measured) {
			holding += time.Second
		} else {
			holding = 0
		}
		if holding >= max(sf.For, time.Second) {
			measured, n := safetyValue(sf.AbortIf, history)
			select {
			case abort <- results.Abort{Clause: sf.AbortIf.Text + " for " + sf.For.String(), Measured: measured, Samples: n, At: time.Since(e.start)}:
			default:
			}
		}
	}
}

// report swaps out the current second and passes it to Progress.
func (e *engine) report(plan *arrival.Plan, done bool) secondStats {
	e.mu.Lock()
	w := e.window
	e.window = newSecond()
	e.mu.Unlock()
	if e.cfg.Progress != nil {
		el := time.Since(e.start)
		var planned float64
		for k := range plan.Streams() {
			planned += plan.Rate(k, el)
		}
		p := Progress{Elapsed: el, Planned: plan.Played(), Arrivals: planned / float64(e.cfg.Shards), Answers: float64(w.answered),
			P99: w.lat.Percentile(99), Active: e.active.Load(), MaxLate: w.maxLate, Draining: e.draining.Load(), Done: done}
		if w.answered > 0 {
			p.Errors = float64(w.failed) / float64(w.answered)
		}
		e.cfg.Progress(p)
	}
	return w
}

// safetyValue measures a safety clause over the last seconds; it returns
// the value and the number of answers it is based on.
func safetyValue(c scenarios.Clause, hist []secondStats) (float64, int64) {
	kind := c.ErrorKind()
	var n, bad int64
	for _, w := range hist {
		n += w.answered
		if kind == "" {
			bad += w.failed
		} else {
			bad += w.kinds[kind]
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(bad) / float64(n), n
}
