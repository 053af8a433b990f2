package reports

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// Forecast is the scenario's expected peak arrival rate (all streams).
type Forecast struct {
	PeakUsers float64         `json:"peak_users_per_s"`
	At        scenarios.Clock `json:"at"`
	AtPlayed  time.Duration   `json:"at_played_ns"`
	Users     float64         `json:"expected_users"`
}

func forecast(s *scenarios.Scenario) *Forecast {
	if s == nil {
		return nil
	}
	p := arrival.New(s)
	f := &Forecast{}
	step := max(time.Second, p.Played()/2000)
	for t := time.Duration(0); t < p.Played(); t += step {
		rate := 0.0
		for k := range p.Streams() {
			rate += p.Rate(k, t)
		}
		if rate > f.PeakUsers {
			f.PeakUsers, f.AtPlayed, f.At = rate, t, p.Clock(t)
		}
	}
	for k := range p.Streams() {
		f.Users += p.Expected(k, 0, p.Played())
	}
	return f
}

// describe is the scenario in one paragraph.
func describe(l *Loaded, f *Forecast) string {
	m := l.Run.Meta
	var b strings.Builder
	what := map[string]string{"sim": "Prediction (simulated)", "run": "Measured run"}[m.Kind]
	if what == "" {
		what = "Run"
	}
	fmt.Fprintf(&b, "%s of scenario %s, seed %d", what, m.Scenario, m.Seed)
	if m.Profile != "" {
		fmt.Fprintf(&b, ", against the %s profile", m.Profile)
	} else if m.Target != "" {
		fmt.Fprintf(&b, ", against %s", m.Target)
	}
	if m.Protocol == "h2" {
		b.WriteString(", over HTTP/2")
	}
	fmt.Fprintf(&b, "; played %s of %s", fmtDuration(m.Elapsed.Seconds()), fmtDuration(m.Planned.Seconds()))
	if !m.Started.IsZero() {
		fmt.Fprintf(&b, ", started %s", m.Started.UTC().Format("2006-01-02 15:04 UTC"))
	}
	b.WriteString(".")
	s := l.Scenario
	if s == nil {
		return b.String()
	}
	if s.Description != "" {
		fmt.Fprintf(&b, " %s", strings.TrimSpace(strings.SplitN(s.Description, "\n", 2)[0]))
	}
	a := s.Arrivals
	end := scenarios.Clock(time.Duration(a.Start) + time.Duration(len(a.Profile))*a.Bucket)
	fmt.Fprintf(&b, " Window %s-%s (%d buckets of %v), %s arrivals at scale %s", a.Start, end, len(a.Profile), a.Bucket,
		a.Process, s.Scale)
	b.WriteString(compressionText(s.Compression))
	b.WriteString(".")
	if len(s.Cohorts) > 0 {
		var cs []string
		for _, c := range s.Cohorts {
			share := "timed shares"
			if c.Share != nil {
				share = c.Share.String()
			}
			cs = append(cs, fmt.Sprintf("%s %s (%s)", c.Name, share, c.Journey))
		}
		fmt.Fprintf(&b, " Cohorts: %s.", strings.Join(cs, ", "))
	}
	if len(s.Faults) > 0 {
		var fs []string
		for _, x := range s.Faults {
			fs = append(fs, x.Name)
		}
		fmt.Fprintf(&b, " Faults: %s.", strings.Join(fs, ", "))
	}
	if f != nil {
		fmt.Fprintf(&b, " Forecast: %.0f users expected, peaking at %.1f users/s at %s (played %s).", f.Users, f.PeakUsers, f.At,
			fmtDuration(f.AtPlayed.Seconds()))
	}
	return b.String()
}

// compressionText is ", compressed 10x" (outside its realtime spans), or "".
func compressionText(c *scenarios.Compression) string {
	if c == nil || c.Factor <= 1 {
		return ""
	}
	var rt []string
	for _, sp := range c.Realtime {
		rt = append(rt, fmt.Sprintf("%s-%s", sp.From, sp.To))
	}
	if len(rt) > 0 {
		return fmt.Sprintf(", compressed %gx outside %s", c.Factor, strings.Join(rt, " and "))
	}
	return fmt.Sprintf(", compressed %gx", c.Factor)
}

func (f *StageFigures) utilCurve() []point {
	out := make([]point, len(f.points))
	for i, p := range f.points {
		out[i] = point{p.at, p.util}
	}
	return out
}

// sloLines are the latency limits (in ms) that apply to an endpoint's chart.
func sloLines(s *scenarios.Scenario, endpoint string) map[string]float64 {
	out := map[string]float64{}
	if s == nil {
		return out
	}
	for _, c := range s.SLO {
		if c.Percentile() > 0 && (c.Endpoint == endpoint || c.Endpoint == "") {
			out["SLO "+c.Text] = c.Limit() * 1000
		}
	}
	return out
}

// eventRows are the run's events in time order.
func eventRows(r *results.Run) []results.Event {
	ev := append([]results.Event(nil), r.Events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At < ev[j].At })
	return ev
}
