package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/surgekit/surge/scenarios/promexport"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/chaos"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
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
	target, prof, stop, err := startTarget(s, &o)
	if err != nil {
		return err
	}
	defer stop()
	cfg := replay.Config{
		Scenario: s, Target: target, Seed: o.seed, MaxConns: o.maxConns, MaxUsers: o.maxUsers, SendSlack: o.sendSlack, Drain: o.drain,
		SampleMetrics: o.metrics || prof != nil, Progress: progress(stderr, o.quiet), AdminToken: o.adminToken,
		Meta: results.Meta{Scenario: s.Name}, Cut: cutOf(ctx),
		Shard: o.shard.index, Shards: o.shard.count, StartAt: o.shard.start,
	}
	if prof != nil {
		cfg.Meta.Profile, cfg.StageCalls = prof.Name, prof.Calls()
	}
	if err := clientSetup(s, o.scenario, &cfg); err != nil {
		return err
	}
	done, err := attach(ctx, o, s, target, &cfg, stderr)
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
func openRaw(o runOptions) (*replay.RawLog, func(), error) {
	f, err := os.Create(o.raw)
	if err != nil {
		return nil, nil, fmt.Errorf("--raw: %w", err)
	}
	l, err := replay.NewRawLog(f, firstNonEmpty(o.rawFormat, replay.RawFormatFor(o.raw)), o.rawMax)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--raw-format: %w", err)
	}
	return l, func() { f.Close() }, nil
}

// exportMetrics shows the run's figures to Prometheus both ways a team
// uses it: served on --metrics-listen (GET /metrics) and pushed to
// --prometheus-rw. stop pushes the final figures once more and keeps
// serving them for --metrics-linger, so the last scrape sees them, unless
// the run was interrupted.
func exportMetrics(ctx context.Context, o runOptions, scenario string, live *replay.Live, stderr io.Writer) (stop func(), err error) {
	run := time.Now().Format("20060102-150405") + "-" + scenario // as the default run directory is named
	if o.out != "" {
		run = filepath.Base(o.out)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(promexport.New(live.View, prometheus.Labels{"scenario": scenario, "run": run, "shard": strconv.Itoa(o.shard.index)}))
	var stops []func()
	if o.prometheusRW != "" {
		stopPush, err := pushMetrics(ctx, o, reg, stderr)
		if err != nil {
			return nil, err
		}
		stops = append(stops, stopPush)
	}
	if o.metricsListen != "" {
		stopServe, err := serveMetrics(ctx, o, reg, stderr)
		if err != nil {
			return nil, err
		}
		stops = append(stops, stopServe)
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}, nil
}

// serveMetrics serves reg on --metrics-listen until stop, which lingers.
func serveMetrics(ctx context.Context, o runOptions, reg *prometheus.Registry, stderr io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", o.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(stderr, "metrics: http://%s/metrics\n", ln.Addr())
	return func() {
		if o.metricsLinger > 0 && ctx.Err() == nil {
			fmt.Fprintf(stderr, "metrics: serving the final figures for %v\n", o.metricsLinger)
			select {
			case <-time.After(o.metricsLinger):
			case <-ctx.Done():
			}
		}
		srv.Close()
	}, nil
}

// pushMetrics writes reg to --prometheus-rw each --prometheus-rw-interval;
// stop writes the final figures (within 10 s) and reports a failure.
func pushMetrics(ctx context.Context, o runOptions, reg *prometheus.Registry, stderr io.Writer) (stop func(), err error) {
	rw, err := promexport.NewRemote(o.prometheusRW, reg, nil)
	if err != nil {
		return nil, fmt.Errorf("--prometheus-rw: %w", err)
	}
	fmt.Fprintf(stderr, "metrics: remote write to %s each %v\n", rw.Redacted(), o.prometheusRWEvery)
	pushCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rw.Every(pushCtx, o.prometheusRWEvery, func(err error) {
			if err != nil {
				fmt.Fprintf(stderr, "metrics: remote write failing: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "metrics: remote write recovered\n")
			}
		})
	}()
	return func() {
		cancel()
		<-done
		final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancelFinal()
		if err := rw.Push(final); err != nil {
			fmt.Fprintf(stderr, "metrics: the final remote write failed: %v\n", err)
		}
	}, nil
}
