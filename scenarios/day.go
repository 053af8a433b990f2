package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/surgekit/surge/scenarios/spec"
)

// A scenario may span a day with several surges (13 Dec 2021: lunch, then
// dinner): periods name stretches of its clock, a user who gives up may
// come back later in the same run (within a period, or after a delay),
// and a gate clause may be judged at a period only.

// Spans is one span or several: a mapping {from, to} or a list of them.
type Spans []Span

// UnmarshalYAML reads one span or a list.
func (s *Spans) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var one Span
		if err := n.Decode(&one); err != nil {
			return err
		}
		*s = Spans{one}
		return nil
	}
	var many []Span
	if err := n.Decode(&many); err != nil {
		return err
	}
	*s = many
	return nil
}

// Contains says whether [from, to] lies within one of the spans.
func (s Spans) Contains(from, to Clock) bool {
	for _, sp := range s {
		if from >= sp.From && to <= sp.To {
			return true
		}
	}
	return false
}

// ComeBack is how a user who gives up with the come_back decision
// returns later in the same run: After a delay on the scenario's clock, or
// Within a period (a name from periods, or "17:00-21:00"), at a time drawn
// over what is left of it when the user gives up, as the scenario's arrival
// profile spreads its arrivals there (people come back when they go out
// to eat). A user who runs out of patience comes back with the same share
// as a give-up draws come_back. A user who comes back keeps what it has
// (its variables, its credential, its platform, the journey it was on: a
// reinstall's first-time one) and resumes at the step that failed, or the
// earlier one its restart_from names for come_back (an identity check to
// do again), with fresh attempts and fresh patience.
// A user comes back once: a second come_back decision is to abandon. One
// whose return would fall past the day's end (or the period's) does not
// come back: it has abandoned (results count it in left, not returned).
type ComeBack struct {
	After  *spec.Dist `yaml:"after"`
	Within string     `yaml:"within"`

	within Span // Within resolved by Parse
}

// resolveSpan is a period's span, or a "from-to" span written out.
func (s *Scenario) resolveSpan(ref string) (Span, error) {
	if sp, ok := s.Periods[ref]; ok {
		return sp, nil
	}
	from, to, ok := strings.Cut(ref, "-")
	if !ok {
		return Span{}, fmt.Errorf("%q is neither a period (%s) nor a span such as 17:00-21:00", ref, spec.Some(spec.SortedKeys(s.Periods)))
	}
	f, err1 := spec.ParseClock(strings.TrimSpace(from))
	t, err2 := spec.ParseClock(strings.TrimSpace(to))
	if err1 != nil || err2 != nil {
		return Span{}, fmt.Errorf("%q is neither a period (%s) nor a span such as 17:00-21:00", ref, spec.Some(spec.SortedKeys(s.Periods)))
	}
	return Span{From: Clock(f), To: Clock(t)}, nil
}

// ComeBackAt is the clock at which a user who gave up at left comes back,
// drawn from r; false when it does not come back within the day.
func (s *Scenario) ComeBackAt(left Clock, r *rand.Rand) (Clock, bool) {
	cb := s.Behaviour.ComeBack
	end := s.Window().To
	if cb == nil {
		return 0, false
	}
	if cb.After != nil {
		back := left + Clock(cb.After.Sample(r))
		return back, back < end
	}
	from, to := max(cb.within.From, left), min(cb.within.To, end)
	u := r.Float64() // drawn whether or not the window is left: the same draws in every case
	if from >= to {
		return 0, false
	}
	return s.profileAt(from, to, u), true
}

// profileAt is the clock at quantile u of the main arrival profile's
// arrivals within [from, to) (uniform where the profile has none there).
func (s *Scenario) profileAt(from, to Clock, u float64) Clock {
	a := s.Arrivals
	bucket := Clock(a.Bucket)
	overlap := func(i int) (Clock, Clock, float64) { // bucket i's part of [from, to), and its arrivals' weight
		b0 := a.Start + Clock(i)*bucket
		lo, hi := max(b0, from), min(b0+bucket, to)
		if hi <= lo {
			return lo, lo, 0
		}
		return lo, hi, float64(a.Profile[i]) * float64(hi-lo) / float64(bucket)
	}
	var total float64
	for i := range a.Profile {
		_, _, w := overlap(i)
		total += w
	}
	if total <= 0 {
		return from + Clock(float64(to-from)*u)
	}
	want, acc := u*total, 0.0
	for i := range a.Profile {
		lo, hi, w := overlap(i)
		if w > 0 && acc+w >= want {
			return lo + Clock(float64(hi-lo)*(want-acc)/w)
		}
		acc += w
	}
	return to - 1
}

// validateDay checks periods, come_back and the clauses' at.
func (s *Scenario) validateDay(p *spec.Problems) {
	for _, name := range spec.SortedKeys(s.Periods) {
		if name == "" || strings.ContainsAny(name, " -") {
			p.Addf(spec.Join("periods", name), "a period's name is a word such as dinner")
		}
		s.validateSpan(p, spec.Join("periods", name), s.Periods[name])
	}
	b := &s.Behaviour
	share := b.GiveUp[GiveUpComeBack]
	switch cb := b.ComeBack; {
	case cb == nil && share > 0:
		p.Addf("behaviour.come_back", "give_up has come_back %v: say when users come back, after: a delay or within: a period", share)
	case cb == nil:
	case share == 0:
		p.Addf("behaviour.come_back", "give_up has no come_back share, so nobody comes back")
	case (cb.After == nil) == (cb.Within == ""):
		p.Addf("behaviour.come_back", "want one of after: (a delay such as \"lognormal(median=2h, p90=5h)\") or within: (a period)")
	case s.Compression != nil && len(s.Compression.Realtime) > 0 && s.Compression.Factor > 1:
		// A played user who leaves a 1:1 stretch stands for one person, one
		// who leaves a compressed stretch for factor people: coming back into
		// a stretch of another speed, it would stand for the wrong number.
		p.Addf("behaviour.come_back", "returns keep their counts only at one compression: drop compression.realtime (or use factor 1)")
	case cb.After != nil && cb.After.Mean() <= 0:
		p.Addf("behaviour.come_back.after", "must be a positive delay")
	case cb.Within != "":
		sp, err := s.resolveSpan(cb.Within)
		if err != nil {
			p.Addf("behaviour.come_back.within", "%v", err)
			return
		}
		w := s.Window()
		switch {
		case sp.To <= sp.From:
			p.Addf("behaviour.come_back.within", "%s: %v-%v ends before it starts", cb.Within, sp.From, sp.To)
		case sp.To <= w.From:
			p.Addf("behaviour.come_back.within", "%s: %v-%v lies before any give-up (the first arrival is at %v)", cb.Within, sp.From, sp.To, w.From)
		case sp.From < w.From || sp.To > w.To:
			p.Addf("behaviour.come_back.within", "%s: %v-%v is outside the scenario's day %v-%v", cb.Within, sp.From, sp.To, w.From, w.To)
		}
		cb.within = sp
	}
}

// validateAt resolves a clause's at (a period, or a span) into its Span.
func (s *Scenario) validateAt(p *spec.Problems, path string, c *Clause) {
	if c.At == "" {
		return
	}
	sp, err := s.resolveSpan(c.At)
	if err != nil {
		p.Addf(path+".at", "%v", err)
		return
	}
	w := s.Window()
	if sp.To <= sp.From || sp.From < w.From || sp.To > w.To {
		p.Addf(path+".at", "%s: %v-%v is not a stretch of the scenario's day %v-%v", c.At, sp.From, sp.To, w.From, w.To)
		return
	}
	c.Span = &sp
}
