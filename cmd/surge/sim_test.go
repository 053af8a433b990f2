package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/results"
)

// TestSimFirstDownload predicts the go-live lunch: the same story as the
// live replays (TestFirstDownloadAsBuiltVsFixed), in a fraction of a second.
func TestSimFirstDownload(t *testing.T) {
	for profile, want := range map[string]int{"as-built": 2, "fixed": 0} {
		dir := filepath.Join(t.TempDir(), "sim")
		code, out, errs := runSurge("sim", "../../scenarios/first-download.yaml", "--profile", profile, "--out", dir)
		if code != want || !strings.Contains(errs, "events/s") {
			t.Errorf("%s: exit %d, want %d\n%s\n%s", profile, code, want, out, errs)
		}
		r, err := results.ReadFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		issue, checkin := r.Endpoints["certificate.issue"].Total, r.Endpoints["checkin"].Total
		if r.Meta.Kind != "sim" || r.Meta.Profile != profile || len(r.Stages) == 0 {
			t.Errorf("%s: meta %+v, %d stage samples", profile, r.Meta, len(r.Stages))
		}
		if profile == "as-built" && (issue.ErrorRate() < 0.2 || checkin.ErrorRate() < 0.2 || r.RetryAmplification() < 1.5) {
			t.Errorf("as-built prediction: ISSUE errors %.2f, CHECKIN errors %.2f, amplification %.2f; want the collapse",
				issue.ErrorRate(), checkin.ErrorRate(), r.RetryAmplification())
		}
		// The go-live lunch on as-built stays down after its surge (the users
		// already there keep it full): the prediction says how far arrivals
		// must fall, in its results, its text and its page; fixed recovers.
		if rel := r.Meta.Relief; (rel != nil) != (profile == "as-built") || rel != nil && rel.Planned <= 0 {
			t.Errorf("%s: relief %+v", profile, rel)
		} else if rel != nil {
			page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
			if text := reports.ReliefText(rel); !strings.Contains(out, "recovery: "+text) || !strings.Contains(string(page), text) {
				t.Errorf("%s: the text or the page does not say %q:\n%s", profile, text, out)
			}
		}
		if profile == "fixed" && (issue.ErrorRate() > 0.01 || checkin.ErrorRate() > 0.01) {
			t.Errorf("fixed prediction: ISSUE errors %.3f, CHECKIN errors %.3f", issue.ErrorRate(), checkin.ErrorRate())
		}
		// the same seed gives the same prediction
		again := filepath.Join(t.TempDir(), "sim")
		runSurge("sim", "../../scenarios/first-download.yaml", "--profile", profile, "--out", again)
		r2, _ := results.ReadFile(again)
		if r2.Users != r.Users || r2.Overall().Attempted != r.Overall().Attempted {
			t.Errorf("%s: a second prediction with the same seed differs: %+v vs %+v", profile, r.Users, r2.Users)
		}
	}
	if code, _, errs := runSurge("sim", "../../scenarios/lunch.yaml", "--profile", "nope"); code != 1 || errs == "" {
		t.Errorf("unknown profile: exit %d", code)
	}
}

