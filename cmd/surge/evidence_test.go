package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
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

// TestPredictionPlaysItsBand: a prediction on a calibrated profile that
// says its capacity's uncertainty is played again at both ends of it; its
// JSON, text and page give each figure as predicted and at capacity -u and
// +u, and a slower service fails more. A profile that says no uncertainty
// has no band, and one out of range is refused naming its line.
func TestPredictionPlaysItsBand(t *testing.T) {
	dir := t.TempDir()
	prof := func(u string) string {
		path := filepath.Join(dir, "profile-"+u+".yaml")
		os.WriteFile(path, []byte(`name: calibrated-mine
stages: {pool: {workers: 4, queue: 100000, service: "exp(20ms)"}}
routes: {hit: [{stage: pool}]}
server: {abandoned: finish}
calibrated:
  scenario: mine
  knee_arrivals_per_s: 180
  capacity_uncertainty: `+u+"\n"), 0o644)
		return path
	}
	scenario := filepath.Join(dir, "mine.yaml")
	os.WriteFile(scenario, []byte(`name: mine
scale: 1
arrivals: {start: "12:00", bucket: 30s, total: 12600, profile: [25%, 50%, 25%], process: poisson}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour:
  timeout: 1s
  retry: {attempts: 2, backoff: "uniform(100ms, 300ms)", on: [timeout]}
slo: [hit p95 <= 500ms]
`), 0o644)
	out := filepath.Join(dir, "run")
	code, text, errs := runSurge("sim", scenario, "--profile", prof("0.1"), "--out", out, "--quiet")
	if code != 2 {
		t.Fatalf("exit %d, want 2 (NO-GO): %s", code, errs)
	}
	run, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	b := run.Meta.Band
	if b == nil || b.Uncertainty != 0.1 || b.Low.Capacity != 0.9 || b.High.Capacity != 1.1 {
		t.Fatalf("results.json's band %+v, want capacity 0.9 and 1.1", b)
	}
	pred, lo, hi := run.Endpoints["hit"].Total.ErrorRate(), b.Low.Endpoints["hit"].ErrorShare, b.High.Endpoints["hit"].ErrorShare
	if !(lo > pred && pred > hi) || b.Low.Abandoned < b.High.Abandoned {
		t.Errorf("error shares at -10%%, as predicted, at +10%%: %.3f, %.3f, %.3f; abandoned %d, %d: want a slower service failing more",
			lo, pred, hi, b.Low.Abandoned, b.High.Abandoned)
	}
	row := regexp.MustCompile(fmt.Sprintf(`hit errors +%s +%s +%s\n`, fmtPct(pred), fmtPct(lo), fmtPct(hi)))
	if !strings.Contains(text, "CAPACITY -10%  CAPACITY +10%") || !row.MatchString(text) {
		t.Errorf("the text lacks the band's heading or the row %q:\n%s", row, text)
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	cells := fmt.Sprintf("<tr><td>hit errors</td><td>%s</td><td>%s</td><td>%s</td></tr>", fmtPct(pred), fmtPct(lo), fmtPct(hi))
	if !strings.Contains(string(page), `<div id="band">`) || !strings.Contains(string(page), cells) {
		t.Errorf("the page lacks the band or its row %q", cells)
	}
	code, text, _ = runSurge("sim", scenario, "--profile", prof("0"), "--out", filepath.Join(dir, "run0"), "--quiet")
	if code != 2 || strings.Contains(text, "CAPACITY -") {
		t.Errorf("a profile without an uncertainty: exit %d, a band in its text:\n%s", code, text)
	}
	code, _, errs = runSurge("sim", scenario, "--profile", prof("1.5"), "--out", filepath.Join(dir, "run15"), "--quiet")
	if code != 1 || !strings.Contains(errs, "profile-1.5.yaml:8: calibrated.capacity_uncertainty") {
		t.Errorf("an uncertainty of 1.5: exit %d, %s", code, errs)
	}
}

// fmtPct is a share as the report writes it.
func fmtPct(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

// TestPlanSaysItsBand: surge plan on a calibrated profile that says how
// uncertain its capacity is plans again at the low end of it: a pool of 5
// is enough for 4.2 erlangs as calibrated (GO, the exit code's), but at
// capacity -20% the visits hold 25 ms and it needs 6 (said in the text and
// the JSON), and the scenario simulated there with 6 is GO.
func TestPlanSaysItsBand(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "profile.yaml")
	os.WriteFile(prof, []byte(`name: calibrated-mine
stages: {pool: {workers: 5, queue: 100000, service: "exp(20ms)"}}
routes: {hit: [{stage: pool}]}
calibrated: {scenario: mine, knee_arrivals_per_s: 250, capacity_uncertainty: 0.2}
`), 0o644)
	scenario := filepath.Join(dir, "mine.yaml")
	os.WriteFile(scenario, []byte(`name: mine
scale: 1
arrivals: {start: "12:00", bucket: 30s, total: 12600, profile: [25%, 50%, 25%], process: poisson}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour: {timeout: 1s}
slo: [hit p95 <= 500ms]
`), 0o644)
	code, text, errs := runSurge("plan", scenario, "--profile", prof, "--margin", "1")
	if code != 0 {
		t.Fatalf("exit %d, want 0 (GO as calibrated): %s", code, errs)
	}
	for _, want := range []string{
		"if the capacity is 20% lower (the calibration's uncertainty): NO-GO with the workers each stage has; it needs pool 6 (not 5)",
		"sim of the scenario at capacity -20% with every stage at the size it needs there: GO",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the plan's text lacks %q:\n%s", want, text)
		}
	}
	_, js, _ := runSurge("plan", scenario, "--profile", prof, "--margin", "1", "--json")
	var got struct {
		Plan  sim.PlanResult  `json:"plan"`
		Check reports.Verdict `json:"band_checked_by_sim"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	if b := got.Plan.Band; b == nil || b.Go || b.Needed["pool"] != 6 || got.Plan.Stages[0].Needed != 5 || !got.Check.Go {
		t.Errorf("the JSON's band %+v, nominal %+v, check %+v: want NO-GO needing 6 where 5 do as calibrated, and a GO check", b, got.Plan.Stages, got.Check)
	}
}
