package sim

import (
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// The simulator records answers into the run's figures as
// results.Run.Record does, with the same outcome, in fewer steps: tens of
// millions of answers make each step count.
//   - Its service time is its latency (no network, no generator), so it
//     records the latency histogram alone and copies it to the service
//     histogram once, at the end: two histogram writes per answer, not four.
//   - It counts error kinds in a table by the kind's index and fills the
//     series' error maps at the end: a map write per failed answer was a
//     string hash each.

// tally is a request's error counts: rows[0] for the whole run, rows[b+1]
// for time bucket b, each by kind index (sim.kinds).
type tally struct{ rows [][]int64 }

// record counts one answer to a request of ri sent at sent.
func (m *sim) record(ri *reqInfo, sent, lat time.Duration, first bool, kind string) {
	if ri.figures == nil {
		ri.figures = m.run.Endpoint(ri.name)
	}
	e := ri.figures
	b := m.run.BucketOf(sent)
	count(e.Total, lat, first, kind == "")
	count(e.Bucket(b), lat, first, kind == "")
	if kind != "" {
		k := m.kind(kind)
		ri.errs.add(0, k)
		ri.errs.add(b+1, k)
	}
}

func count(s *results.Series, lat time.Duration, first, ok bool) {
	s.Attempted++
	if first {
		s.Offered++
	}
	if ok {
		s.Succeeded++
	}
	s.Latency.Record(lat)
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
	for i, k := range m.kinds {
		if k == kind {
			return i
		}
	}
	m.kinds = append(m.kinds, kind)
	return len(m.kinds) - 1
}

// settle completes the figures record left for the end: each series'
// service histogram and error counts.
func (m *sim) settle() {
	for _, name := range sortedKeys(m.reqs) {
		ri := m.reqs[name]
		e := ri.figures
		if e == nil {
			continue
		}
		for row, s := range append([]*results.Series{e.Total}, e.Buckets...) {
			if s == nil {
				continue
			}
			s.Service.Merge(s.Latency)
			if row >= len(ri.errs.rows) {
				continue
			}
			for k, n := range ri.errs.rows[row] {
				if n == 0 {
					continue
				}
				if s.Errors == nil {
					s.Errors = map[string]int64{}
				}
				s.Errors[m.kinds[k]] = n
			}
		}
	}
}
