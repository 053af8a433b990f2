package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/chaos"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/promexport"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/results/vegetafmt"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim"
)

type runOptions struct {
	scenario, out, target, profile, junit string
	raw, rawFormat                        string // --raw: vegeta results of every answer
	rawMax                                int64
	metricsListen                         string        // --metrics-listen: a Prometheus scrape endpoint
	metricsLinger                         time.Duration // how long it serves the final figures
	prometheusRW                          string        // --prometheus-rw: a remote-write receiver's URL
	prometheusRWEvery                     time.Duration // how often the figures are pushed there
	adminToken                            string        // the target's admin token (faults, credentials); never recorded
	compression                           float64
	drain                                 time.Duration
	maxConns, maxUsers                    int
	sendSlack                             time.Duration
	metrics, quiet, json                  bool
	seed                                  uint64
	shard                                 shardOptions // --shard, --shards, --start-at, --start-in
	ui                                    uiOptions    // --ui and its kin: the live page
}

// loadScenario reads the scenario file and applies --compression.
func loadScenario(o runOptions) ([]byte, *scenarios.Scenario, error) {
	raw, err := spec.ReadFile(o.scenario, spec.MaxDocument)
	if err != nil {
		return nil, nil, err
	}
	s, err := scenarios.Parse(o.scenario, raw)
	if err != nil {
		return nil, nil, err
	}
	if o.compression > 0 {
		if s.Compression == nil {
			s.Compression = &scenarios.Compression{}
		}
		s.Compression.Factor = o.compression
	}
	return raw, s, nil
}

// runScenario is `surge run`: load, start the target, replay, write, judge.
func runScenario(ctx context.Context, o runOptions, stdout, stderr io.Writer) error {
	raw, s, err := loadScenario(o)
	if err != nil {
		return err
	}
	if o.shard.count > 1 && o.target == "" && s.Target.URL == "" {
		return fmt.Errorf("--shard: the shards of a run share one target: give --target or the scenario's target.url (each shard would start its own embedded server)")
	}
	if o.out == "" { // named now: the metrics' run label and the live page are the directory's
		o.out = defaultRunDir(s, o.shard.suffix())
	}
	cfg, stop, err := liveConfig(s, &o)
	if err != nil {
		return err
	}
	defer stop()
	cfg.Progress, cfg.Cut = progress(stderr, o.quiet), cutOf(ctx)
	cfg.Shard, cfg.Shards, cfg.StartAt = o.shard.index, o.shard.count, o.shard.start
	done, err := attach(ctx, o, s, cfg.Target, &cfg, stderr)
	if err != nil {
		return err
	}
	defer done()
	ui, err := startUIFor(&o, s, &cfg, stderr)
	if err != nil {
		return err
	}
	run, err := replay.Run(ctx, cfg)
	if err != nil {
		return err
	}
	err = conclude(o, raw, s, run, o.shard.suffix(), stdout)
	if ui != nil {
		ui.finish(filepath.Join(o.out, reports.ReportHTML))
		ui.stop(ctx, o.ui.linger, stderr)
	}
	return err
}

// liveConfig is the replay configuration of a live run or capacity
// search, from the flags and the scenario: the target (o.target, the
// scenario's, or the embedded reference server started on loopback, with
// its profile's stage calls and stage metrics), the connection and user
// bounds, and what the scenario's client needs from its folder (data,
// certificates, .proto files). stop shuts an embedded target down.
func liveConfig(s *scenarios.Scenario, o *runOptions) (replay.Config, func(), error) {
	target, prof, stop, err := startTarget(s, o)
	if err != nil {
		return replay.Config{}, nil, err
	}
	cfg := replay.Config{
		Scenario: s, Target: target, Seed: o.seed, MaxConns: o.maxConns, MaxUsers: o.maxUsers, SendSlack: o.sendSlack, Drain: o.drain,
		SampleMetrics: o.metrics || prof != nil, AdminToken: o.adminToken, Meta: results.Meta{Scenario: s.Name},
	}
	if prof != nil {
		cfg.Meta.Profile, cfg.StageCalls = prof.Name, prof.Calls()
	}
	if err := clientSetup(s, o.scenario, &cfg); err != nil {
		stop()
		return replay.Config{}, nil, err
	}
	return cfg, stop, nil
}

