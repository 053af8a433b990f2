package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"slices"
	"time"

	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results/vegetafmt"
)

func newRunCmd(g *globals) *cobra.Command {
	o := runOptions{}
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml",
		Short: "Replay a scenario for real and gate on its SLOs (exit 0 GO, 2 NO-GO, 1 could not run)",
		Long: `Replays a scenario against its target: open model (users arrive on the scenario's curve
whatever the service does), latency measured from each request's intended send time.
With no target in the scenario (or --target), it starts the reference server in-process on
loopback with the scenario's profile (or --profile). It writes a run directory (scenario,
results.json, summary.txt, summary.json, report.html) and evaluates the scenario's gate.
Ctrl-C stops the arrivals, drains the users and still writes the run directory.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario, o.seed, o.json = args[0], g.seed, g.json
			if err := checkFlags(cmd.Flags(), compressionCheck(&o.compression), drainCheck(&o.drain),
				positiveInt("max-conns", &o.maxConns), positiveInt("max-users", &o.maxUsers),
				flagCheck{"send-slack", func() bool { return o.sendSlack >= 0 }, "a duration of 0 or more (0: every send paced on its own)"},
				flagCheck{"raw-format", func() bool { return o.rawFormat == "" || slices.Contains(vegetafmt.Formats, o.rawFormat) }, "gob, json or csv"},
				flagCheck{"raw-max", func() bool { return o.rawMax > 0 }, "a positive number of bytes"}); err != nil {
				return err
			}
			if err := checkMetricsFlags(cmd.Flags(), &o); err != nil {
				return err
			}
			if err := o.shard.resolve(time.Now()); err != nil {
				return err
			}
			return runScenario(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "run directory (default runs/<time>-<scenario>)")
	f.StringVar(&o.target, "target", "", "base URL of the service (overrides the scenario's target.url)")
	f.StringVar(&o.profile, "profile", "", "reference server profile for the embedded target (overrides target.profile)")
	f.Float64Var(&o.compression, "compression", 0, "time compression factor (overrides compression.factor)")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (one test case per gate clause) to this file")
	f.DurationVar(&o.drain, "drain", 0, "how long users may finish once arrivals end (default 2m)")
	f.IntVar(&o.maxConns, "max-conns", 0, "connections to the target at most (default 5000, the users' cap: past it requests wait in the generator, and the run says so)")
	f.IntVar(&o.maxUsers, "max-users", 0, "users in their journey at once at most (default 5000, about 8 KB live each); past it arrivals wait and go out late")
	f.DurationVar(&o.sendSlack, "send-slack", replay.DefaultSendSlack, "how late a send may go out so that sends due together share one wake-up of the generator (0: pace every send on its own)")
	f.BoolVar(&o.metrics, "metrics", false, "sample the target's /metrics each second (always on for the embedded server)")
	f.StringVar(&o.raw, "raw", "", "also write every answer to FILE as vegeta results (its gob, json or csv: vegeta report and plot read it); latency is surge's corrected one")
	f.StringVar(&o.rawFormat, "raw-format", "", "gob, json or csv (default: from the --raw file's extension, .json or .csv, else gob)")
	f.Int64Var(&o.rawMax, "raw-max", 1<<30, "bytes the --raw file may hold at most; past it answers are in results.json only")
	metricsFlags(f, &o)
	adminTokenFlag(f, &o.adminToken)
	shardFlags(f, &o.shard)
	f.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	uiFlags(f, &o.ui)
	return cmd
}

// uiFlags are the live page's flags of run, capacity and merge.
func uiFlags(f *pflag.FlagSet, o *uiOptions) {
	f.BoolVar(&o.on, "ui", false, "serve a live page (the report, redrawn each second) on a free loopback port, printed")
	f.StringVar(&o.listen, "ui-listen", "", "serve the live page on ADDR (off loopback it needs $SURGE_UI_TOKEN); implies --ui")
	f.DurationVar(&o.linger, "ui-linger", 15*time.Second, "with --ui: how long the final report stays served at the end")
	f.BoolVar(&o.open, "open", false, "open the live page in a browser ($BROWSER, else the system's); implies --ui")
}