func TestPlanFirstDownload(t *testing.T) {
	code, out, errs := runSurge("plan", "../../scenarios/first-download.yaml")
	if code != 2 || !strings.Contains(out, "NO-GO anchor: needs 4 workers, has 1") || !strings.Contains(out, "NO-GO kdca:") ||
		!strings.Contains(errs, "NO-GO") {
		t.Errorf("as-built: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "recommended size: GO") {
		t.Errorf("the recommended sizes should pass in sim:\n%s", out)
	}
	code, out, _ = runSurge("plan", "../../scenarios/first-download.yaml", "--profile", "fixed", "--json")
	var v struct {
		Plan struct {
			Go     bool
			Stages []struct {
				Stage  string
				Needed int `json:"workers_needed"`
				Has    int `json:"workers"`
			}
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.Plan.Go || len(v.Plan.Stages) == 0 {
		t.Errorf("fixed: exit %d\n%s", code, out)
	}
	if code, _, errs := runSurge("plan", "../../scenarios/lunch.yaml", "--margin", "0.5"); code != 1 || !strings.Contains(errs, "margin") {
		t.Errorf("bad margin: exit %d %q", code, errs)
	}
}

// TestRecoveryOnTheShippedFaultScenarios predicts naver-degraded and
// bad-deploy on both profiles: every fault and surge end is followed by a
// recovery the report can state, and the numbers are sensible.
func TestRecoveryOnTheShippedFaultScenarios(t *testing.T) {
	// naver-degraded's lunch curve falls below half its peak after 12:45:
	// a surge end to recover from; bad-deploy's morning never does.
	for sc, want := range map[string]int{"naver-degraded": 2, "bad-deploy": 1} {
		for _, profile := range []string{"as-built", "fixed"} {
			dir := filepath.Join(t.TempDir(), "sim")
			runSurge("sim", "../../scenarios/"+sc+".yaml", "--profile", profile, "--out", dir, "--quiet")
			l, err := reports.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			recs := l.Verdict.Recoveries
			if len(recs) != want {
				t.Errorf("%s on %s: recoveries %+v, want %d (the fault's, and the surge end's where there is one)", sc, profile, recs, want)
			}
			for _, r := range recs {
				if !r.Recovered || r.After > 5*time.Minute {
					t.Errorf("%s on %s: %s: recovered %v after %v", sc, profile, r.Fault, r.Recovered, r.After)
				}
			}
		}
	}
}

// A run made with --scale and --compression re-renders (surge report) as
// it was written: its directory's scenario.yaml says the scale and
// compression it was played at, not the file's.
func TestReportRerendersAtTheScaleRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	if code, out, errs := runSurge("sim", "../../scenarios/lunch.yaml", "--scale", "0.05", "--compression", "60", "--out", dir, "--quiet"); code != 0 {
		t.Fatalf("sim: exit %d\n%s\n%s", code, out, errs)
	}
	before := map[string][]byte{}
	for _, f := range []string{reports.ReportHTML, reports.SummaryJSON, reports.SummaryText} {
		before[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	s, _ := os.ReadFile(filepath.Join(dir, reports.ScenarioFile))
	if !strings.Contains(string(s), "scale: 1/20 # as run (--scale); the file says 1/50") ||
		!strings.Contains(string(s), "factor: 60 # as run (--compression); the file says 30") {
		t.Errorf("scenario.yaml as run:\n%s", s)
	}
	if code, _, errs := runSurge("report", dir); code != 0 {
		t.Fatalf("report: exit %d %s", code, errs)
	}
	for f, b := range before {
		if after, _ := os.ReadFile(filepath.Join(dir, f)); string(after) != string(b) || len(b) == 0 {
			t.Errorf("%s re-rendered differs from the one the run wrote (%d bytes, then %d)", f, len(b), len(after))
		}
	}
}

// TestOneBottleneckForPlanAndSim: plan and sim name the same bottleneck
// for the 13 Dec go-live on as-built: the stage that saturates first.
func TestOneBottleneckForPlanAndSim(t *testing.T) {
	code, out, errs := runSurge("plan", "../../scenarios/first-download.yaml", "--json")
	var plan struct {
		Plan struct {
			Bottleneck struct{ Stage string }
		}
	}
	if err := json.Unmarshal([]byte(out), &plan); code != 2 || err != nil {
		t.Fatalf("plan: exit %d %v %s", code, err, errs)
	}
	dir := filepath.Join(t.TempDir(), "sim")
	code, out, errs = runSurge("sim", "../../scenarios/first-download.yaml", "--out", dir, "--json", "--quiet")
	var sim struct {
		Bottleneck struct{ Stage string }
	}
	if err := json.Unmarshal([]byte(out), &sim); code != 2 || err != nil {
		t.Fatalf("sim: exit %d %v %s", code, err, errs)
	}
	if plan.Plan.Bottleneck.Stage != "anchor" || sim.Bottleneck.Stage != "anchor" {
		t.Errorf("plan names %q, sim %q; want both anchor", plan.Plan.Bottleneck.Stage, sim.Bottleneck.Stage)
	}
}

// A profile file named by target.profile is found from the scenario's
// folder when relative, where it says when absolute; --profile is from the
// working directory.
func TestProfilePathsFromTheScenario(t *testing.T) {
	raw, err := os.ReadFile("../../scenarios/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prof, err := os.ReadFile("../../reference-server/profiles/fixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "profiles"), 0o755)
	os.WriteFile(filepath.Join(dir, "profiles", "mine.yaml"), prof, 0o644)
	abs := filepath.Join(t.TempDir(), "abs.yaml")
	os.WriteFile(abs, prof, 0o644)
	with := func(ref string) string {
		path := filepath.Join(dir, "s-"+filepath.Base(ref))
		os.WriteFile(path, []byte(strings.Replace(string(raw), "  profile: as-built\n", "  profile: "+ref+"\n", 1)), 0o644)
		return path
	}
	for _, ref := range []string{"profiles/mine.yaml", abs} {
		if code, out, errs := runSurge("sim", with(ref), "--out", filepath.Join(t.TempDir(), "r"), "--quiet"); code == 1 {
			t.Errorf("target.profile %s: exit 1\n%s%s", ref, out, errs)
		}
		if code, out, errs := runSurge("validate", with(ref)); code != 0 {
			t.Errorf("validate with target.profile %s: exit %d\n%s%s", ref, code, out, errs)
		}
	}
	if code, _, errs := runSurge("sim", with("profiles/none.yaml"), "--quiet"); code != 1 || !strings.Contains(errs, filepath.Join(dir, "profiles", "none.yaml")) {
		t.Errorf("a missing profile file: exit %d, %s (want it looked for in the scenario's folder)", code, errs)
	}
}
