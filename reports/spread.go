package reports

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// MaxSeeds bounds surge sim --seeds: each seed is a whole simulation.
const MaxSeeds = 1000

// PlaySpread plays cfg's prediction (first, played with cfg.Seed) again
// with the n-1 seeds after its own and gathers what each gate clause
// measured in each: the spread of the day's own chance. A clause on a
// knife edge (a dinner whose p99 is 2.2 s with one draw of the day and
// 4.8 s with another, as the 13 Dec day's is) shows as that range, so a
// single live run is not read against one predicted number.
func PlaySpread(ctx context.Context, cfg sim.Config, first *results.Run, n int) (*results.Spread, error) {
	if n < 2 || n > MaxSeeds {
		return nil, fmt.Errorf("seeds: want 2 to %d, have %d", MaxSeeds, n)
	}
	sp := &results.Spread{}
	index := map[string]int{}
	for i := range n {
		r := first
		if i > 0 {
			c := cfg
			c.Seed = cfg.Seed + uint64(i)
			var err error
			if r, _, err = sim.Run(ctx, c); err != nil {
				return nil, err
			}
		}
		sp.Seeds = append(sp.Seeds, cfg.Seed+uint64(i))
		v := Evaluate(cfg.Scenario, r)
		if v.Evaluated && v.Go {
			sp.Go++
		}
		for _, c := range v.Clauses {
			if !c.Evaluated() || c.Samples == 0 {
				continue
			}
			j, ok := index[c.Clause]
			if !ok {
				j = len(sp.Clauses)
				index[c.Clause] = j
				sp.Clauses = append(sp.Clauses, results.SpreadClause{Clause: c.Clause, Unit: c.Unit})
			}
			sc := &sp.Clauses[j]
			sc.Values = append(sc.Values, c.Measured)
			if c.Pass {
				sc.Passed++
			}
		}
	}
	return sp, nil
}

// SpreadRow is one gate clause over a prediction's seeds, formatted.
type SpreadRow struct {
	Clause, Predicted, Min, Median, Max, Passed string
}

// spreadRows are a prediction's clauses over its seeds (nil without a
// spread): as predicted (its own seed), the least, median and most any
// seed measured, and how many seeds passed it.
func spreadRows(s Summary) []SpreadRow {
	sp := s.Meta.Spread
	if sp == nil {
		return nil
	}
	own := map[string]ClauseResult{}
	for _, c := range s.Verdict.Clauses {
		own[c.Clause] = c
	}
	var out []SpreadRow
	for _, c := range sp.Clauses {
		v := append([]float64(nil), c.Values...)
		sort.Float64s(v)
		pred := "-"
		if o, ok := own[c.Clause]; ok && o.Evaluated() && o.Samples > 0 {
			pred = format(c.Unit, o.Measured)
		}
		out = append(out, SpreadRow{Clause: c.Clause, Predicted: pred, Min: format(c.Unit, v[0]), Median: format(c.Unit, median(v)),
			Max: format(c.Unit, v[len(v)-1]), Passed: fmt.Sprintf("%d of %d", c.Passed, len(v))})
	}
	return out
}

// median of sorted v (not empty).
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// SpreadHeading says what a prediction's spread is, in words.
func SpreadHeading(s Summary) string {
	sp := s.Meta.Spread
	if sp == nil {
		return ""
	}
	return fmt.Sprintf("played with %d seeds (%d to %d: the same day drawn again, its arrivals, the users' decisions and the service times), the gate is GO with %d of them",
		len(sp.Seeds), sp.Seeds[0], sp.Seeds[len(sp.Seeds)-1], sp.Go)
}

// textSpread writes a prediction's spread as a table.
func textSpread(w io.Writer, s *Summary) {
	rows := spreadRows(*s)
	if rows == nil {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", SpreadHeading(*s))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "CLAUSE\tPREDICTED\tLEAST\tMEDIAN\tMOST\tPASSED\t\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Clause, r.Predicted, r.Min, r.Median, r.Max, r.Passed)
	}
	tw.Flush()
}
