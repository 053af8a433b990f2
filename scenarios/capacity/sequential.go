package capacity

import (
	"math"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// The sequential test (Config.Sequential). A step's length is set before
// it runs, for the samples its clauses need at the knee; most steps'
// verdicts are plain long before it ends: at half the knee a p95 clause
// finds few answers slower than its bound, past the knee most. So a step
// of the bracket ends as soon as its verdict is decided: every clause
// read as trials (reports.Trials: the answers slower than a percentile's
// bound, the failed ones of an error share) holds with its bad share's
// upper bound below what the clause allows, or one clause fails with its
// lower bound above it. Answers near the knee wait alike (a queue lasts
// longer than one answer), so the bound is not the binomial's alone: the
// share is read in batches (the measured stretch cut in seqBatches) and
// the larger of the binomial's variance and the batch means' is taken,
// the design effect of the correlation. A clause not read as trials (a
// mean, a share of users) never lets a step pass early, only end by its
// length or fail by another clause.

const (
	// seqZ is the normal quantile of each look's bound. A step looks once
	// a second, up to 180 times in a 3-minute step; Pocock's constant
	// boundary for an overall 5% over 100-200 looks is about 3.0, and the
	// batch variance, read from ten batches, is itself uncertain: 3.3.
	seqZ = 3.3
	// seqBatches is how many batches a stretch is cut in (the
	// fixed-number-of-batches rule: their width grows with the stretch,
	// so that they stay longer than the queue's memory); seqMinBatches
	// the fewest (one bucket each) a decision is read from.
	seqBatches    = 10
	seqMinBatches = 5
	// seqMargin keeps a close verdict to the step's whole length, whatever
	// the bound says: a step ends early only when its clauses would hold
	// were their latency bounds a quarter tighter (their shares' halved),
	// or one would fail were it a quarter looser (doubled). Near the knee
	// a queue remembers for seconds, and its first seconds can be a quiet
	// stretch that no variance read from them foresees: measured, an
	// M/M/4 step 6% past the knee passed at 14 s (p99 129 ms against 150)
	// where its whole 40 s failed (153 ms).
	seqMargin = 1.2
)

// seqShortest is the shortest a step of the bracket measures when its
// verdict is decided: a quarter of MinStep, and 5 s at least (five
// batches of a second).
func (q *search) seqShortest() time.Duration {
	return max(5*time.Second, q.cfg.MinStep/4)
}

// decided says whether the steady part [warm, warm+length) of run has
// decided the step's verdict (pass: every clause holds; else one fails).
// A failure must also be plain on the stretch's later half alone: a step
// can open on a backlog the step before it left (a service still
// finishing the work of clients gone at an overloaded step, which a
// settle probe at a low rate may get through untouched), and a rate the
// service holds drains it within the step, which would pass whole. It
// costs a failure five seconds: ten batches of a second, not five.
func decided(clauses []scenarios.Clause, run *results.Run, warm, length time.Duration) (pass, ok bool) {
	batches := cut(run, warm, length)
	if batches == nil {
		return false, false
	}
	all := true
	for _, c := range clauses {
		switch holds, known := clauseDecided(c, batches); {
		case !known:
			all = false
		case !holds:
			if later := cut(run, warm+length/2, length-length/2); later != nil {
				if holds, known := clauseDecided(c, later); known && !holds {
					return false, true
				}
			}
			all = false
		}
	}
	return all, all
}

// cut cuts run's stretch [from, from+length) in seqBatches batches (nil
// when it is shorter than seqMinBatches buckets).
func cut(run *results.Run, from, length time.Duration) []*results.Run {
	bucket := run.Meta.Bucket
	if bucket <= 0 || length < seqMinBatches*bucket {
		return nil
	}
	n := min(seqBatches, int(length/bucket))
	width := length / time.Duration(n) / bucket * bucket
	batches := make([]*results.Run, n)
	for i := range batches {
		start := from + time.Duration(i)*width
		end := start + width
		if i == n-1 {
			end = from + length
		}
		batches[i] = run.Slice(start, end)
	}
	return batches
}

// clauseDecided reads one clause over the batches: decided (known) when
// it would fail even were it seqMargin looser (its bad share's lower bound
// above what it allows), or, with at least the samples it needs to mean
// anything (needed), hold were it seqMargin tighter (the upper bound
// below).
func clauseDecided(c scenarios.Clause, batches []*results.Run) (holds, known bool) {
	tight, loose := c, c
	tight.Duration = time.Duration(float64(c.Duration) / seqMargin)
	loose.Duration = time.Duration(float64(c.Duration) * seqMargin)
	lo, _, total, ok := pooled(loose, batches, seqMargin)
	_, hi, _, ok2 := pooled(tight, batches, 1/seqMargin)
	switch {
	case !ok || !ok2:
	case lo > 0:
		return false, true
	case hi < 0 && total >= needed(c):
		return true, true
	}
	return false, false
}

// pooled reads clause c as trials over the batches and returns the bounds
// of its bad share less what it allows (a share clause's allowance times
// scale), and the trials.
func pooled(c scenarios.Clause, batches []*results.Run, scale float64) (lo, hi, total float64, ok bool) {
	var bad, n []float64
	var allowed float64
	for _, b := range batches {
		k, m, a, ok := reports.Trials(c, b)
		if !ok {
			return 0, 0, 0, false
		}
		bad, n, allowed = append(bad, float64(k)), append(n, float64(m)), a
	}
	if c.IsShare() {
		allowed *= scale
	}
	lo, hi, total = shareBounds(bad, n)
	return lo - allowed, hi - allowed, total, true
}

// shareBounds is the pooled bad share's bounds at seqZ, Wilson's interval
// on the trials the design effect leaves (the batch means' variance over
// the binomial's, at least 1), and the trials.
func shareBounds(bad, n []float64) (lo, hi, total float64) {
	var k float64
	for i := range n {
		k, total = k+bad[i], total+n[i]
	}
	if total == 0 {
		return 0, 1, 0
	}
	p := k / total
	var ss float64
	for i := range n {
		d := bad[i] - p*n[i]
		ss += d * d
	}
	b := float64(len(n))
	batchVar := b / (b - 1) * ss / (total * total)
	deff := 1.0
	if binom := p * (1 - p) / total; binom > 0 {
		deff = math.Max(1, batchVar/binom)
	} else if batchVar > 0 {
		deff = math.Inf(1)
	}
	eff := total / deff
	z2 := seqZ * seqZ
	centre := (p + z2/(2*eff)) / (1 + z2/eff)
	half := seqZ / (1 + z2/eff) * math.Sqrt(p*(1-p)/eff+z2/(4*eff*eff))
	return math.Max(0, centre-half), math.Min(1, centre+half), total
}

// earliest is the shortest length, from seqShortest on by whole seconds,
// at which run's steady part decided the step, or planned if none did
// (a runner that cannot end a step early: the search reads it after).
func (q *search) earliest(run *results.Run, planned time.Duration) time.Duration {
	for l := q.seqShortest(); l < planned; l += time.Second {
		if _, ok := decided(q.clauses, run, q.warm, l); ok {
			return l
		}
	}
	return planned
}

// liveLags are how far behind a live step's clock its run is read: for
// any verdict (all), and for a failure of the latency clauses alone
// (latency; 0: none is read as trials).
type liveLags struct {
	all, latency time.Duration
	clauses      []scenarios.Clause // the latency clauses
}

// lags: an answer lands in the bucket of its send, so a stretch is whole
// only once every answer sent in it is in: a client timeout and a bucket
// behind the clock (all) at the latest, sooner where the runner says its
// answers are in (decidedLive's answered). A latency clause's failure can
// be read sooner still, while answers are out.
// An answer sent longer ago than its bound (were it seqMargin looser)
// and still out counts against the clause when it lands, so the stretch
// read without it understates the failure: a bound's length and a bucket
// behind the clock suffices to fail on it. Not so for an error share (an
// answer still out may yet succeed) nor for a pass (a slow answer still
// out would count against it).
func (q *search) lags() liveLags {
	g := liveLags{all: lag(q.s)}
	longest := time.Duration(0)
	for _, c := range q.clauses {
		if c.Percentile() > 0 && (c.Op == "<=" || c.Op == "<") {
			g.clauses = append(g.clauses, c)
			longest = max(longest, c.Duration)
		}
	}
	if len(g.clauses) > 0 {
		g.latency = time.Duration(float64(longest)*seqMargin) + time.Second
	}
	return g
}

// decidedLive is the length of the steady stretch that decided a live
// step's verdict, or 0 when none has yet (or only its planned length has,
// which it plays whole). It reads the run so far at elapsed on the step's
// clock, to the later of answered (the runner's word that every answer
// sent before it is in; 0 when it does not know) and the lag's horizon: a
// pass is read as soon as the answers of its stretch are in, not a client
// timeout later.
func (q *search) decidedLive(run *results.Run, elapsed, answered, length time.Duration, g liveLags) time.Duration {
	stretch := func(behind time.Duration) time.Duration {
		l := (max(elapsed-behind, answered) - q.warm).Truncate(time.Second)
		if l < q.seqShortest() || l >= length {
			return 0
		}
		return l
	}
	if l := stretch(g.latency); len(g.clauses) > 0 && g.latency < g.all && l > 0 {
		if pass, ok := decided(g.clauses, run, q.warm, l); ok && !pass {
			return l
		}
	}
	if l := stretch(g.all); l > 0 {
		if _, ok := decided(q.clauses, run, q.warm, l); ok {
			return l
		}
	}
	return 0
}

// lag is how long after an answer's intended send its bucket may still
// change: the longest a client waits for any request, and a bucket.
func lag(s *scenarios.Scenario) time.Duration {
	longest := time.Duration(0)
	for _, steps := range s.Journeys {
		for _, st := range steps {
			if st.Request != "" {
				longest = max(longest, s.TimeoutFor(st))
			}
		}
	}
	return longest + time.Second
}
