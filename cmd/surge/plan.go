package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/capacity"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

func newPlanCmd(g *globals) *cobra.Command {
	var profile string
	var margin float64
	cmd := &cobra.Command{
		Use:   "plan SCENARIO.yaml [--margin 1.5]",
		Short: "Workers each stage needs for the forecast peak x margin: GO / NO-GO per stage (exit 2 on NO-GO)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, s, err := loadScenario(runOptions{scenario: args[0]})
			if err != nil {
				return err
			}
			p, err := profiles.Load(profileName(profile, s, args[0], "as-built"))
			if err != nil {
				return err
			}
			plan, err := sim.Plan(s, p, margin)
			if err != nil {
				return err
			}
			// check the recommendation: simulate the scenario with every stage at max(has, needed)
			sized := plan.Resized(p)
			run, _, err := sim.Run(cmd.Context(), sim.Config{Scenario: s, Profile: sized, Seed: g.seed, Meta: results.Meta{Profile: p.Name + " (recommended)"}})
			if err != nil {
				return err
			}
			check := reports.Evaluate(s, run)
			bandCheck, err := checkBand(cmd, g, s, p, plan)
			if err != nil {
				return err
			}
			outside := p.Calibrated.Outside(s.Name, capacity.PeakMix(s).Peak)
			if g.json {
				writeJSON(cmd.OutOrStdout(), map[string]any{"plan": plan, "recommended_checked_by_sim": check,
					"band_checked_by_sim": bandCheck, "outside_the_evidence": outside})
			} else {
				reports.PlanText(cmd.OutOrStdout(), p.Name, plan, check, bandCheck, outside)
			}
			if !plan.Go {
				return planError(plan)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "", "capacity profile (default: the scenario's target.profile)")
	cmd.Flags().Float64Var(&margin, "margin", 1.5, "headroom over the forecast peak")
	return cmd
}

// checkBand simulates the scenario at the low end of a calibrated
// profile's capacity uncertainty with every stage at the size it needs
// there (nil without a band).
func checkBand(cmd *cobra.Command, g *globals, s *scenarios.Scenario, p *profile.Profile, plan sim.PlanResult) (*reports.Verdict, error) {
	if plan.Band == nil {
		return nil, nil
	}
	meta := results.Meta{Profile: fmt.Sprintf("%s (recommended at capacity -%.0f%%)", p.Name, 100*plan.Band.Uncertainty)}
	run, _, err := sim.Run(cmd.Context(), sim.Config{Scenario: s, Profile: plan.Band.Resized(p), Seed: g.seed, Meta: meta})
	if err != nil {
		return nil, err
	}
	v := reports.Evaluate(s, run)
	return &v, nil
}

// planError is a NO-GO plan (exit 2).
func planError(plan sim.PlanResult) error {
	n := 0
	for _, sp := range plan.Stages {
		if !sp.Go {
			n++
		}
	}
	return fmt.Errorf("%w: %d stage(s) short of capacity for the peak x %.2g", reports.ErrNoGo, n, plan.Margin)
}
