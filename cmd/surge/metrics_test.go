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
// run --metrics-listen each second; after the run its HTTP API returns
// surge's series with the run's counts (the final figures stay served for
// --metrics-linger, so the last scrape sees them).
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
	surgeAddr, promAddr := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: surge\n    static_configs: [{targets: [%q]}]\n", surgeAddr)), 0o644)
	prom := exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+promAddr, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"))
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prom.Process.Kill(); prom.Wait() }()
	api := "http://" + promAddr
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
	out := filepath.Join(dir, "run")
	code, stdout, errs := runSurge("run", writeScenario(t, "checkin p99 <= 5s"), "--out", out, "--quiet", "--metrics-listen", surgeAddr, "--metrics-linger", "3s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
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
		{`surge_offered_total{request="qr",scenario="quick"}`, float64(run.Endpoints["qr"].Total.Offered)},
		{`surge_latency_seconds_count{request="checkin"}`, float64(run.Endpoints["checkin"].Total.Latency.Count())},
		{`surge_latency_seconds_bucket{request="qr",le="+Inf"}`, float64(run.Endpoints["qr"].Total.Latency.Count())},
	} {
		if got := promQuery(t, api, q.query); got != q.want || q.want == 0 {
			t.Errorf("%s = %v in Prometheus, results.json has %v", q.query, got, q.want)
		}
	}
}

// promQuery is the value of an instant query that selects one series.
func promQuery(t *testing.T, api, query string) float64 {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Data.Result) != 1 {
		t.Errorf("%s: %d series, want 1", query, len(out.Data.Result))
		return -1
	}
	s, _ := out.Data.Result[0].Value[1].(string)
	v, _ := strconv.ParseFloat(s, 64)
	return v
}
