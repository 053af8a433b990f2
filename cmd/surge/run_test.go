package main

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// quick is a 3-second scenario of returning users against the embedded server.
const quick = `name: quick
target: {profile: as-built}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 30, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {kakao: 50%, naver: 50%}
cohorts: [{name: returning, share: 100%, journey: returning}]
journeys:
  returning:
    - request: qr
    - think: 100ms
    - request: checkin
slo:
  - %s
`

func writeScenario(t *testing.T, slo string) string {
	path := filepath.Join(t.TempDir(), "quick.yaml")
	os.WriteFile(path, []byte(writeScenarioText(slo)), 0o644)
	return path
}

func TestRunGoAndNoGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded server for seconds")
	}
	dir := filepath.Join(t.TempDir(), "run")
	junit := filepath.Join(t.TempDir(), "gate.xml")
	code, out, errs := runSurge("run", writeScenario(t, "checkin p99 <= 5s"), "--out", dir, "--junit", junit, "--quiet")
	if code != 0 || !strings.Contains(out, "gate: GO") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{"scenario.yaml", "results.json", "summary.txt", "summary.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	run, err := results.ReadFile(dir)
	if err != nil || run.Endpoints["checkin"].Total.Succeeded != 30 || len(run.Stages) == 0 {
		t.Errorf("results: %v; want 30 check-ins and stage samples", err)
	}
	if x, _ := os.ReadFile(junit); !strings.Contains(string(x), `failures="0"`) {
		t.Errorf("junit: %s", x)
	}

	code, out, errs = runSurge("run", writeScenario(t, "qr p99 <= 1us"), "--out", filepath.Join(t.TempDir(), "r2"), "--junit", junit, "--quiet")
	if code != 2 || !strings.Contains(out, "FAIL  qr p99 <= 1us") || !strings.Contains(errs, "NO-GO: qr p99 <= 1us (measured") {
		t.Errorf("impossible SLO: exit %d\n%s\n%s", code, out, errs)
	}
	if x, _ := os.ReadFile(junit); !strings.Contains(string(x), `failures="1"`) || !strings.Contains(string(x), "limit 1us") {
		t.Errorf("junit: %s", x)
	}
}

func TestRunCouldNotRun(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nscale: 5\n"), 0o644)
	for name, args := range map[string][]string{
		"missing file":    {"run", "/no/such.yaml"},
		"invalid":         {"run", bad},
		"unreachable":     {"run", writeScenario(t, "errors <= 1%"), "--target", closed, "--out", t.TempDir()},
		"unknown profile": {"run", writeScenario(t, "errors <= 1%"), "--profile", "as-bulit"},
	} {
		start := time.Now()
		code, _, errs := runSurge(args...)
		if code != 1 || errs == "" || time.Since(start) > 10*time.Second {
			t.Errorf("%s: exit %d after %v, stderr %q", name, code, time.Since(start), errs)
		}
	}
}

func TestRunInterruptedStillWritesTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded server for seconds")
	}
	long := strings.Replace(writeScenarioText("errors <= 1%"), "bucket: 1s", "bucket: 20s", 1)
	path := filepath.Join(t.TempDir(), "long.yaml")
	os.WriteFile(path, []byte(long), 0o644)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := execute(ctx, []string{"run", path, "--out", dir, "--quiet", "--drain", "2s"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	run, err := results.ReadFile(dir)
	if err != nil || run.Meta.Complete || run.Meta.Ended != "interrupted" || run.Users.Arrived == 0 {
		t.Errorf("interrupted run directory: %v %+v", err, run.Meta)
	}
}

func writeScenarioText(slo string) string { return strings.Replace(quick, "%s", slo, 1) }

func TestReportRerendersARunDirectory(t *testing.T) {
	dir := t.TempDir()
	run := results.New(results.Meta{Scenario: "quick", Kind: "run", Ended: "interrupted"})
	run.Record("qr", results.Outcome{Corrected: time.Millisecond, First: true})
	run.Count(0, results.Users{Arrived: 1, Completed: 1})
	if err := run.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(writeScenarioText("qr p99 <= 1s")), 0o644)
	code, out, errs := runSurge("report", dir, "--format", "text")
	if code != 0 || !strings.Contains(out, "PASS  qr p99 <= 1s") || !strings.Contains(errs, "did not complete (interrupted)") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, _ := runSurge("report", dir); code != 0 {
		t.Errorf("html: exit %d", code)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "report.html")); !strings.Contains(string(b), "<!DOCTYPE html>") {
		t.Error("no report.html written")
	}
	os.WriteFile(filepath.Join(dir, "results.json"), []byte(`{"format": "surge-results", "version": 1, "endpoints": {"qr": {}}}`), 0o644)
	if code, _, errs := runSurge("report", dir); code != 1 || !strings.Contains(errs, "not a surge results file") {
		t.Errorf("corrupt: exit %d %q", code, errs)
	}
}

