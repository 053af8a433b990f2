package main

import (
	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	seed uint64
	json bool
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "surge",
		Short: "Capacity planning, load testing and chaos for launch-day surges",
		Long: `surge predicts and replays launch-day traffic: write the surge as YAML, simulate it,
replay it for real against the service with faults on the same timeline, and gate the
release on the result.

Exit codes: 0 pass (GO), 2 the gate failed (NO-GO), 1 the command could not be done.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.PersistentFlags().Uint64Var(&g.seed, "seed", 1, "seed for every random draw (arrivals, simulation, faults, service times)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print figures as one JSON object")
	root.AddCommand(newVersionCmd(g), newProfilesCmd(g), newValidateCmd(g), newRunCmd(g), newSchemaCmd(), newReportCmd(), newSizeCmd(g), newUSLCmd(g), newSimCmd(g), newPlanCmd(g), newChaosCmd(g))
	return root
}
