package arrival

import (
	"math"
	"sort"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/spec"
)

// Plan is a scenario's arrival curves on the played timeline.
type Plan struct {
	s        *scenarios.Scenario
	segments []segment
	streams  []stream
	played   time.Duration
	cohorts  []shares // each cohort's own platform shares (nil keys: the stream's)
}

// segment is a stretch of the window with one compression and one set of
// stream base rates.
type segment struct {
	play0, play1 float64 // played seconds
	clk0         float64 // scenario-clock seconds at play0
	factor       float64 // scenario seconds per played second
	base         []float64
	lambda0      []float64 // Lambda of each stream at play0
	lambda1      []float64 // and at play1
	cos0         []float64 // each stream's burst term at clk0 (integral)
}

type stream struct {
	name      string
	journey   string // "" for the main stream: its cohorts decide
	platforms shares
	burstA    float64 // F - 1
	burstP    float64 // period, scenario seconds
	party     *scenarios.Party
}

// New builds the plan of a (valid) scenario.
func New(s *scenarios.Scenario) *Plan {
	p := &Plan{s: s}
	a := s.Arrivals
	main := stream{name: "arrivals", platforms: newShares(s.Platforms), party: a.Party}
	if a.Burst != nil {
		main.burstA, main.burstP = a.Burst.Factor-1, a.Burst.Period.Seconds()
	}
	p.streams = append(p.streams, main)
	for _, x := range s.Extra {
		pl := x.Platforms
		if pl == nil {
			pl = s.Platforms
		}
		p.streams = append(p.streams, stream{name: x.Name, journey: x.Journey, platforms: newShares(pl)})
	}
	for _, c := range s.Cohorts {
		p.cohorts = append(p.cohorts, newShares(c.Platforms))
	}
	p.build()
	return p
}

// build cuts the window at every bucket edge, realtime edge and stream edge.
func (p *Plan) build() {
	s, a := p.s, p.s.Arrivals
	w := s.Window()
	cuts := map[float64]bool{clk(w.From): true, clk(w.To): true}
	for i := range a.Profile {
		cuts[clk(a.Start)+float64(i)*a.Bucket.Seconds()] = true
	}
	var rt scenarios.Spans
	factor := 1.0
	if c := s.Compression; c != nil {
		factor, rt = c.Factor, c.Realtime
		for _, sp := range rt {
			cuts[clk(sp.From)], cuts[clk(sp.To)] = true, true
		}
	}
	for _, x := range s.Extra {
		cuts[clk(x.Span.From)], cuts[clk(x.Span.To)] = true, true
	}
	edges := make([]float64, 0, len(cuts))
	for c := range cuts {
		if c >= clk(w.From) && c <= clk(w.To) {
			edges = append(edges, c)
		}
	}
	sort.Float64s(edges)
	scale := float64(s.Scale)
	play := 0.0
	lambda := make([]float64, len(p.streams))
	for i := 0; i+1 < len(edges); i++ {
		c0, c1 := edges[i], edges[i+1]
		f := factor
		if rt.Contains(scenarios.Clock(spec.Seconds(c0)), scenarios.Clock(spec.Seconds(c1))) {
			f = 1
		}
		seg := segment{play0: play, play1: play + (c1-c0)/f, clk0: c0, factor: f,
			base: make([]float64, len(p.streams)), lambda0: append([]float64(nil), lambda...)}
		b := int((c0 - clk(a.Start)) / a.Bucket.Seconds())
		seg.base[0] = float64(a.Total) * float64(a.Profile[b]) / a.Bucket.Seconds() * scale
		for j, x := range s.Extra {
			if c0 >= clk(x.Span.From) && c1 <= clk(x.Span.To) {
				seg.base[j+1] = float64(x.Rate) * scale
			}
		}
		seg.cos0 = make([]float64, len(p.streams))
		for k, st := range p.streams {
			if st.burstA != 0 {
				seg.cos0[k] = math.Cos(2 * math.Pi / st.burstP * seg.clk0)
			}
		}
		for k := range p.streams {
			lambda[k] += p.integral(&seg, k, seg.play1-seg.play0)
		}
		seg.lambda1 = append([]float64(nil), lambda...)
		p.segments = append(p.segments, seg)
		play = seg.play1
	}
	p.played = spec.Seconds(play)
}

func clk(c scenarios.Clock) float64 { return time.Duration(c).Seconds() }

// Played is the length of the played timeline.
func (p *Plan) Played() time.Duration { return p.played }

// Streams names the arrival streams: the main one first, then the extra ones.
func (p *Plan) Streams() []string {
	out := make([]string, len(p.streams))
	for i, st := range p.streams {
		out[i] = st.name
	}
	return out
}

// Clock is the scenario-clock time at played time t.
func (p *Plan) Clock(t time.Duration) scenarios.Clock {
	seg := p.segmentAt(t.Seconds())
	return scenarios.Clock(spec.Seconds(seg.clk0 + (t.Seconds()-seg.play0)*seg.factor))
}

// Rate is a stream's arrival rate in people per second at played time t.
func (p *Plan) Rate(stream int, t time.Duration) float64 {
	x := t.Seconds()
	if x < 0 || x >= p.played.Seconds() {
		return 0
	}
	seg := p.segmentAt(x)
	return p.rate(seg, stream, x-seg.play0)
}

// Expected is the expected number of people of a stream arriving in played [from, to).
func (p *Plan) Expected(stream int, from, to time.Duration) float64 {
	return p.lambda(stream, to.Seconds()) - p.lambda(stream, from.Seconds())
}

func (p *Plan) segmentAt(x float64) *segment {
	i := sort.Search(len(p.segments), func(i int) bool { return p.segments[i].play1 > x })
	if i == len(p.segments) {
		i--
	}
	return &p.segments[i]
}