// TestFaultOnTheTimelineLiveAndPredicted: an outage of the certificate API
// (kdca) from 12:00:02 for 2 s fails the fetch-proof QR path in those
// seconds only, in a live run against the embedded server and in sim.
func TestFaultOnTheTimelineLiveAndPredicted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded server for seconds")
	}
	src := `name: blip
target: {profile: as-built}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 60, profile: [16.6%, 16.7%, 16.7%, 16.7%, 16.7%, 16.6%], process: uniform}
platforms: {naver: 100%}
cohorts: [{name: returning, share: 100%, journey: returning}]
journeys: {returning: [{request: qr}]}
faults: [{name: kdca-down, at: "12:00:02", for: 2s, kind: outage, stage: kdca}]
slo: [errors <= 1%]
`
	path := filepath.Join(t.TempDir(), "blip.yaml")
	os.WriteFile(path, []byte(src), 0o644)
	for _, cmd := range []string{"run", "sim"} {
		dir := filepath.Join(t.TempDir(), cmd)
		code, out, errs := runSurge(cmd, path, "--out", dir, "--quiet")
		run, err := results.ReadFile(dir)
		if err != nil || code != 2 {
			t.Fatalf("%s: exit %d (want 2: the outage fails the gate), %v\n%s\n%s", cmd, code, err, out, errs)
		}
		b := run.Endpoints["qr"].Buckets
		for i, s := range b {
			if s == nil {
				continue
			}
			inWindow := i == 2 || i == 3
			if inWindow && s.Errors["shed"] != s.Attempted || !inWindow && s.Failed() != 0 {
				t.Errorf("%s: second %d: %d of %d failed (outage in seconds 2-3 only)", cmd, i, s.Failed(), s.Attempted)
			}
		}
		if !strings.Contains(out, "fault-on kdca-down: outage on kdca") || !strings.Contains(out, "fault-off kdca-down") {
			t.Errorf("%s: the summary does not show the fault events:\n%s", cmd, out)
		}
	}
	bad := strings.Replace(src, "stage: kdca}", "stage: mainframe}", 1)
	os.WriteFile(path, []byte(bad), 0o644)
	if code, _, errs := runSurge("run", path, "--out", t.TempDir()); code != 1 || !strings.Contains(errs, `blip.yaml:8: faults[0].stage: profile as-built has no stage "mainframe"`) {
		t.Errorf("unknown stage: exit %d %q", code, errs)
	}
}

func TestRunThroughTheChaosProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("a 4 s run through a proxy")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	faults := filepath.Join(dir, "faults.yaml")
	os.WriteFile(faults, []byte("faults:\n  - {name: flaky, kind: error, status: 500, probability: 30%}\n"), 0o644)
	proxyDone := make(chan string)
	go func() {
		var out, errb strings.Builder
		execute(context.Background(), []string{"chaos", "proxy", "--listen", addr, "--to", upstream.URL, "--faults", faults, "--duration", "8s"}, &out, &errb)
		proxyDone <- out.String() + errb.String()
	}()
	for i := 0; i < 100; i++ { // wait for the proxy to listen
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	scenario := filepath.Join(dir, "s.yaml")
	os.WriteFile(scenario, []byte(`name: through
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 1000, profile: [25%, 25%, 25%, 25%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
slo: [errors <= 50%]
`), 0o644)
	runDir := filepath.Join(dir, "run")
	code, out, errs := runSurge("run", scenario, "--target", "http://"+addr, "--out", runDir, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	r, err := results.ReadFile(runDir)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Endpoints["hit"].Total
	share := float64(s.Errors["5xx"]) / float64(s.Attempted)
	if sd := math.Sqrt(0.3 * 0.7 / float64(s.Attempted)); s.Attempted != 1000 || math.Abs(share-0.3) > 4*sd {
		t.Errorf("%d attempts, %.3f failed through the proxy, want 30%% (+- %.3f)", s.Attempted, share, 4*sd)
	}
	if log := <-proxyDone; !strings.Contains(log, "flaky 1000") {
		t.Errorf("proxy log: %s", log)
	}
}

// TestRunViaProxy: a scenario against a plain service with target.via:
// proxy gets its fault from surge's own chaos proxy, in its window only.
func TestRunViaProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s run")
	}
	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer upstream.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "via.yaml")
	os.WriteFile(path, []byte(`name: via
target: {url: `+upstream.URL+`, via: proxy}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 90, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
faults: [{name: down, at: "12:00:01", for: 1s, kind: outage, stage: "*"}]
slo: [errors <= 50%]
`), 0o644)
	runDir := filepath.Join(dir, "run")
	code, out, errs := runSurge("run", path, "--out", runDir, "--quiet")
	r, err := results.ReadFile(runDir)
	if code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	b := r.Endpoints["hit"].Buckets
	if b[0].Failed() != 0 || b[2].Failed() != 0 || b[1].Errors["shed"] != b[1].Attempted {
		t.Errorf("errors per second %v %v %v: want the outage in second 1 only", b[0].Errors, b[1].Errors, b[2].Errors)
	}
	if int(hits.Load()) != 90-int(b[1].Errors["shed"]) {
		t.Errorf("the service saw %d requests; the proxy should have kept the %d failed ones from it", hits.Load(), b[1].Errors["shed"])
	}
	bad := strings.Replace(string(must(os.ReadFile(path))), `stage: "*"`, `stage: kdca`, 1)
	os.WriteFile(path, []byte(bad), 0o644)
	if code, _, errs := runSurge("validate", path); code != 1 {
		t.Errorf("a stage through the proxy: exit %d %q", code, errs)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestReportAgainstBaselineAndPrediction: `surge report RUN --baseline B
// --prediction P` puts both comparisons in the JSON summary (the golden
// fixture's baseline is faster: regressions), and a bad comparison
// directory is exit 1 naming the flag.
func TestReportAgainstBaselineAndPrediction(t *testing.T) {
	golden := "../../reports/testdata/golden/"
	run := filepath.Join(t.TempDir(), "run")
	os.MkdirAll(run, 0o755)
	for _, f := range []string{"results.json", "scenario.yaml"} {
		b, err := os.ReadFile(golden + "run/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(run, f), b, 0o644)
	}
	code, out, errs := runSurge("report", run, "--baseline", golden+"baseline", "--prediction", golden+"prediction", "--format", "json")
	var sum struct {
		Baseline   struct{ Regressions int }
		Prediction struct {
			Kind    string
			Metrics []struct{ Metric string }
			Curves  []struct{ Windows int }
		}
		Bottleneck struct{ Stage string }
	}
	if err := json.Unmarshal([]byte(out), &sum); code != 2 || err != nil { // the golden run is NO-GO
		t.Fatalf("exit %d (want 2: the run's verdict) %v\n%s", code, errs, out)
	}
	if sum.Baseline.Regressions == 0 || sum.Prediction.Kind != "sim" || len(sum.Prediction.Metrics) == 0 ||
		len(sum.Prediction.Curves) == 0 || sum.Prediction.Curves[0].Windows == 0 || sum.Bottleneck.Stage != "kdca" {
		t.Errorf("summary %+v", sum)
	}
	if code, out, _ := runSurge("report", run, "--baseline", golden+"baseline", "-o", filepath.Join(run, "r.html")); code != 2 ||
		!strings.Contains(out, "r.html") {
		t.Errorf("html with baseline: exit %d", code)
	}
	code, _, errs = runSurge("report", run, "--prediction", filepath.Join(t.TempDir(), "nothing"))
	if code != 1 || !strings.Contains(errs, "--prediction") {
		t.Errorf("missing prediction directory: exit %d %q", code, errs)
	}
}

// TestCtrlCCutsTheDrain sends real SIGINTs to this process: the first one
// during the drain cuts it at once; during the arrivals, the first stops
// them and the second cuts the drain. Each time the run directory is
// written while the target still holds every request (none was answered).
func TestCtrlCCutsTheDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("sends signals and waits for seconds")
	}
	release := make(chan struct{})
	var answered, arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select { // hold the request: its user stays in its journey
		case <-release:
			answered.Add(1)
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	scenario := func(bucket string) string {
		path := filepath.Join(t.TempDir(), "hold.yaml")
		os.WriteFile(path, []byte(`name: hold
target: {url: `+srv.URL+`}
scale: 1
arrivals: {start: "12:00", bucket: `+bucket+`, total: 4, profile: [100%], process: uniform}
platforms: {web: 100%}
requests: {hit: {method: GET, path: /hit}}
cohorts: [{name: all, share: 100%, journey: j}]
journeys: {j: [{request: hit, timeout: 2m}]}
slo: [errors <= 100%]
`), 0o644)
		return path
	}
	for _, c := range []struct {
		name, bucket string
		signals      int
	}{{"once, during the drain", "1s", 1}, {"twice, during the arrivals", "30s", 2}} {
		t.Run(c.name, func(t *testing.T) {
			arrived.Store(0)
			ctx, stop := interrupts(context.Background())
			defer stop()
			dir := filepath.Join(t.TempDir(), "run")
			done := make(chan int, 1)
			var out, errb strings.Builder
			go func() {
				done <- execute(ctx, []string{"run", scenario(c.bucket), "--out", dir, "--quiet", "--drain", "10m"}, &out, &errb)
			}()
			await := func(n int64) { // until n users hold a request, or the run ended early
				for deadline := time.Now().Add(30 * time.Second); arrived.Load() < n; time.Sleep(10 * time.Millisecond) {
					select {
					case code := <-done:
						t.Fatalf("the run ended (exit %d) before %d requests arrived: %s", code, n, errb.String())
					default:
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d of %d requests arrived in 30 s", arrived.Load(), n)
					}
				}
			}
			await(1)
			if c.signals == 1 {
				await(4) // all arrived: the drain has begun
				time.Sleep(200 * time.Millisecond)
			}
			for range c.signals {
				syscall.Kill(os.Getpid(), syscall.SIGINT)
				time.Sleep(100 * time.Millisecond)
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(time.Minute): // the drain is 10 minutes: a minute means it was not cut
				t.Fatalf("the run went on after %d interrupt(s)", c.signals)
			}
			if answered.Load() != 0 {
				t.Fatalf("%d requests answered: the drain ended by itself", answered.Load())
			}
			run, err := results.ReadFile(dir)
			if err != nil {
				t.Fatalf("exit %d: no run directory: %v (%s)", code, err, errb.String())
			}
			cut := false
			for _, ev := range run.Events {
				cut = cut || ev.Kind == "cut" && strings.Contains(ev.Detail, "drain cut by an interrupt")
			}
			if code != 1 || run.Meta.Ended != "interrupted" || run.Meta.Complete || !cut {
				t.Errorf("exit %d, ended %q complete %v, cut event %v; want 1, interrupted, the drain cut (%s)", code, run.Meta.Ended, run.Meta.Complete, cut, errb.String())
			}
		})
	}
}
