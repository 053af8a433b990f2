package reports

import (
	"fmt"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// Outage is a stretch of the run in which requests were tried and not one
// succeeded: the service was down for its users, whatever the percentiles
// of the few earlier successes say.
type Outage struct {
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"` // the first success after it, or the run's end
	// ToEnd: no request succeeded again before the run ended.
	ToEnd     bool  `json:"to_end"`
	Attempted int64 `json:"attempted"` // requests tried during it, every one failed
	// First: nothing had succeeded before it either.
	First bool `json:"first,omitempty"`
}

// outageFloor is the shortest stretch without successes that is called an
// outage: a few quiet buckets at a low rate are chance, not a service down.
const outageFloor = 10 * time.Second

// outages finds the stretches of at least outageFloor (and 3 buckets) in
// which requests were tried and none succeeded. Buckets where nothing was
// tried (the drain after the last arrival) neither start nor end one.
func outages(r *results.Run) []Outage {
	w := r.Meta.Bucket
	n := 0
	for _, e := range r.Endpoints {
		n = max(n, len(e.Buckets))
	}
	if w <= 0 || n == 0 {
		return nil
	}
	tried, ok := make([]int64, n), make([]int64, n)
	for _, e := range r.Endpoints {
		for b, s := range e.Buckets {
			if s != nil {
				tried[b] += s.Attempted
				ok[b] += s.Succeeded
			}
		}
	}
	var out []Outage
	cur, seen := Outage{From: -1}, false
	end := func(to time.Duration, toEnd bool) {
		if cur.From >= 0 && to-cur.From >= max(outageFloor, 3*w) {
			cur.To, cur.ToEnd = to, toEnd
			out = append(out, cur)
		}
		cur = Outage{From: -1}
	}
	for b := 0; b < n; b++ {
		switch {
		case ok[b] > 0:
			end(time.Duration(b)*w, false)
			seen = true
		case tried[b] > 0 && cur.From < 0:
			cur = Outage{From: time.Duration(b) * w, Attempted: tried[b], First: !seen}
		case tried[b] > 0:
			cur.Attempted += tried[b]
		}
	}
	end(max(time.Duration(n)*w, r.Meta.Elapsed), true)
	return out
}

// String says the outage as the banner does: "no successes from 1m45s to
// the end; never recovered (8,120 requests tried)".
func (o Outage) String() string {
	if o.ToEnd && o.First {
		return fmt.Sprintf("not one request succeeded (%s tried)", fmtCount(float64(o.Attempted)))
	}
	if o.ToEnd {
		return fmt.Sprintf("no successes from %s to the end; never recovered (%s requests tried)", fmtDuration(o.From.Seconds()), fmtCount(float64(o.Attempted)))
	}
	return fmt.Sprintf("no successes from %s to %s (%s; %s requests tried)", fmtDuration(o.From.Seconds()), fmtDuration(o.To.Seconds()),
		fmtDuration((o.To - o.From).Seconds()), fmtCount(float64(o.Attempted)))
}
