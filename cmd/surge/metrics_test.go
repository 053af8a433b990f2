package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// freePort is a loopback port free now.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunMetricsInPrometheus: a real Prometheus on loopback scrapes surge
// run --metrics-listen each second and receives its --prometheus-rw pushes;
// after the run its HTTP API returns surge's series with the run's counts
// both ways (the final figures stay served for --metrics-linger, so the last
// scrape sees them; the last push is made at the end of the run).
func TestRunMetricsInPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded server and Prometheus for seconds")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("SURGE_REQUIRE_PROMETHEUS") != "" {
			t.Fatal("no prometheus binary, and SURGE_REQUIRE_PROMETHEUS is set")
		}
		t.Skip("no Prometheus on this machine: bash ci/install-prometheus.sh installs it (the CI does)")
	}
	surgeAddr := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: surge\n    static_configs: [{targets: [%q]}]\n", surgeAddr)), 0o644)
	// One Prometheus reads the classic histograms (and receives the pushes);
	// another, with native histograms on, scrapes surge's native buckets.
	api := startPrometheus(t, bin, cfg, filepath.Join(dir, "tsdb"), "--web.enable-remote-write-receiver")
	nativeAPI := startPrometheus(t, bin, cfg, filepath.Join(dir, "tsdb-native"), "--enable-feature=native-histograms")
	waitPrometheus(t, api)
	waitPrometheus(t, nativeAPI)
	out := filepath.Join(dir, "run")
	// A client-side fault fails some requests, so that the error series exist.
	scenario := filepath.Join(dir, "quick.yaml")
	os.WriteFile(scenario, []byte(writeScenarioText("checkin p99 <= 5s")+
		"faults: [{name: flaky, at: \"12:00:00\", for: 2s, kind: error, platform: naver, probability: 50%}]\n"), 0o644)
	code, stdout, errs := runSurge("run", scenario, "--out", out, "--quiet", "--metrics-listen", surgeAddr, "--metrics-linger", "4s",
		"--prometheus-rw", api+"/api/v1/write", "--prometheus-rw-interval", "1s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	// Queries are evaluated inside the linger, when the final figures were
	// scraped: once surge is gone, Prometheus marks its series stale.
	at, pushed := time.Now().Add(-1500*time.Millisecond), time.Now()
	if !strings.Contains(errs, "remote write to "+api+"/api/v1/write each 1s") || strings.Contains(errs, "remote write fail") {
		t.Errorf("stderr does not show clean pushes:\n%s", errs)
	}
	run, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		query string
		want  float64
	}{
		{`surge_succeeded_total{request="checkin",run="run"}`, float64(run.Endpoints["checkin"].Total.Succeeded)},
		{`sum(surge_errors_total{scenario="quick"})`, float64(run.Endpoints["qr"].Total.Failed() + run.Endpoints["checkin"].Total.Failed())},
		{`surge_offered_total{request="qr",scenario="quick"}`, float64(run.Endpoints["qr"].Total.Offered)},
		{`surge_latency_seconds_count{request="checkin"}`, float64(run.Endpoints["checkin"].Total.Latency.Count())},
		{`surge_latency_seconds_bucket{request="qr",le="+Inf"}`, float64(run.Endpoints["qr"].Total.Latency.Count())},
	} {
		if got := promQuery(t, api, byJob(q.query, `job="surge"`), at); len(got) != 1 || got[0] != q.want || q.want == 0 {
			t.Errorf("scraped: %s = %v in Prometheus, results.json has %v", q.query, got, q.want)
		}
		if got := promQuery(t, api, byJob(q.query, `job=""`), pushed); len(got) != 1 || got[0] != q.want {
			t.Errorf("remote write: %s = %v in Prometheus, results.json has %v", q.query, got, q.want)
		}
	}
	// The native histograms hold the run's latencies: every count, and the
	// median within the schema's 9% bucket of results.json's.
	for _, name := range []string{"qr", "checkin"} {
		h := run.Endpoints[name].Total.Latency
		q := fmt.Sprintf(`histogram_count(surge_latency_seconds{request=%q})`, name)
		if got := promQuery(t, nativeAPI, q, at); len(got) != 1 || got[0] != float64(h.Count()) {
			t.Errorf("native: %s = %v, results.json has %d", q, got, h.Count())
		}
		q = fmt.Sprintf(`histogram_quantile(0.5, surge_latency_seconds{request=%q})`, name)
		want := h.Percentile(50).Seconds()
		if got := promQuery(t, nativeAPI, q, at); len(got) != 1 || got[0] < want/1.1 || got[0] > want*1.1 {
			t.Errorf("native: %s = %v, results.json has %v", q, got, want)
		}
	}
	// The shipped Grafana dashboard's every query selects series of this run.
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "ci", "examples", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil || len(dash.Panels) == 0 {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			expr := strings.NewReplacer("$scenario", "quick", "$run", "run").Replace(tg.Expr)
			if got := promQuery(t, api, expr, at); len(got) == 0 {
				t.Errorf("dashboard panel %q: %s selects nothing", p.Title, expr)
			}
		}
	}
}

// startPrometheus starts Prometheus on a free loopback port with cfg; it is
// killed when the test ends. It returns the HTTP API's base URL.
func startPrometheus(t *testing.T, bin, cfg, tsdb string, flags ...string) string {
	addr := freePort(t)
	prom := exec.Command(bin, append([]string{"--config.file=" + cfg, "--web.listen-address=" + addr, "--storage.tsdb.path=" + tsdb}, flags...)...)
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })
	return "http://" + addr
}

// waitPrometheus waits until Prometheus is ready and scrapes surge's
// address (it hands new targets to its scrape loops up to 5 s after it
// starts).
func waitPrometheus(t *testing.T, api string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(api + "/-/ready"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not become ready in 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for len(promQuery(t, api, `up{job="surge"}`, time.Now())) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape surge's address in 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// byJob adds a matcher to a query's first selector: the scraped series
// have job="surge", the pushed ones no job.
func byJob(query, matcher string) string {
	return strings.Replace(query, "}", ","+matcher+"}", 1)
}

// promQuery is the values of an instant query at a time.
func promQuery(t *testing.T, api, query string, at time.Time) []float64 {
	t.Helper()
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	resp, err := http.Get(api + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Status != "success" {
		t.Errorf("%s: %s", query, out.Error)
	}
	var vs []float64
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		vs = append(vs, v)
	}
	return vs
}