// attach gives the run what its flags ask besides the load: Prometheus
// (--metrics-listen, --prometheus-rw), the raw results (--raw), the chaos
// proxy (target.via); done closes them.
func attach(ctx context.Context, o runOptions, s *scenarios.Scenario, target string, cfg *replay.Config, stderr io.Writer) (done func(), err error) {
	var closers []func()
	done = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if o.metricsListen != "" || o.prometheusRW != "" {
		live := &replay.Live{}
		stopMetrics, err := exportMetrics(ctx, o, s.Name, live, stderr)
		if err != nil {
			return done, err
		}
		closers = append(closers, stopMetrics)
		cfg.Live = live
	}
	if o.raw != "" {
		raw, closeRaw, err := openRaw(o)
		if err != nil {
			done()
			return func() {}, err
		}
		closers = append(closers, closeRaw)
		cfg.Raw = raw
	}
	if s.Target.Via == scenarios.ViaProxy && o.target == "" {
		proxyURL, faults, stopProxy, err := startProxy(ctx, target, cfg.Protocol, cfg.TLS, o.seed)
		if err != nil {
			done()
			return func() {}, err
		}
		closers = append(closers, stopProxy)
		cfg.Target, cfg.Faults = proxyURL, faults
	}
	return done, nil
}

// startUIFor starts the live page when --ui or --ui-listen asks for it
// (nil otherwise); the run's directory is settled now, since the page
// becomes its report.html.
func startUIFor(o *runOptions, s *scenarios.Scenario, cfg *replay.Config, stderr io.Writer) (*liveUI, error) {
	if !o.ui.wanted() {
		return nil, nil
	}
	if o.out == "" {
		o.out = defaultRunDir(s, o.shard.suffix())
	}
	if cfg.Live == nil {
		cfg.Live = &replay.Live{}
	}
	return startUI(o.ui, s.Name, runDrawing(s, cfg.Live), stderr)
}

// conclude writes the run directory (and JUnit), prints the summary and
// returns the verdict as the command's error: shared by run and sim.
func conclude(o runOptions, raw []byte, s *scenarios.Scenario, run *results.Run, suffix string, stdout io.Writer) error {
	dir := o.out
	if dir == "" {
		dir = defaultRunDir(s, suffix)
	}
	rep := reports.New(s, run)
	v := rep.Verdict
	asRun, err := scenarios.AsRun(o.scenario, raw, s)
	if err != nil {
		return err
	}
	rep = rep.WithScenario(asRun) // (the run as the engine left it stays unchanged: its live views may be reading it)
	if err := reports.WriteDir(dir, asRun, rep); err != nil {
		return err
	}
	if o.junit != "" {
		if err := writeJUnit(o.junit, run, v); err != nil {
			return err
		}
	}
	if o.json {
		reports.JSON(stdout, rep)
	} else {
		reports.Text(stdout, rep)
		fmt.Fprintf(stdout, "\nrun directory: %s (report: %s)\n", dir, filepath.Join(dir, reports.ReportHTML))
	}
	if run.Meta.Ended == "interrupted" {
		return fmt.Errorf("interrupted: the partial run is in %s", dir)
	}
	if m := run.Meta; m.Shards > 1 && len(m.Parts) == 0 {
		fmt.Fprintf(stdout, "%s: its gate is judged on the whole run by surge merge (this shard's share alone says %s)\n", m.Sharding(), v.Word())
		return nil
	}
	return v.Err()
}

// runsDir is where a run directory goes when --out is not given.
var runsDir = "runs"

// defaultRunDir is a run's directory when --out is not given:
// runs/<time>-<scenario>[-shard-i].
func defaultRunDir(s *scenarios.Scenario, suffix string) string {
	return filepath.Join(runsDir, time.Now().Format("20060102-150405")+"-"+s.Name+suffix)
}

