package sim

import (
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// The simulator records answers into the run's figures as
// results.Run.Record does, with the same outcome, in fewer steps: tens of
// millions of answers make each step count.
//   - Its service time is its latency (no network, no generator), so it
//     records the latency histogram alone and copies it to the service
//     histogram once, at the end.
//   - It records into the time bucket's series; the whole run's counts
//     are the buckets' sums, added at the end. Only the whole run's
//     latency histogram, finer than a bucket's, is recorded as it goes.
//   - An answer given at once (refused, shed at the door: a third of a
//     national run's, always a failure) is counted, and its failure
//     histograms get the count at the end.
//   - It counts error kinds in a table by the kind's index and fills the
//     series' error maps at the end: a map write per failed answer was a
//     string hash each.

// tally is a request's error counts by time bucket: rows[b] for bucket b,
// each by kind index (sim.kinds).
type tally struct{ rows [][]int64 }

// record counts one answer to a request of ri sent at sent.
func (m *sim) record(ri *reqInfo, sent, lat time.Duration, first bool, kind string) {
	b := m.run.BucketOf(sent)
	s := ri.series
	if s == nil || b != ri.bucket {
		if ri.figures == nil {
			ri.figures = m.run.Endpoint(ri.name)
		}
		s = ri.figures.Bucket(b)
		ri.series, ri.bucket = s, b
	}
	s.Attempted++
	if first {
		s.Offered++
	}
	if kind != "" {
		ri.errs.add(b, m.kind(kind))
		if lat < time.Microsecond {
			for len(ri.instant) <= b {
				ri.instant = append(ri.instant, 0)
			}
			ri.instant[b]++
			return
		}
		s.FailedLatency.Record(lat)
		ri.figures.Total.FailedLatency.Record(lat)
		return
	}
	s.Succeeded++
	s.Latency.Record(lat)
	ri.figures.Total.Latency.Record(lat)
}

func (t *tally) add(row, k int) {
	for len(t.rows) <= row {
		t.rows = append(t.rows, nil)
	}
	r := t.rows[row]
	for len(r) <= k {
		r = append(r, 0)
	}
	r[k]++
	t.rows[row] = r
}

// kind is kind's index in m.kinds: a few kinds, and most often the same
// string as the last time, so a scan beats hashing.
func (m *sim) kind(kind string) int {
	if k := m.lastKind; k < len(m.kinds) && m.kinds[k] == kind {
		return k
	}
	for i, k := range m.kinds {
		if k == kind {
			m.lastKind = i
			return i
		}
	}
	m.kinds = append(m.kinds, kind)
	m.lastKind = len(m.kinds) - 1
	return m.lastKind
}

// settle completes the figures record left for the end: the counts of
// answers given at once, each series' service histogram and error counts,
// and the whole run's series.
func (m *sim) settle() {
	for _, name := range spec.SortedKeys(m.reqs) {
		ri := m.reqs[name]
		e := ri.figures
		if e == nil {
			continue
		}
		t := e.Total
		for b, s := range e.Buckets {
			if s == nil {
				continue
			}
			if b < len(ri.instant) && ri.instant[b] > 0 {
				n := ri.instant[b]
				s.FailedLatency.RecordN(0, n)
				t.FailedLatency.RecordN(0, n)
			}
			s.Service.Merge(s.Latency)
			t.Attempted += s.Attempted
			t.Offered += s.Offered
			t.Succeeded += s.Succeeded
			if b >= len(ri.errs.rows) {
				continue
			}
			for k, n := range ri.errs.rows[b] {
				if n == 0 {
					continue
				}
				if s.Errors == nil {
					s.Errors = map[string]int64{}
				}
				if t.Errors == nil {
					t.Errors = map[string]int64{}
				}
				s.Errors[m.kinds[k]] = n
				t.Errors[m.kinds[k]] += n
			}
		}
		t.Service.Merge(t.Latency)
	}
}
