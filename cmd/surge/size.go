package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim/queueing"
)

func newSizeCmd(g *globals) *cobra.Command {
	var (
		rate    float64
		service string
		slos    []string
		noQueue bool
	)
	cmd := &cobra.Command{
		Use:   "size --arrival-rate R --service exp:20ms --slo 'p99<=100ms' [--slo ...]",
		Short: "The fewest servers meeting every SLO (M/M/c, or M/M/c/c with --no-queue)",
		Long: `Sizes a stage with closed forms: Poisson arrivals, exponential service, c servers.
SLO forms: p99<=100ms  p99.9<=40ms  mean<=30ms  wait.p99<=5ms  wait.mean<=1ms  P(wait)<=5%
P(wait<=50ms)>=90%  utilization<=75%  and with --no-queue (a loss system): blocking<=1%.
Written as a scenario's slo: clauses are ("p99 <= 100ms", < for <=), they read the same.
Prints the servers and every SLO's value at N and at N-1, or why no N meets them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sizeService(service, noQueue)
			if err != nil {
				return err
			}
			var parsed []queueing.SLO
			for _, x := range slos {
				o, err := queueing.ParseSLO(x)
				if err != nil {
					return err
				}
				parsed = append(parsed, o)
			}
			res, err := queueing.Size(rate, s, parsed, noQueue)
			if err != nil {
				return err
			}
			return printSizing(cmd, g, rate, s, parsed, res)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&rate, "arrival-rate", 0, "arrivals per second (required)")
	f.StringVar(&service, "service", "", "service time: exp:20ms (mean 20 ms); with --no-queue any distribution's mean is used")
	f.StringArrayVar(&slos, "slo", nil, "an objective, repeatable")
	f.BoolVar(&noQueue, "no-queue", false, "a loss system (M/M/c/c): arrivals finding every server busy are blocked")
	cmd.MarkFlagRequired("arrival-rate")
	cmd.MarkFlagRequired("service")
	return cmd
}

// sizeService reads --service: M/M/c needs exponential service; Erlang B
// (the loss system) depends on the mean only.
func sizeService(s string, noQueue bool) (time.Duration, error) {
	d, err := spec.ParseDist(s)
	if err != nil {
		return 0, fmt.Errorf("--service: %w", err)
	}
	if !noQueue && d.SCV() != 1 {
		return 0, fmt.Errorf("--service %s: queue metrics here are M/M/c closed forms and need exponential service (exp:MEAN); %s has SCV %.2f", s, d, d.SCV())
	}
	if d.Mean() <= 0 {
		return 0, fmt.Errorf("--service: the mean service time must be positive")
	}
	return d.Mean(), nil
}

func printSizing(cmd *cobra.Command, g *globals, rate float64, s time.Duration, slos []queueing.SLO, res queueing.Sizing) error {
	out := cmd.OutOrStdout()
	if g.json {
		if err := writeJSON(out, res); err != nil {
			return err
		}
	} else {
		reports.SizingText(out, rate, s, slos, res)
	}
	if !res.Feasible {
		return fmt.Errorf("infeasible: %s", res.Reason)
	}
	return nil
}
