package capacity

import (
	"fmt"
	"slices"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/spec"
)

// Mix is a scenario's composition at its forecast peak: the arrival rate
// there (people a second, at the scenario's scale, as played) and how it
// splits between the main stream's cohorts and the extra streams.
type Mix struct {
	Peak    float64         // arrivals/s at the forecast peak
	At      scenarios.Clock // when, on the scenario's clock
	Main    float64         // the main stream's share of Peak
	Extra   []float64       // each extra stream's share (0: not on at the peak)
	Cohorts []float64       // each cohort's share of the main stream then
}

// PeakMix finds the scenario's forecast peak (sampled as the report's
// forecast is) and its mix there.
func PeakMix(s *scenarios.Scenario) Mix {
	p := arrival.New(s)
	step := max(time.Second, p.Played()/2000)
	var best time.Duration
	peak := -1.0
	for t := time.Duration(0); t < p.Played(); t += step {
		rate := 0.0
		for k := range p.Streams() {
			rate += p.Rate(k, t)
		}
		if rate > peak {
			peak, best = rate, t
		}
	}
	m := Mix{Peak: max(peak, 0), At: p.Clock(best)}
	for k := range p.Streams() {
		share := 0.0
		if peak > 0 {
			share = p.Rate(k, best) / peak
		}
		if k == 0 {
			m.Main = share
		} else {
			m.Extra = append(m.Extra, share)
		}
	}
	for _, c := range s.Cohorts {
		m.Cohorts = append(m.Cohorts, float64(c.ShareAt(m.At)))
	}
	return m
}

// Steady is the scenario's peak mix at a constant rate (arrivals/s) for d:
// one bucket at that rate, the burst and the compression gone, the cohorts'
// shares and the extra streams as at the peak, no faults (a capacity is the
// service's own, not under a fault). Its SLO, behaviour and safety are the
// scenario's.
func Steady(s *scenarios.Scenario, m Mix, rate float64, d time.Duration) (*scenarios.Scenario, error) {
	if rate <= 0 || d <= 0 {
		return nil, fmt.Errorf("capacity: a steady step needs a positive rate and length, have %v/s for %v", rate, d)
	}
	c := *s
	c.Scale, c.Compression, c.Faults = 1, nil, nil
	start := m.At
	if time.Duration(start)+d > 47*time.Hour {
		start = 0
	}
	a := s.Arrivals
	c.Arrivals = scenarios.Arrivals{Start: start, Bucket: d, Total: scenarios.Count(rate * m.Main * d.Seconds()),
		Profile: []scenarios.Percent{1}, Process: a.Process, Party: a.Party}
	if m.Main == 0 {
		c.Arrivals.Total = 0
	}
	c.Cohorts = nil
	for i, co := range s.Cohorts {
		share := scenarios.Percent(m.Cohorts[i])
		co.Share, co.Shares = &share, nil
		c.Cohorts = append(c.Cohorts, co)
	}
	c.Extra = nil
	end := start + scenarios.Clock(d)
	for i, x := range s.Extra {
		if m.Extra[i] > 0 {
			x.Rate, x.Span = scenarios.Rate(rate*m.Extra[i]), scenarios.Span{From: start, To: end}
			c.Extra = append(c.Extra, x)
		}
	}
	if c.Arrivals.Total == 0 && len(c.Extra) == 0 {
		return nil, fmt.Errorf("capacity: scenario %s has no arrivals at its peak", s.Name)
	}
	if c.Arrivals.Total == 0 { // only extra streams: the main one idles at a trickle the validator takes
		c.Arrivals.Total = scenarios.Count(1e-9)
	}
	var p spec.Problems
	c.Validate(&p)
	if p.Len() > 0 {
		return nil, fmt.Errorf("capacity: the steady mix of %s is not a valid scenario (%d problems)", s.Name, p.Len())
	}
	return &c, nil
}

// Closed is the steady mix with every think step taken out: the scenario a
// closed-loop sweep plays, each user sending its next request as soon as
// its last is answered (the USL's load is the users in flight).
func Closed(s *scenarios.Scenario) *scenarios.Scenario {
	c := *s
	c.Journeys = map[string][]scenarios.Step{}
	for name, steps := range s.Journeys {
		kept := slices.DeleteFunc(slices.Clone(steps), func(st scenarios.Step) bool { return st.Think != nil })
		if len(kept) == 0 {
			kept = steps
		}
		c.Journeys[name] = kept
	}
	return &c
}

// perArrival is each request's first attempts per arrival of the mix:
// the journeys' request steps weighted by who takes them.
func perArrival(s *scenarios.Scenario, m Mix) map[string]float64 {
	out := map[string]float64{}
	add := func(journey string, w float64) {
		for _, st := range s.Journeys[journey] {
			if st.Request != "" {
				out[st.Request] += w
			}
		}
	}
	for i, co := range s.Cohorts {
		add(co.Journey, m.Main*m.Cohorts[i])
	}
	for i, x := range s.Extra {
		add(x.Journey, m.Extra[i])
	}
	return out
}

// journeyTime is a rough mean length of the mix's journeys, weighted by
// who takes them: their think times' means and a second per request. A
// step's warm-up lasts twice that, so that the users in flight are as many
// as they will be before the step is measured.
func journeyTime(s *scenarios.Scenario, m Mix) time.Duration {
	var sum, weight float64
	consider := func(journey string, w float64) {
		var d time.Duration
		for _, st := range s.Journeys[journey] {
			if st.Think != nil {
				d += st.Think.Mean()
			} else {
				d += time.Second
			}
		}
		sum, weight = sum+w*d.Seconds(), weight+w
	}
	for i, co := range s.Cohorts {
		consider(co.Journey, m.Main*m.Cohorts[i])
	}
	for i, x := range s.Extra {
		consider(x.Journey, m.Extra[i])
	}
	if weight == 0 {
		return 0
	}
	return secs(sum / weight)
}
