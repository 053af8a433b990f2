package reports

import (
	"sort"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// A day of several surges (13-dec.yaml): the users who left to come back
// later and when they came back, shaded by the scenario's periods, and
// the day's clauses measured in each period beside the gate's own.

// PeriodFigures are one period's figures: its users (by arrival), its
// departures and returns (by when they happened), and the scenario's
// day-long clauses measured over it (not gating: the gate's clauses with
// at: are in the verdict).
type PeriodFigures struct {
	Name     string         `json:"name"`
	From     string         `json:"from"`
	To       string         `json:"to"`
	Users    results.Users  `json:"users"`
	Goodput  float64        `json:"goodput"`
	Clauses  []ClauseResult `json:"clauses"`
	playedAt [2]float64
}

// periodFigures are the scenario's periods in clock order, measured.
func periodFigures(s *scenarios.Scenario, r *results.Run) []PeriodFigures {
	if s == nil || len(s.Periods) == 0 {
		return nil
	}
	plan := arrival.New(s)
	var out []PeriodFigures
	for name, sp := range s.Periods {
		from, to := plan.PlayedAt(sp.From), plan.PlayedAt(sp.To)
		part := r.Between(from, to)
		p := PeriodFigures{Name: name, From: sp.From.String(), To: sp.To.String(), Users: part.Users, Goodput: part.Users.Goodput(),
			playedAt: [2]float64{from.Seconds(), to.Seconds()}}
		for _, c := range s.SLO {
			if c.Span == nil && c.Metric != "recovery" && c.Metric != "headroom" {
				res := Measure(c, part)
				res.Clause = c.Text + " at " + name
				p.Clauses = append(p.Clauses, res)
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].playedAt[0] < out[j].playedAt[0] })
	return out
}

// returnCurves are the departures to come back later and the returns,
// per second, by window; false when nobody left to come back.
func returnCurves(r *results.Run) (left, back []point, ok bool) {
	if r.Users.Left == 0 {
		return nil, nil, false
	}
	w := windowsOf(r)
	secs := w.width().Seconds()
	for i := 0; i < w.count; i++ {
		x, u := w.start(i), w.users(i)
		left = append(left, point{x, float64(u.Left) / secs})
		back = append(back, point{x, float64(u.Returned) / secs})
	}
	return left, back, true
}

// returns is section 3's second chart: who left to come back, and when
// they came back, over the scenario's periods.
func (c *charting) returns(cs *chartSet) {
	left, back, ok := returnCurves(c.rep.Run)
	if !ok {
		return
	}
	var periods []span
	for _, p := range c.sum.Periods {
		periods = append(periods, span{name: p.Name, from: p.playedAt[0], to: p.playedAt[1]})
	}
	ch := c.axis.chart(chartID("returns"), "Users coming back later (per second)", "per s")
	pal := newPalette()
	ch.AddSeries("left, to come back (when they gave up)", lineData(left, 1), noSymbols(), pal.next(), shadeIn(periods, "rgba(21,101,192,0.08)", "#1565c0"))
	ch.AddSeries("came back", lineData(back, 1), noSymbols(), pal.next())
	cs.Returns = cs.add(renderLine(ch))
}

// LeftFrom is how many users left to come back from one place: the
// request that failed them, or running out of patience.
type LeftFrom struct {
	From  string `json:"from"`
	Users int64  `json:"users"`
}

// leftFrom is the run's LeftFrom, the most first.
func leftFrom(r *results.Run) []LeftFrom {
	var out []LeftFrom
	for from, n := range r.LeftFrom {
		out = append(out, LeftFrom{from, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Users != out[j].Users {
			return out[i].Users > out[j].Users
		}
		return out[i].From < out[j].From
	})
	return out
}

// gone is how many left to come back and never did within the day.
func gone(u results.Users) int64 { return max(0, u.Left-u.Returned) }

// periodsPlayed are the played stretches (seconds) of the clauses with at:,
// by their index in the SLO.
func periodsPlayed(s *scenarios.Scenario) map[int][2]float64 {
	out := map[int][2]float64{}
	var plan *arrival.Plan
	for i, c := range s.SLO {
		if c.Span == nil {
			continue
		}
		if plan == nil {
			plan = arrival.New(s)
		}
		out[i] = [2]float64{plan.PlayedAt(c.Span.From).Seconds(), plan.PlayedAt(c.Span.To).Seconds()}
	}
	return out
}
