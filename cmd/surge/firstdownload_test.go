package main

import (
	"path/filepath"
	"testing"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/results"
)

// TestFirstDownloadAsBuiltVsFixed replays the 13 Dec go-live lunch (at 120x
// compression: 90 s of arrivals at the real 1/50-scale rates) against both
// shipped profiles: as-built must collapse the way the real system did,
// fixed must not.
func TestFirstDownloadAsBuiltVsFixed(t *testing.T) {
	if testing.Short() {
		t.Skip("two minute-long replays")
	}
	t.Parallel()
	for _, c := range []struct {
		profile string
		check   func(t *testing.T, r *results.Run, code int)
	}{
		{"as-built", func(t *testing.T, r *results.Run, code int) {
			issue, checkin := r.Endpoints["certificate.issue"].Total, r.Endpoints["checkin"].Total
			if code != 2 {
				t.Errorf("exit %d, want 2 (NO-GO)", code)
			}
			if issue.ErrorRate() < 0.10 {
				t.Errorf("ISSUE error rate %.2f: the anchor is 2.9x overloaded, want failures", issue.ErrorRate())
			}
			if checkin.ErrorRate() < 0.10 {
				t.Errorf("CHECKIN error rate %.2f: it shares kdca with ISSUE, want it to fail too", checkin.ErrorRate())
			}
			if amp := r.RetryAmplification(); amp < 1.5 {
				t.Errorf("retry amplification %.2f, want > 1.5", amp)
			}
		}},
		{"fixed", func(t *testing.T, r *results.Run, code int) {
			for _, name := range []string{"certificate.issue", "qr", "checkin"} {
				if e := r.Endpoints[name].Total; e.ErrorRate() > 0.01 {
					t.Errorf("%s error rate %.3f under fixed, want < 1%%", name, e.ErrorRate())
				}
			}
			if amp := r.RetryAmplification(); amp > 1.1 {
				t.Errorf("retry amplification %.2f under fixed", amp)
			}
		}},
	} {
		t.Run(c.profile, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "run")
			code, out, errs := runSurge("run", "../../scenarios/first-download.yaml", "--profile", c.profile,
				"--compression", "120", "--drain", "30s", "--out", dir, "--quiet")
			r, err := results.ReadFile(dir)
			if err != nil {
				t.Fatalf("exit %d: %v\n%s", code, err, errs)
			}
			t.Logf("%s\n%s", out, errs)
			c.check(t, r, code)
			checkStageFigures(t, dir, c.profile)
		})
	}
}

func TestSmokeScenarioPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("a 20 s replay")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errs := runSurge("run", "../../scenarios/smoke.yaml", "--out", dir, "--quiet")
	if code != 0 {
		t.Fatalf("smoke: exit %d\n%s\n%s", code, out, errs)
	}
	r, err := results.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"identity.request", "identity.confirm", "certificate.issue", "qr", "checkin"} {
		if e := r.Endpoints[name]; e == nil || e.Total.Succeeded == 0 {
			t.Errorf("smoke never succeeded at %s", name)
		}
	}
}

// checkStageFigures: no stage of a measured run reads busier than its
// workers can be, and on as-built the run names the bottleneck that the
// simulator and the plan name (the one-worker key anchor, which saturates
// first; kdca and the stages holding workers on it are its effects).
func checkStageFigures(t *testing.T, dir, profile string) {
	t.Helper()
	l, err := reports.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := reports.Summarize(&reports.Report{Loaded: l})
	if len(sum.Stages) == 0 {
		t.Fatal("no stage figures")
	}
	for _, f := range sum.Stages {
		if f.PeakUtil > 1 || f.MeanUtil > 1 {
			t.Errorf("%s: peak utilisation %.2f, mean %.2f: busier than its workers can be", f.Stage, f.PeakUtil, f.MeanUtil)
		}
	}
	if profile != "as-built" {
		return
	}
	if b := sum.Bottleneck; b == nil || b.Stage != "anchor" || !b.Saturated {
		t.Errorf("bottleneck %+v, want anchor (as sim and plan name it)", b)
	}
}
