package reports

import (
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// MaxPoints is the most points a chart series gets: longer runs merge
// adjacent buckets (histograms merge exactly, so a merged window's
// percentiles are its true percentiles, not averages of averages).
const MaxPoints = 300

// windows is a run's buckets grouped for charting: window i covers
// buckets [i*per, (i+1)*per).
type windows struct {
	r     *results.Run
	per   int
	count int
}

func windowsOf(r *results.Run) windows {
	n := len(r.UserBuckets)
	for _, e := range r.Endpoints {
		n = max(n, len(e.Buckets))
	}
	per := max(1, (n+MaxPoints-1)/MaxPoints)
	return windows{r: r, per: per, count: (n + per - 1) / per}
}

// width is one window's length.
func (w windows) width() time.Duration { return time.Duration(w.per) * w.r.Meta.Bucket }

// start is window i's start, in seconds of the played timeline.
func (w windows) start(i int) float64 { return (time.Duration(i) * w.width()).Seconds() }

// series merges one endpoint's buckets of window i (nil: no requests).
func (w windows) series(e *results.Endpoint, i int) *results.Series {
	var m *results.Series
	for b := i * w.per; b < (i+1)*w.per && b < len(e.Buckets); b++ {
		if e.Buckets[b] == nil || e.Buckets[b].Attempted == 0 {
			continue
		}
		if m == nil {
			m = results.NewSeries(results.BucketDigits)
		}
		m.Merge(e.Buckets[b])
	}
	return m
}

// all merges every endpoint's buckets of window i.
func (w windows) all(i int) (*results.Series, map[string]*results.Series) {
	all := results.NewSeries(results.BucketDigits)
	per := map[string]*results.Series{}
	for name, e := range w.r.Endpoints {
		if s := w.series(e, i); s != nil {
			per[name] = s
			all.Merge(s)
		}
	}
	return all, per
}

// stretch is window i as clauses judge it: every endpoint's counts and
// the sum of them, with the latency histograms merged only where one of
// clauses reads a percentile (an endpoint's, or all's). What firstBreaches
// needs, without all's cost of merging every histogram of every window.
func (w windows) stretch(i int, clauses []scenarios.Clause) (*results.Series, map[string]*results.Series) {
	allHist, hist := false, map[string]bool{}
	for _, c := range clauses {
		if c.Percentile() != 0 {
			allHist = allHist || c.Endpoint == ""
			hist[c.Endpoint] = true
		}
	}
	all := results.NewSeries(results.BucketDigits)
	per := map[string]*results.Series{}
	for name, e := range w.r.Endpoints {
		var m *results.Series
		for b := i * w.per; b < (i+1)*w.per && b < len(e.Buckets); b++ {
			if x := e.Buckets[b]; x != nil && x.Attempted > 0 {
				if m == nil {
					m = results.NewSeries(results.BucketDigits)
				}
				mergeForClauses(m, x, hist[name] || allHist)
			}
		}
		if m != nil {
			per[name] = m
			mergeForClauses(all, m, allHist)
		}
	}
	return all, per
}

// mergeForClauses adds src's counts to dst, and its latencies (of the
// successful and the failed answers) when hist.
func mergeForClauses(dst, src *results.Series, hist bool) {
	dst.MergeCounts(src)
	if hist {
		dst.Latency.Merge(src.Latency)
		dst.FailedLatency.Merge(src.FailedLatency)
	}
}

// counts sums every endpoint's counts of window i (no histograms: what
// the traffic curves need, at a fraction of all's cost).
func (w windows) counts(i int) (offered, attempted, succeeded int64, errs map[string]int64) {
	errs = map[string]int64{}
	for _, e := range w.r.Endpoints {
		for b := i * w.per; b < (i+1)*w.per && b < len(e.Buckets); b++ {
			if x := e.Buckets[b]; x != nil {
				offered, attempted, succeeded = offered+x.Offered, attempted+x.Attempted, succeeded+x.Succeeded
				for k, n := range x.Errors {
					errs[k] += n
				}
			}
		}
	}
	return offered, attempted, succeeded, errs
}

// users sums the user counts of window i (users count in the bucket they
// arrived in).
func (w windows) users(i int) results.Users {
	var u results.Users
	for b := i * w.per; b < (i+1)*w.per && b < len(w.r.UserBuckets); b++ {
		u.Add(w.r.UserBuckets[b])
	}
	return u
}

// stretchBreaks says a clause did not hold on a stretch, and its value
// there. A latency clause of successful answers breaks on a stretch whose
// answers all failed (no answer came back good, however fast the failures
// were); its value there is what the failed answers took at its
// percentile, as the whole run's verdict fails it ("no successful
// answer"). Without that, a collapse that answered nothing but timeouts
// read as healthy, and as recovered.
func stretchBreaks(c scenarios.Clause, all *results.Series, per map[string]*results.Series) (v float64, broke bool) {
	if v, ok := stretchValue(c, all, per); ok {
		return v, !c.Holds(v)
	}
	ser := all
	if c.Endpoint != "" {
		ser = per[c.Endpoint]
	}
	if ser == nil || c.Percentile() <= 0 || c.Answers != scenarios.AnswersOK || ser.Failed() == 0 || c.Op == ">=" || c.Op == ">" {
		return 0, false
	}
	return ser.FailedLatency.Percentile(c.Percentile()).Seconds(), true
}

// stretchValue is a clause's value on a stretch of the run (merged series
// per endpoint and over all): ok is false for clauses that are judged on
// the whole run only (user-level ones) or have nothing to judge here.
func stretchValue(c scenarios.Clause, all *results.Series, per map[string]*results.Series) (v float64, ok bool) {
	ser := all
	if c.Endpoint != "" {
		ser = per[c.Endpoint]
	}
	if ser == nil || ser.Answered() == 0 {
		return 0, false
	}
	switch {
	case c.Percentile() != 0:
		h := latencyOf(c, ser)
		if h.Count() == 0 {
			return 0, false
		}
		if c.Percentile() < 0 {
			return h.Mean().Seconds(), true
		}
		return h.Percentile(c.Percentile()).Seconds(), true
	case c.IsShare():
		return shareOf(c, ser), true
	}
	return 0, false
}

// FirstBreach is when a failed clause first broke, judged window by window.
type FirstBreach struct {
	Clause   string        `json:"clause"`
	At       time.Duration `json:"at_ns"`
	Measured float64       `json:"measured"` // the clause's value in that window
	Unit     string        `json:"unit"`
}

// firstBreaches finds, for every clause that can be judged per stretch,
// the first window in which it did not hold; the earliest comes first.
func firstBreaches(s *scenarios.Scenario, r *results.Run) []FirstBreach {
	if s == nil {
		return nil
	}
	w := windowsOf(r)
	var out []FirstBreach
	found := map[int]bool{}
	within := periodsPlayed(s) // a clause with at: breaks only within its period
	for i := 0; i < w.count && len(found) < len(s.SLO); i++ {
		var open []scenarios.Clause
		for ci, c := range s.SLO {
			if !found[ci] {
				open = append(open, c)
			}
		}
		all, per := w.stretch(i, open)
		for ci, c := range s.SLO {
			if found[ci] {
				continue
			}
			if sp, ok := within[ci]; ok && (w.start(i) < sp[0] || w.start(i) >= sp[1]) {
				continue
			}
			if v, broke := stretchBreaks(c, all, per); broke {
				found[ci] = true
				unit := "share"
				if c.Percentile() != 0 {
					unit = "s"
				}
				out = append(out, FirstBreach{Clause: c.Label(), At: time.Duration(i) * w.width(), Measured: v, Unit: unit})
			}
		}
	}
	return out
}
