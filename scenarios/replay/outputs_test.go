package replay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/promexport"
	"github.com/surgekit/surge/scenarios/results/vegetafmt"
)

// BenchmarkOutputs: the engine's CPU per request (this process's: the
// generator and its loopback server) with no output besides results.json,
// with --raw (every answer as a vegeta result, gob, to a file), and with
// the Prometheus exporter scraped every second (--metrics-listen's
// collector, gathered as a scrape would). Each iteration plays all three,
// alternately, on one schedule (3,000 requests at 1,500/s); the ratios
// are against off.
func BenchmarkOutputs(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ok": true}`)) }))
	defer srv.Close()
	s, err := scenarios.Parse("t.yaml", []byte(fmt.Sprintf("name: t\nscale: 1\ntarget: {url: %q}\n"+
		"arrivals: {start: \"00:00\", bucket: 2s, total: 3000, profile: [100%%], process: uniform}\nplatforms: {web: 100%%}\n"+
		"cohorts: [{name: a, share: 100%%, journey: j}]\njourneys: {j: [{request: hit}]}\nrequests: {hit: {method: GET, path: '/u/${user}'}}\n", srv.URL)))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	variants := []func(*Config) func(){
		func(*Config) func() { return func() {} },
		func(c *Config) func() {
			f, _ := os.Create(filepath.Join(dir, "raw.bin"))
			c.Raw, _ = vegetafmt.NewLog(f, "gob", 1<<30)
			return func() { f.Close() }
		},
		func(c *Config) func() {
			c.Live = &Live{}
			reg := prometheus.NewRegistry()
			reg.MustRegister(promexport.New(c.Live.View, prometheus.Labels{"scenario": "t", "run": "r", "shard": "0"}))
			stop := make(chan struct{})
			go func() {
				for t := time.NewTicker(time.Second); ; {
					select {
					case <-t.C:
						reg.Gather()
					case <-stop:
						t.Stop()
						return
					}
				}
			}()
			return func() { close(stop) }
		},
	}
	var cpu [3]time.Duration
	var requests [3]int64
	for b.Loop() {
		for i, with := range variants {
			cfg := Config{Scenario: s, Target: srv.URL, Seed: 1, SendSlack: DefaultSendSlack}
			done := with(&cfg)
			before := cpuTime()
			run, err := Run(context.Background(), cfg)
			cpu[i] += cpuTime() - before
			done()
			if err != nil {
				b.Fatal(err)
			}
			requests[i] += run.Endpoints["hit"].Total.Succeeded
		}
	}
	per := func(i int) float64 { return float64(cpu[i].Microseconds()) / float64(max(requests[i], 1)) }
	b.ReportMetric(per(0), "off-cpu-µs/req")
	b.ReportMetric(per(1)/per(0), "raw/off")
	b.ReportMetric(per(2)/per(0), "metrics/off")
}
