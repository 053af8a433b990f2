package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios/results/vegetafmt"
)

func newImportCmd(g *globals) *cobra.Command {
	var o runOptions
	var request string
	cmd := &cobra.Command{
		Use:   "import vegeta RESULTS --scenario S.yaml",
		Short: "Turn a vegeta attack's results into a run directory, judged by a scenario's gate",
		Long: `Turn a vegeta attack's results (its gob, JSON or CSV, as vegeta attack and
vegeta encode write them) into a surge run directory, so that surge report and
the scenario's gate work on runs made with vegeta. Every result is one request of
the scenario named by --request (default: the scenario's only request), at its
timestamp. vegeta measures latency from each request's actual send, so it is not
corrected for coordinated omission: the report says so.

The exit code is the gate's verdict: 0 GO, 2 NO-GO, 1 for bad input.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "vegeta" {
				return fmt.Errorf("import: only vegeta's results are read, have %q", args[0])
			}
			if o.scenario == "" {
				return fmt.Errorf("--scenario: required (the scenario whose request and gate the results are judged by)")
			}
			o.seed, o.json = g.seed, g.json
			raw, s, err := loadScenario(o)
			if err != nil {
				return err
			}
			if request == "" {
				names := s.UsedRequests()
				if len(names) != 1 {
					return fmt.Errorf("--request: the scenario has %d requests %v: name the one the results are of", len(names), names)
				}
				request = names[0]
			}
			f, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer f.Close()
			dec := vegeta.DecoderFor(f)
			if dec == nil {
				return fmt.Errorf("%s: not vegeta results (gob, JSON or CSV)", args[1])
			}
			run, err := vegetafmt.Import(dec, s, request)
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			return conclude(o, raw, s, run, "-vegeta", cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.scenario, "scenario", "", "the scenario whose request and gate judge the results (required)")
	f.StringVar(&request, "request", "", "the scenario's request the results are of (default: its only request)")
	f.StringVar(&o.out, "out", "", "run directory (default runs/<time>-<scenario>-vegeta)")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (one test case per gate clause) to this file")
	return cmd
}
