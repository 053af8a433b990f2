package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios/results"
)

// TestImportVegetaAttack: a real vegeta attack on a loopback server (one
// request in five a 503), encoded by vegeta, becomes a run directory whose
// counts are the attack's; the scenario's gate judges it, and the report
// says its latency was not corrected for coordinated omission.
func TestImportVegetaAttack(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	resultsFile := filepath.Join(t.TempDir(), "results.bin")
	f, err := os.Create(resultsFile)
	if err != nil {
		t.Fatal(err)
	}
	enc := vegeta.NewEncoder(f)
	atk := vegeta.NewAttacker(vegeta.Workers(1), vegeta.MaxWorkers(1))
	attacked := 0
	for r := range atk.Attack(vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: srv.URL + "/hit"}), vegeta.Rate{Freq: 100, Per: time.Second}, time.Second, "hit") {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		attacked++
	}
	f.Close()
	scenario := filepath.Join(t.TempDir(), "hit.yaml")
	os.WriteFile(scenario, []byte(`name: hit
target: {url: "`+srv.URL+`"}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 100, profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /hit}}
journeys: {j: [{request: hit}]}
slo: [errors <= 25%, hit p99 <= 5s]
`), 0o644)
	dir := filepath.Join(t.TempDir(), "imported")
	code, out, errs := runSurge("import", "vegeta", resultsFile, "--scenario", scenario, "--out", dir)
	if code != 0 || !strings.Contains(out, "gate: GO") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	run, err := results.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	hit := run.Endpoints["hit"].Total
	if hit.Answered() != int64(attacked) || hit.Errors["shed"]+hit.Errors["5xx"] != int64(attacked/5) || run.Meta.Source != "vegeta" {
		t.Errorf("imported %d answers (%v errors) from %d attacked, source %q", hit.Answered(), hit.Errors, attacked, run.Meta.Source)
	}
	if page, _ := os.ReadFile(filepath.Join(dir, "report.html")); !strings.Contains(string(page), "coordinated-omission correction: imported from vegeta") {
		t.Error("the report does not say the latency is uncorrected")
	}
	os.WriteFile(scenario, []byte(strings.Replace(mustRead(t, scenario), "errors <= 25%", "errors <= 1%", 1)), 0o644)
	if code, out, _ := runSurge("import", "vegeta", resultsFile, "--scenario", scenario, "--out", filepath.Join(t.TempDir(), "no")); code != 2 || !strings.Contains(out, "FAIL  errors <= 1%") {
		t.Errorf("a gate the imported run breaks: exit %d\n%s", code, out)
	}
	if code, _, errs := runSurge("import", "vegeta", scenario, "--scenario", scenario); code != 1 || !strings.Contains(errs, "not vegeta results") {
		t.Errorf("a file that is not vegeta results: exit %d %s", code, errs)
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
