package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPredictionSaysWhereItLeavesTheEvidence: a prediction (sim, plan) on
// a calibrated profile says, in its text, its JSON and its page, when the
// scenario's peak is past the knee the calibration measured and past the
// highest rate it played, with the model's errors there; within its range
// it says nothing.
func TestPredictionSaysWhereItLeavesTheEvidence(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile.yaml")
	os.WriteFile(profile, []byte(`name: calibrated-mine
stages: {pool: {workers: 4, queue: 1000, service: "exp(20ms)"}}
routes: {hit: [{stage: pool}]}
calibrated:
  scenario: mine
  from: latencies and throughputs
  knee_arrivals_per_s: 150
  measured_up_to_arrivals_per_s: 190
  past_knee_p95_error: -0.6
  past_knee_error_share_gap: -0.04
`), 0o644)
	scenario := func(name string, peak int) string {
		path := filepath.Join(dir, name+".yaml")
		os.WriteFile(path, []byte(fmt.Sprintf(`name: mine
scale: 1
arrivals: {start: "12:00", bucket: 30s, total: %d, profile: [100%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: all, share: 100%%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour: {timeout: 2s}
slo: [hit p95 <= 5s]
`, peak*30)), 0o644)
		return path
	}
	over, within := scenario("over", 300), scenario("within", 100)
	_, out, _ := runSurge("sim", over, "--profile", profile, "--out", filepath.Join(dir, "run-over"), "--quiet")
	for _, want := range []string{
		"outside the model's evidence: the peak, 300 arrivals/s, is 2.00x the knee the calibration measured (150/s); past the knee the model's p95 was off by up to -60% and its error share by -4.0 points",
		"outside the model's evidence: the peak is past the highest rate measured (190/s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sim past the knee: the text lacks %q:\n%s", want, out)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "run-over", "report.html"))
	if err != nil || !strings.Contains(string(page), "Warning: outside the model&#39;s evidence: the peak, 300 arrivals/s, is 2.00x the knee") {
		t.Errorf("the page of a prediction past the knee does not warn (%v)", err)
	}
	_, out, _ = runSurge("sim", within, "--profile", profile, "--out", filepath.Join(dir, "run-within"), "--quiet")
	if strings.Contains(out, "outside the model") {
		t.Errorf("sim within the evidence warns:\n%s", out)
	}
	_, out, _ = runSurge("plan", over, "--profile", profile, "--json")
	if !strings.Contains(out, `"outside_the_evidence"`) || !strings.Contains(out, "2.00x the knee") {
		t.Errorf("plan --json past the knee does not say so:\n%s", out)
	}
}
