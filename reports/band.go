package reports

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// PlayBand plays a prediction made with a calibrated profile that says how
// uncertain its capacity is (calibrated.capacity_uncertainty) again, the
// same seed, at both ends of it: the figures a review sizes from are then
// a range the calibration's evidence allows, not one number that looks
// measured. Nil without an uncertainty.
func PlayBand(ctx context.Context, cfg sim.Config) (*results.Band, error) {
	c := cfg.Profile.Calibrated
	if c == nil || c.CapacityUncertainty <= 0 {
		return nil, nil
	}
	u := c.CapacityUncertainty
	band := &results.Band{Uncertainty: u}
	for _, end := range []struct {
		f   float64
		out *results.BandEnd
	}{{1 - u, &band.Low}, {1 + u, &band.High}} {
		bc := cfg
		bc.Profile = cfg.Profile.WithCapacity(end.f)
		r, _, err := sim.Run(ctx, bc)
		if err != nil {
			return nil, err
		}
		*end.out = bandEnd(cfg.Scenario, r, end.f)
	}
	return band, nil
}

// bandEnd is the figures of r, the prediction played at capacity x f.
func bandEnd(s *scenarios.Scenario, r *results.Run, f float64) results.BandEnd {
	out := results.BandEnd{Capacity: f, Endpoints: map[string]results.BandEndpoint{}, Abandoned: r.Users.Abandoned}
	for name, e := range r.Endpoints {
		be := results.BandEndpoint{ErrorShare: e.Total.ErrorRate()}
		if e.Total.Latency.Count() > 0 {
			be.P95 = e.Total.Latency.Percentile(95).Seconds()
		}
		out.Endpoints[name] = be
	}
	v := Evaluate(s, r)
	out.Pass = v.Evaluated && v.Go
	out.Recovered, _ = RecoveredBeforeEnd(s, r)
	return out
}

// BandRow is one figure of a prediction with a band (results.Band): as
// predicted, and played again at the capacity's two ends.
type BandRow struct {
	Figure, Predicted, Low, High string
}

// bandRows are the figures a review sizes from, each as predicted and at
// both ends of the band: every request's error share and p95, the users
// who abandoned, the gate, and (when the run had a surge to recover
// from) whether the service recovered before the end. Nil without a band.
func bandRows(s Summary) []BandRow {
	b := s.Meta.Band
	if b == nil {
		return nil
	}
	var out []BandRow
	for _, name := range s.Names {
		e, lo, hi := s.Endpoints[name], b.Low.Endpoints[name], b.High.Endpoints[name]
		out = append(out,
			BandRow{name + " errors", fmtShare(e.ErrorRate), fmtShare(lo.ErrorShare), fmtShare(hi.ErrorShare)},
			BandRow{name + " p95", bandP95(e.P95, e.Succeeded > 0), bandP95(lo.P95, lo.P95 > 0), bandP95(hi.P95, hi.P95 > 0)})
	}
	out = append(out, BandRow{"users abandoning", fmtCount(float64(s.Users.Abandoned)), fmtCount(float64(b.Low.Abandoned)), fmtCount(float64(b.High.Abandoned))})
	word := func(pass bool) string { return map[bool]string{true: "GO", false: "NO-GO"}[pass] }
	if s.Verdict.Evaluated {
		out = append(out, BandRow{"gate", s.Verdict.Word(), word(b.Low.Pass), word(b.High.Pass)})
	}
	for _, rec := range s.Verdict.Recoveries {
		if rec.Fault == "surge" && rec.Judged {
			yes := func(r bool) string { return map[bool]string{true: "yes", false: "no"}[r] }
			out = append(out, BandRow{"recovered from the surge", yes(rec.Recovered), yes(b.Low.Recovered), yes(b.High.Recovered)})
		}
	}
	return out
}

func bandP95(x float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmtDuration(x)
}

// BandHeading says what a prediction's band is, in words.
func BandHeading(s Summary) string {
	b := s.Meta.Band
	if b == nil {
		return ""
	}
	return fmt.Sprintf("if the service is %.0f%% slower or faster than its calibrated profile says (the calibration's 95%% uncertainty of its capacity)", 100*b.Uncertainty)
}

// textBand writes a prediction's band as a table.
func textBand(w io.Writer, s *Summary) {
	rows := bandRows(*s)
	if rows == nil {
		return
	}
	u := 100 * s.Meta.Band.Uncertainty
	fmt.Fprintf(w, "\nthe prediction %s:\n", BandHeading(*s))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "FIGURE\tPREDICTED\tCAPACITY -%.0f%%\tCAPACITY +%.0f%%\t\n", u, u)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Figure, r.Predicted, r.Low, r.High)
	}
	tw.Flush()
}
