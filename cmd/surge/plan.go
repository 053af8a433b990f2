package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
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
			sized := resized(p, plan)
			run, _, err := sim.Run(cmd.Context(), sim.Config{Scenario: s, Profile: sized, Seed: g.seed, Meta: results.Meta{Profile: p.Name + " (recommended)"}})
			if err != nil {
				return err
			}
			check := reports.Evaluate(s, run)
			outside := p.Calibrated.Outside(s.Name, capacity.PeakMix(s).Peak)
			if g.json {
				writeJSON(cmd.OutOrStdout(), map[string]any{"plan": plan, "recommended_checked_by_sim": check, "outside_the_evidence": outside})
			} else {
				printPlan(cmd.OutOrStdout(), p.Name, plan, check)
				for _, o := range outside {
					fmt.Fprintf(cmd.OutOrStdout(), "WARNING: outside the model's evidence: %s\n", o)
				}
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

// resized is the profile with every stage grown to the plan's need.
func resized(p *profile.Profile, plan sim.PlanResult) *profile.Profile {
	q := *p
	q.Stages = map[string]profile.Stage{}
	for name, st := range p.Stages {
		q.Stages[name] = st
	}
	for _, sp := range plan.Stages {
		st := q.Stages[sp.Stage]
		if sp.Needed > st.Workers && sp.Needed < 1<<20 {
			st.Workers = sp.Needed
		}
		q.Stages[sp.Stage] = st
	}
	return &q
}

func printPlan(w io.Writer, profile string, plan sim.PlanResult, check reports.Verdict) {
	verdict := map[bool]string{true: "GO", false: "NO-GO"}
	fmt.Fprintf(w, "plan: profile %s at the forecast peak x %.2g margin: %s\n\n", profile, plan.Margin, verdict[plan.Go])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tPEAK VISITS/s\tAT\tMEAN HOLD\tERLANGS\tWAIT p99 BUDGET\tNEEDS\tHAS\t")
	for _, sp := range plan.Stages {
		fmt.Fprintf(tw, "%s\t%.3g\t%s\t%v\t%.3g\t%v\t%d\t%d\t%s\n", sp.Stage, sp.Peak, sp.PeakAt, sp.Hold.Round(time.Millisecond),
			sp.Load, sp.Budget.Round(time.Millisecond), sp.Needed, sp.Has, verdict[sp.Go])
	}
	tw.Flush()
	for _, sp := range plan.Stages {
		if !sp.Go {
			fmt.Fprintf(w, "NO-GO %s: %s\n", sp.Stage, sp.Shortage)
		}
	}
	if b := plan.Bottleneck; b != nil {
		fmt.Fprintf(w, "bottleneck: %s (saturates first as load grows: at %.2fx the forecast peak its workers are all busy)", b.Stage, b.Headroom)
		if len(b.Downstream) > 0 {
			fmt.Fprintf(w, "; downstream effects: %s (they hold workers while they wait on it)", strings.Join(b.Downstream, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nsim of the scenario with every stage at its recommended size: %s\n", verdict[check.Go])
	for _, c := range check.Clauses {
		if !c.Pass {
			fmt.Fprintf(w, "  still failing: %s\n", c.Clause)
		}
	}
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
