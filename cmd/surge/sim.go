package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/capacity"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

func newSimCmd(g *globals) *cobra.Command {
	o := runOptions{}
	var scale float64
	seeds := 1
	cmd := &cobra.Command{
		Use:   "sim SCENARIO.yaml",
		Short: "Predict a scenario against a capacity profile in seconds (exit 0 GO, 2 NO-GO, 1 could not run)",
		Long: `Simulates the scenario on a virtual clock against a capacity profile: the same arrivals
(same seed), the same user behaviour and the profile's stages. Writes a run directory like
surge run (results.json, summaries, report.html; kind "sim") and evaluates the gate on the
prediction. --scale plays the scenario at another scale and scales every stage's workers and
queue by the same factor (--scale 1 is national size). --seeds N plays the prediction again
with the N-1 seeds after --seed and shows, for each gate clause, the least, median and most
measured and how many seeds passed it: a figure the day's own chance decides is a range, and
one live run is one draw from it. The exit code is the prediction's own seed's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario, o.seed, o.json = args[0], g.seed, g.json
			if err := checkFlags(cmd.Flags(), compressionCheck(&o.compression), scaleCheck(&scale),
				flagCheck{"seeds", func() bool { return seeds >= 1 && seeds <= reports.MaxSeeds }, fmt.Sprintf("1 to %d simulations", reports.MaxSeeds)}); err != nil {
				return err
			}
			return simScenario(cmd.Context(), o, scale, seeds, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "run directory (default runs/<time>-<scenario>-sim)")
	f.StringVar(&o.profile, "profile", "", "capacity profile: shipped name or file (default: the scenario's target.profile)")
	f.Float64Var(&scale, "scale", 0, "play at this scale (e.g. 1 for national), stage capacities scaled alike")
	f.Float64Var(&o.compression, "compression", 0, "time compression factor (overrides compression.factor)")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (one test case per gate clause)")
	f.BoolVar(&o.quiet, "quiet", false, "no timing line")
	f.IntVar(&seeds, "seeds", 1, "also play the prediction with this many seeds in all (from --seed on) and show each clause's range")
	return cmd
}

func simScenario(ctx context.Context, o runOptions, scale float64, seeds int, stdout, stderr io.Writer) error {
	raw, s, err := loadScenario(o)
	if err != nil {
		return err
	}
	name := profileName(o.profile, s, o.scenario, "")
	if name == "" {
		return fmt.Errorf("%s: sim needs a capacity profile: give --profile or target.profile", o.scenario)
	}
	p, err := profiles.Load(name)
	if err != nil {
		return err
	}
	factor := 1.0
	if scale > 0 {
		factor = scale / float64(s.Scale)
		s.Scale = scenarios.Fraction(scale)
		if err := scenarios.CheckPlayed(float64(s.Arrivals.Total), scale); err != nil {
			return fmt.Errorf("--scale: %w", err)
		}
	}
	// The simulation allocates many short-lived objects; a higher GC target
	// trades memory (plentiful) for ~20% of the time (measured at national scale).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// The peak at the profile's own scale, for where a calibrated profile's evidence ends.
	meta := results.Meta{Scenario: s.Name, Profile: p.Name, Model: p.Calibrated.Outside(s.Name, capacity.PeakMix(s).Peak/factor)}
	start := time.Now() // only to tell the user how long the prediction took
	cfg := sim.Config{Scenario: s, Profile: p, Seed: o.seed, Capacity: factor, Meta: meta}
	run, stats, err := sim.Run(ctx, cfg)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if o.quiet {
		stderr = io.Discard
	}
	fmt.Fprintf(stderr, "simulated %v of %s in %v (%d events, %.2fM events/s)\n", run.Meta.Planned, s.Name, took.Round(time.Millisecond),
		stats.Events, float64(stats.Events)/took.Seconds()/1e6)
	if err := findRelief(ctx, cfg, run, stderr); err != nil {
		return err
	}
	if err := playBand(ctx, cfg, run, stderr); err != nil {
		return err
	}
	if seeds > 1 {
		start := time.Now() // only to tell the user how long the seeds took
		if run.Meta.Spread, err = reports.PlaySpread(ctx, cfg, run, seeds); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "played with %d seeds in all in %v\n", seeds, time.Since(start).Round(time.Millisecond))
	}
	return conclude(o, raw, s, run, "-sim", stdout)
}

// playBand: a prediction made with a calibrated profile that says how
// uncertain its capacity is is played again at both ends of it
// (reports.PlayBand, run.Meta.Band).
func playBand(ctx context.Context, cfg sim.Config, run *results.Run, stderr io.Writer) error {
	start := time.Now() // only to tell the user how long the band took
	band, err := reports.PlayBand(ctx, cfg)
	if err != nil || band == nil {
		return err
	}
	run.Meta.Band = band
	u := 100 * band.Uncertainty
	fmt.Fprintf(stderr, "played again at the capacity -%.0f%% and +%.0f%% (the calibration's uncertainty) in %v\n", u, u, time.Since(start).Round(time.Millisecond))
	return nil
}

// findRelief: when the predicted service has not recovered from the surge
// by the end of the played timeline, the simulator searches how far the
// arrivals after it must fall for it to (run.Meta.Relief).
func findRelief(ctx context.Context, cfg sim.Config, run *results.Run, stderr io.Writer) error {
	s := cfg.Scenario
	if recovered, judged := reports.RecoveredBeforeEnd(s, run); !judged || recovered {
		return nil
	}
	start := time.Now() // only to tell the user how long the search took
	rel, err := sim.FindRelief(ctx, cfg, func(r *results.Run) bool {
		ok, _ := reports.RecoveredBeforeEnd(s, r)
		return ok
	})
	if err != nil {
		return err
	}
	run.Meta.Relief = &rel
	fmt.Fprintf(stderr, "not recovered from the surge by the end: searched how far arrivals must fall in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}