// startTarget returns the target URL: the scenario's (or --target), else an
// embedded reference server on loopback (with its profile, and a random
// admin token the run is given, o's), which stop shuts down.
func startTarget(s *scenarios.Scenario, o *runOptions) (url string, prof *profile.Profile, stop func(), err error) {
	if url = firstNonEmpty(o.target, s.Target.URL); url != "" {
		o.adminToken = adminToken(o.adminToken)
		return strings.TrimSuffix(url, "/"), nil, func() {}, nil
	}
	name := profileName(o.profile, s, o.scenario, "as-built")
	p, err := profiles.Load(name)
	if err != nil {
		return "", nil, nil, err
	}
	if err := sim.Check(s, p); err != nil { // routes and fault stages exist before any traffic
		return "", nil, nil, err
	}
	o.adminToken = refserver.NewAdminToken()
	srv, err := refserver.Start(refserver.Config{Profile: p, Seed: o.seed, AdminToken: o.adminToken, Logger: slog.New(slog.DiscardHandler)}, "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	url = srv.URL
	if s.Target.Protocol == replay.ProtocolH2 { // the embedded server speaks h2c on its port too
		url = "h2c://" + strings.TrimPrefix(url, "http://")
	}
	return url, p, func() { srv.Close() }, nil
}

// startProxy puts surge's chaos proxy on loopback in front of target. The
// load speaks to it what it would speak to the target: a target that speaks
// HTTP/2 (h2c://, or https:// by ALPN or pinned) is reached through an
// h2c:// proxy URL.
func startProxy(ctx context.Context, target, protocol string, conf *tls.Config, seed uint64) (string, replay.FaultSwitch, func(), error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", nil, nil, err
	}
	p, err := chaos.NewProxy(u, nil, seed, nil)
	if err != nil {
		return "", nil, nil, err
	}
	proxyURL, stop, err := serveLoopback(p)
	if err != nil {
		return "", nil, nil, err
	}
	if replay.SpeaksH2(ctx, target, protocol, conf) {
		proxyURL = "h2c://" + strings.TrimPrefix(proxyURL, "http://")
	}
	return proxyURL, replay.ProxyFaults{Proxy: p}, stop, nil
}

// serveLoopback serves h on a free loopback port, with the reference
// server's edge and limits, until stop.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := refserver.Listen("127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); refserver.Serve(ctx, refserver.HTTPServer(h), ln, 5*time.Second) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// progress prints a status line a second: rewritten in place on a
// terminal, a plain line every 5 s otherwise (CI logs).
func progress(w io.Writer, quiet bool) func(replay.Progress) {
	if quiet {
		return nil
	}
	tty := isTerminal(w)
	return func(p replay.Progress) {
		sec := int(p.Elapsed.Seconds())
		if !tty && !p.Done && sec%5 != 0 {
			return
		}
		clock := fmt.Sprintf("%v / %v", p.Elapsed.Round(time.Second), p.Planned.Round(time.Second))
		if p.Draining {
			clock += " (arrivals over: draining the users still in their journey)"
		}
		line := fmt.Sprintf("%s  arrivals %.1f/s  answers %.0f/s  p99 %v  errors %.1f%%  users %d  late %v",
			clock, p.Arrivals, p.Answers, p.P99.Round(time.Millisecond), 100*p.Errors, p.Active, p.MaxLate.Round(time.Millisecond))
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Done {
				fmt.Fprintln(w)
			}
			return
		}
		fmt.Fprintln(w, line)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeJUnit(path string, run *results.Run, v reports.Verdict) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(reports.JUnit(f, run, v), f.Close())
}

// openRaw creates the --raw file and its vegeta encoder.
func openRaw(o runOptions) (*vegetafmt.Log, func(), error) {
	f, err := os.Create(o.raw)
	if err != nil {
		return nil, nil, fmt.Errorf("--raw: %w", err)
	}
	l, err := vegetafmt.NewLog(f, firstNonEmpty(o.rawFormat, vegetafmt.FormatFor(o.raw)), o.rawMax)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--raw-format: %w", err)
	}
	return l, func() { f.Close() }, nil
}

// exportMetrics shows the run's figures to Prometheus as the flags ask
// (promexport.Export: --metrics-listen, --prometheus-rw), labelled with the
// run directory's name.
func exportMetrics(ctx context.Context, o runOptions, scenario string, live *replay.Live, stderr io.Writer) (stop func(), err error) {
	run := time.Now().Format("20060102-150405") + "-" + scenario // as the default run directory is named
	if o.out != "" {
		run = filepath.Base(o.out)
	}
	x := promexport.Export{Listen: o.metricsListen, Linger: o.metricsLinger, RemoteWrite: o.prometheusRW, Every: o.prometheusRWEvery,
		Labels: prometheus.Labels{"scenario": scenario, "run": run, "shard": strconv.Itoa(o.shard.index)}, Log: stderr}
	return x.Start(ctx, live.View)
}
