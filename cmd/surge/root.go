package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals are the flags every command shares.
type globals struct {
	seed       uint64
	json       bool
	cpuprofile string
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
	root.PersistentFlags().StringVar(&g.cpuprofile, "cpuprofile", "", "write a CPU profile of the command to this file (for go tool pprof)")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := noNegativeDurations(cmd); err != nil {
			return err
		}
		if g.cpuprofile == "" {
			return nil
		}
		f, err := os.Create(g.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		return nil // execute stops it, whatever the command returns
	}
	root.AddCommand(newVersionCmd(g), newProfilesCmd(g), newValidateCmd(g), newRunCmd(g), newSchemaCmd(), newReportCmd(), newSizeCmd(g), newUSLCmd(g), newSimCmd(g), newPlanCmd(g), newChaosCmd(g), newCapacityCmd(g), newImportCmd(g), newMergeCmd(g), newK8sCmd(g), newInitCmd())
	return root
}

// noNegativeDurations refuses a negative value of any duration flag: no
// wait, timeout, interval or budget of surge's means anything below zero.
func noNegativeDurations(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() == "duration" && strings.HasPrefix(f.Value.String(), "-") && err == nil {
			err = fmt.Errorf("--%s %s: a duration must not be negative", f.Name, f.Value)
		}
	})
	return err
}