func (p *Plan) rate(seg *segment, k int, u float64) float64 {
	st := p.streams[k]
	if st.burstA == 0 {
		return seg.base[k]
	}
	return seg.base[k] * (1 + st.burstA*math.Sin(2*math.Pi*(seg.clk0+seg.factor*u)/st.burstP))
}

// integral is the expected arrivals of stream k in the first u played
// seconds of seg: base * (u - A*P/(2*pi*f) * (cos(2*pi*(tau0+f*u)/P) - cos(2*pi*tau0/P))).
func (p *Plan) integral(seg *segment, k int, u float64) float64 {
	st := &p.streams[k]
	if st.burstA == 0 || seg.base[k] == 0 {
		return seg.base[k] * u
	}
	w := 2 * math.Pi / st.burstP
	return seg.base[k] * (u - st.burstA/(w*seg.factor)*(math.Cos(w*(seg.clk0+seg.factor*u))-seg.cos0[k]))
}

func (p *Plan) lambda(k int, x float64) float64 {
	x = min(max(x, 0), p.played.Seconds())
	seg := p.segmentAt(x)
	return seg.lambda0[k] + p.integral(seg, k, x-seg.play0)
}

// invert finds the played time at which stream k's Lambda reaches target,
// starting the search at segment *from (updated); false past the end.
func (p *Plan) invert(k int, target float64, from *int) (float64, bool) {
	for *from < len(p.segments) {
		seg := &p.segments[*from]
		if target <= seg.lambda1[k] && seg.base[k] > 0 {
			return seg.play0 + p.solve(seg, k, target-seg.lambda0[k]), true
		}
		*from++
	}
	return 0, false
}

// solve finds u in [0, len(seg)] with integral(u) = want: Newton's method
// from the flat-rate guess, kept inside a shrinking bracket.
func (p *Plan) solve(seg *segment, k int, want float64) float64 {
	lo, hi := 0.0, seg.play1-seg.play0
	u := min(want/seg.base[k], hi)
	for range 60 {
		f := p.integral(seg, k, u) - want
		if math.Abs(f) < 1e-9 {
			return u
		}
		if f > 0 {
			hi = u
		} else {
			lo = u
		}
		next := u - f/p.rate(seg, k, u)
		if next <= lo || next >= hi {
			next = (lo + hi) / 2
		}
		u = next
	}
	return u
}

// PlayedAt is the played time at which the scenario clock shows c (the
// inverse of Clock); past the window's end, time runs 1:1 again.
func (p *Plan) PlayedAt(c scenarios.Clock) time.Duration {
	x := clk(c)
	for _, seg := range p.segments {
		end := seg.clk0 + (seg.play1-seg.play0)*seg.factor
		if x < end {
			return spec.Seconds(seg.play0 + max(0, x-seg.clk0)/seg.factor)
		}
	}
	last := p.segments[len(p.segments)-1]
	return spec.Seconds(last.play1 + x - (last.clk0 + (last.play1-last.play0)*last.factor))
}

// SurgeEnd is the played time at which the surge ends: after the peak of
// the total arrival rate (averaged per bucket, so the minute-level burst
// does not count), the first point where it is below half that peak.
// False when it never falls that low within the window.
func (p *Plan) SurgeEnd() (time.Duration, bool) {
	var rates []float64
	var starts []float64
	for i := range p.segments {
		seg := &p.segments[i]
		var r float64
		for k := range p.streams {
			r += p.integral(seg, k, seg.play1-seg.play0) / (seg.play1 - seg.play0)
		}
		rates = append(rates, r)
		starts = append(starts, seg.play0)
	}
	peak := 0
	for i, r := range rates {
		if r > rates[peak] {
			peak = i
		}
	}
	for i := peak + 1; i < len(rates); i++ {
		if rates[i] < rates[peak]/2 {
			return spec.Seconds(starts[i]), true
		}
	}
	return 0, false
}

// ClockBreak is a point where the played timeline's speed against the
// scenario clock may change: from Played on, the clock shows Clock and
// runs linearly to the next break.
type ClockBreak struct {
	Played time.Duration
	Clock  scenarios.Clock
}

// ClockBreaks are the played timeline's breaks, first at 0 and last at
// its end: between two, Clock is linear in played time.
func (p *Plan) ClockBreaks() []ClockBreak {
	var out []ClockBreak
	for _, seg := range p.segments {
		if n := len(out); n > 0 && out[n-1].Played == spec.Seconds(seg.play0) {
			continue
		}
		out = append(out, ClockBreak{spec.Seconds(seg.play0), scenarios.Clock(spec.Seconds(seg.clk0))})
	}
	if n := len(p.segments); n > 0 {
		last := p.segments[n-1]
		out = append(out, ClockBreak{spec.Seconds(last.play1), scenarios.Clock(spec.Seconds(last.clk0 + (last.play1-last.play0)*last.factor))})
	}
	return out
}

// Back is the next action of a user who just left to come back later
// (scenarios.Action.Away) at offset left from its arrival at played time
// arrived: its return, when it comes back within the day, at the played
// time of the clock it comes back at (a return into a compressed stretch
// lands where that stretch is played). The live engine and the simulator
// both ask here, so a return is the same in run and sim.
func (p *Plan) Back(w *scenarios.Walker, arrived, left time.Duration) (next scenarios.Action, returned bool) {
	back, ok := w.ComeBackAt(p.Clock(arrived + left))
	if !ok {
		return w.Gone(), false
	}
	at := max(p.PlayedAt(back)-arrived, left)
	return w.Return(at), true
}
