package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/capacity"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

type capacityOptions struct {
	runOptions
	start, max, precision string
	budget, minStep       time.Duration
	sweepStep, warmup     time.Duration
	concurrency           string
	sweepOnly             bool
	sim                   bool
	fullSteps             bool
}

func newCapacityCmd(g *globals) *cobra.Command {
	o := capacityOptions{}
	cmd := &cobra.Command{
		Use:   "capacity SCENARIO.yaml [--target URL] [--max RATE] [--budget 10m] [--out DIR]",
		Short: "Find the service's capacity under the scenario's SLOs: the knee, the headroom, the USL, a calibrated profile",
		Long: `Plays the scenario's mix (as at its forecast peak) at steady rates, open model, ramping
geometrically to the first rate at which an SLO clause breaks and then bisecting, each step
long enough for the tail its clauses name and with its warm-up cut off, and ended as soon as
its verdict is decided (a sequential test on its samples; --full-steps: never). It reports the knee (the
most arrivals/s at which every clause holds), the headroom over the forecast peak, every step,
the bottleneck, and with --concurrency a closed-loop sweep fitted with the Universal
Scalability Law. Live, it writes profile.yaml: a capacity profile of the target fitted from the
steps (stage by stage when the target exports surge's stage metrics), which surge sim and surge
plan take with --profile. With --sim the same search runs in the simulator on a profile.

A scenario that bounds no error share is searched with errors <= 1% besides its clauses.
Exit codes: 0 the gate holds (or none was stated), 2 a headroom clause fails or no rate held,
1 the search could not be done (bad input, an unreachable target). Ctrl-C stops the search and
still writes the directory with the steps so far.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario, o.seed, o.json = args[0], g.seed, g.json
			if err := checkFlags(cmd.Flags(), positiveInt("max-conns", &o.maxConns), positiveInt("max-users", &o.maxUsers),
				flagCheck{"budget", func() bool { return o.budget >= 0 }, "a duration such as 10m (0: none)"},
				flagCheck{"min-step", func() bool { return o.minStep >= time.Second }, "a duration of at least 1s"},
				flagCheck{"sweep-step", func() bool { return o.sweepStep >= time.Second }, "a duration of at least 1s"}); err != nil {
				return err
			}
			if err := checkMetricsFlags(cmd.Flags(), &o.runOptions); err != nil {
				return err
			}
			return capacitySearch(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "capacity directory (default runs/<time>-<scenario>-capacity)")
	f.StringVar(&o.target, "target", "", "base URL of the service (overrides the scenario's target.url)")
	f.StringVar(&o.profile, "profile", "", "with --sim: the capacity profile; else the embedded reference server's profile")
	f.BoolVar(&o.sim, "sim", false, "search in the simulator, on --profile (or the scenario's target.profile), not live")
	f.StringVar(&o.start, "start", "", "the first step's arrivals/s, such as 20 or 20/s (default a quarter of the forecast peak)")
	f.StringVar(&o.max, "max", "", "never offer more than this, in arrivals/s")
	f.StringVar(&o.precision, "precision", "5%", "stop bisecting when the bracket is this close: (fail - pass) / pass")
	f.DurationVar(&o.budget, "budget", 10*time.Minute, "bound the search's wall time (0: none): no step starts that would end after it")
	f.DurationVar(&o.minStep, "min-step", 20*time.Second, "the shortest a step measures (longer when its clauses need more samples)")
	f.BoolVar(&o.fullSteps, "full-steps", false, "measure every step its whole length (default: a step ends once its clauses' verdict is decided, a sequential test)")
	f.DurationVar(&o.warmup, "warmup", 0, "cut this off each step's start (default about a journey's length, 5s to 1m)")
	f.StringVar(&o.concurrency, "concurrency", "", "closed-loop sweep for the USL: users in flight, such as 1,2,4,8,16,32")
	f.DurationVar(&o.sweepStep, "sweep-step", 20*time.Second, "how long each concurrency level measures")
	f.BoolVar(&o.sweepOnly, "sweep-only", false, "with --concurrency: run the closed-loop sweep and its USL fit alone, without the knee search")
	f.IntVar(&o.maxConns, "max-conns", 0, "connections to the target at most (default 5000, the users' cap: past it requests wait in the generator, and the run says so)")
	f.IntVar(&o.maxUsers, "max-users", 0, "users in their journey at once at most (default 5000)")
	metricsFlags(f, &o.runOptions)
	uiFlags(f, &o.ui)
	adminTokenFlag(f, &o.adminToken)
	f.BoolVar(&o.quiet, "quiet", false, "no line per step")
	return cmd
}

// capacitySearch is `surge capacity`: load, start the target, search,
// calibrate, write, judge.
func capacitySearch(ctx context.Context, o capacityOptions, stdout, stderr io.Writer) error {
	raw, s, err := loadScenario(o.runOptions)
	if err != nil {
		return err
	}
	cfg, err := o.config(s)
	if err != nil {
		return err
	}
	if o.out == "" { // named now: the metrics' run label is the directory's
		o.out = defaultRunDir(s, "-capacity")
	}
	dir := o.out
	runner, target, stop, err := o.runner(ctx, s, stderr)
	if err != nil {
		return err
	}
	defer stop()
	cfg.Runner = runner
	if o.sweepOnly {
		return sweepOnly(ctx, cfg, dir, o.json, stdout)
	}
	if !o.quiet {
		cfg.Progress = stepProgress(stderr)
	}
	var stepDirs []string // each step's run directory, written as it ends (Ctrl-C leaves them)
	watch := &watchedSearch{s: s, mode: runner.Mode(), target: target, peak: capacity.PeakMix(s).Peak}
	cfg.Steps = func(i int, st capacity.Step, run *results.Run) error {
		rel, err := capacity.WriteStep(dir, i, st, run, raw)
		stepDirs = append(stepDirs, rel)
		watch.add(st)
		return err
	}
	var ui *liveUI
	if o.ui.wanted() {
		if ui, err = startUI(o.ui, s.Name, watch.draw, stderr); err != nil {
			return err
		}
	}
	res, searchErr := capacity.Search(ctx, cfg)
	if res == nil {
		return searchErr
	}
	for i := range res.Steps {
		if i < len(stepDirs) {
			res.Steps[i].Dir = stepDirs[i]
		}
	}
	res.Target = target
	profile := calibrate(ctx, res, s, runner, target, o.seed, stderr)
	if err := capacity.WriteDir(dir, raw, s, res, profile); err != nil {
		return err
	}
	if ui != nil {
		ui.finish(filepath.Join(dir, capacity.PageFile))
		defer ui.stop(ctx, o.ui.linger, stderr)
	}
	printCapacity(o.json, res, dir, stdout)
	return capacityVerdict(res, searchErr, dir)
}

// printCapacity prints the search's result as JSON or as text.
func printCapacity(asJSON bool, res *capacity.Result, dir string, stdout io.Writer) {
	if asJSON {
		reports.CapacityJSON(stdout, &res.Capacity)
		return
	}
	reports.CapacityText(stdout, &res.Capacity)
	fmt.Fprintf(stdout, "\ncapacity directory: %s (report: %s)\n", dir, filepath.Join(dir, capacity.PageFile))
}

// stepProgress prints a line per step of the search.
func stepProgress(stderr io.Writer) func(capacity.Step) {
	return func(st capacity.Step) {
		verdict := "holds"
		if !st.Pass {
			verdict = "breaks: " + st.Broke
		}
		fmt.Fprintf(stderr, "step %.4g arrivals/s: %.4g requests/s, %.4g ok/s, %s\n", st.Offered, st.Requests, st.Goodput, verdict)
	}
}

// capacityVerdict is surge capacity's exit: the search's error, an
// interruption, or the capacity gate.
func capacityVerdict(res *capacity.Result, searchErr error, dir string) error {
	switch {
	case searchErr != nil:
		return searchErr
	case res.Ended == "interrupted":
		return fmt.Errorf("interrupted: the steps so far are in %s", dir)
	case !res.Go():
		return res.Err()
	}
	return nil
}

// calibrate fits and checks a profile of a live target (none in sim mode).
func calibrate(ctx context.Context, res *capacity.Result, s *scenarios.Scenario, runner capacity.Runner, target string, seed uint64, stderr io.Writer) *profile.Profile {
	live, ok := runner.(*capacity.LiveRunner)
	if !ok || len(res.Steps) == 0 {
		return nil
	}
	capacity.ReadTarget(res, live.Snapshots)
	p, err := capacity.Calibrate(ctx, res, s, live.Snapshots, target, seed)
	if err != nil {
		fmt.Fprintf(stderr, "note: no calibrated profile: %v\n", err)
		return nil
	}
	res.ProfileFrom, res.ProfileNotes = p.Calibrated.From, p.Calibrated.Notes
	res.Calibration = capacity.Check(ctx, res, s, p, seed)
	return p
}

// config turns the flags into the search's configuration.
func (o capacityOptions) config(s *scenarios.Scenario) (capacity.Config, error) {
	// In the simulator the structure is the profile's, known: no steps to identify it.
	cfg := capacity.Config{Scenario: s, Seed: o.seed, Budget: o.budget, MinStep: o.minStep, Warmup: o.warmup, SweepStep: o.sweepStep, NoIdentify: o.sim,
		Sequential: !o.fullSteps}
	var err error
	if cfg.Start, err = rateFlag("--start", o.start); err != nil {
		return cfg, err
	}
	if cfg.Max, err = rateFlag("--max", o.max); err != nil {
		return cfg, err
	}
	p, err := scenarios.ParsePercent(o.precision)
	if err != nil || p <= 0 || p >= 1 {
		return cfg, fmt.Errorf("--precision %s: want a share within (0%%, 100%%), such as 5%%", o.precision)
	}
	cfg.Precision = float64(p)
	for _, x := range strings.Split(o.concurrency, ",") {
		if x = strings.TrimSpace(x); x == "" {
			continue
		}
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > 100_000 {
			return cfg, fmt.Errorf("--concurrency: %q is not a number of users (1 to 100000)", x)
		}
		cfg.Concurrency = append(cfg.Concurrency, n)
	}
	if o.sim && len(cfg.Concurrency) > 0 {
		return cfg, errors.New("--concurrency: the closed-loop sweep runs against a live target, not with --sim")
	}
	if o.sweepOnly && len(cfg.Concurrency) == 0 {
		return cfg, errors.New("--sweep-only: give the sweep's levels with --concurrency, such as 1,2,4,8,16,32")
	}
	return cfg, nil
}

// rateFlag reads arrivals/s: 20, 20/s or 1200/min (0 when not given).
func rateFlag(flag, v string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	if r, err := scenarios.ParseRate(v); err == nil && r > 0 {
		return float64(r), nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x <= 0 {
		return 0, fmt.Errorf("%s %s: want a positive rate in arrivals/s, such as 20 or 20/s", flag, v)
	}
	return x, nil
}

// runner is the search's runner: the simulator on a profile, or live
// against the target (the embedded reference server when none is given).
func (o *capacityOptions) runner(ctx context.Context, s *scenarios.Scenario, stderr io.Writer) (capacity.Runner, string, func(), error) {
	if o.sim {
		name := profileName(o.profile, s, o.scenario, "")
		if name == "" {
			return nil, "", nil, fmt.Errorf("%s: --sim needs a capacity profile: give --profile or target.profile", o.scenario)
		}
		p, err := profiles.Load(name)
		if err != nil {
			return nil, "", nil, err
		}
		if err := sim.Check(s, p); err != nil {
			return nil, "", nil, err
		}
		return &capacity.SimRunner{Profile: p}, "", func() {}, nil
	}
	cfg, stop, err := liveConfig(s, &o.runOptions) // the search sets each step's scenario, seed and drain
	if err != nil {
		return nil, "", nil, err
	}
	target := cfg.Target
	cfg.SampleMetrics, cfg.SendSlack = true, replay.DefaultSendSlack
	if o.metricsListen != "" || o.prometheusRW != "" {
		// Each step is a run of its own: its counters start again at zero,
		// which Prometheus's rate() reads as a reset.
		cfg.Live = &replay.Live{}
		stopMetrics, err := exportMetrics(ctx, o.runOptions, s.Name, cfg.Live, stderr)
		if err != nil {
			stop()
			return nil, "", nil, err
		}
		stopTarget := stop
		stop = func() { stopMetrics(); stopTarget() }
	}
	return &capacity.LiveRunner{Config: cfg}, target, stop, nil
}

// sweepOnly is surge capacity --sweep-only: the closed-loop sweep and its
// USL fit, without the knee search; usl.json in dir. A sweep that measured
// too few levels to fit exits 1 (the fit could not be made), saying why.
func sweepOnly(ctx context.Context, cfg capacity.Config, dir string, asJSON bool, stdout io.Writer) error {
	u, err := capacity.Sweep(ctx, cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(u, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "usl.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if asJSON {
		stdout.Write(append(b, '\n'))
	} else {
		reports.USLText(stdout, u)
		for _, p := range u.Points {
			fmt.Fprintf(stdout, "  %6.0f users in flight: %.4g ok/s\n", p.Load, p.Throughput)
		}
		fmt.Fprintf(stdout, "\nsweep directory: %s\n", dir)
	}
	if u.Lambda == 0 {
		return fmt.Errorf("no USL fit: %s", u.Note)
	}
	return nil
}

// watchedSearch is a capacity search as its live page draws it: the steps
// played so far on the capacity page, the knee not yet known.
type watchedSearch struct {
	s            *scenarios.Scenario
	mode, target string
	peak         float64

	mu    sync.Mutex
	steps []capacity.Step
}

func (w *watchedSearch) add(st capacity.Step) {
	w.mu.Lock()
	w.steps = append(w.steps, st)
	w.mu.Unlock()
}

func (w *watchedSearch) draw() ([]byte, string) {
	w.mu.Lock()
	c := reports.Capacity{Scenario: w.s.Name, Mode: w.mode, Target: w.target, Peak: w.peak, Steps: slices.Clone(w.steps), Ended: reports.Searching}
	w.mu.Unlock()
	var b bytes.Buffer
	if err := reports.CapacityHTMLLinked(&b, &c, w.s, uiScript); err != nil {
		return []byte(err.Error()), ""
	}
	return b.Bytes(), fmt.Sprintf("steps played: %d", len(c.Steps))
}
