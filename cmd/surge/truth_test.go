package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// TestBadFlagValuesAreRefused: a flag value that makes no sense is exit 1
// naming the flag, before anything runs.
func TestBadFlagValuesAreRefused(t *testing.T) {
	path := writeScenario(t, "errors <= 1%")
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"run", path, "--compression", "0"}, "--compression 0"},
		{[]string{"run", path, "--compression", "-1"}, "--compression -1"},
		{[]string{"run", path, "--drain", "-5s"}, "--drain -5s"},
		{[]string{"run", path, "--max-conns", "-3"}, "--max-conns -3"},
		{[]string{"run", path, "--max-users", "0"}, "--max-users 0"},
		{[]string{"run", path, "--send-slack", "-1ms"}, "--send-slack -1ms"},
		{[]string{"run", path, "--prometheus-rw", "ftp://u:secret@host/x"}, `--prometheus-rw: "ftp://u:xxxxx@host/x" is not an http`},
		{[]string{"run", path, "--prometheus-rw", "http://127.0.0.1:9/w", "--prometheus-rw-interval", "0s"}, "--prometheus-rw-interval 0s"},
		{[]string{"capacity", path, "--prometheus-rw", "127.0.0.1:9090"}, "--prometheus-rw:"},
		{[]string{"sim", path, "--scale", "-1"}, "--scale -1"},
		{[]string{"sim", path, "--scale", "2"}, "--scale 2"},
		{[]string{"sim", path, "--compression", "0.5"}, "--compression 0.5"},
		{[]string{"sim", path, "--seeds", "0"}, "--seeds 0"},
		{[]string{"sim", path, "--seeds", "1001"}, "--seeds 1001"},
	} {
		start := time.Now()
		code, _, errs := runSurge(c.args...)
		if code != 1 || !strings.Contains(errs, c.flag) || time.Since(start) > 5*time.Second {
			t.Errorf("surge %v: exit %d, stderr %q; want exit 1 naming %s at once", c.args, code, errs, c.flag)
		}
	}
}

// TestSLOLimitsAreRangeChecked: limits no measurement can mean are errors
// with the file, line and key.
func TestSLOLimitsAreRangeChecked(t *testing.T) {
	for _, c := range []struct{ clause, want string }{
		{"errors <= 150%", "a share must be within 0% and 100%"},
		{"goodput >= -1%", "a share must be within 0% and 100%"},
		{"qr p99 <= -400ms", "a latency limit must be positive"},
		{"retry_amplification <= 0.5", "at least 1"},
		{"headroom <= 2", "headroom is a floor"},
		{"recovery <= -1m", "must not be negative"},
	} {
		path := writeScenario(t, c.clause)
		code, out, errs := runSurge("validate", path)
		if code != 1 || !strings.Contains(out, "quick.yaml:13: slo[0]") || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d\n%s%s\nwant quick.yaml:13: slo[0] ... %q", c.clause, code, out, errs, c.want)
		}
	}
}

// TestReportOfAnUnjudgedRun: a run directory without its scenario is
// neither GO nor NO-GO: exit 1, "NOT EVALUATED" in every document, and a
// JUnit file a CI system reads as an error, not "0 tests".
func TestReportOfAnUnjudgedRun(t *testing.T) {
	dir := t.TempDir()
	run := results.New(results.Meta{Scenario: "quick", Kind: "run", Ended: "done", Complete: true})
	run.Record("qr", results.Outcome{Corrected: time.Millisecond, First: true})
	if err := run.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runSurge("report", dir, "--format", "text")
	if code != 1 || !strings.Contains(out, "NOT EVALUATED") || strings.Contains(out, "NO-GO") || !strings.Contains(errs, "not evaluated") {
		t.Errorf("text: exit %d\n%s\n%s", code, out, errs)
	}
	junit := filepath.Join(dir, "gate.xml")
	if code, _, _ := runSurge("report", dir, "--format", "junit", "-o", junit); code != 1 {
		t.Errorf("junit: exit %d", code)
	}
	if b, _ := os.ReadFile(junit); !strings.Contains(string(b), `errors="1"`) || !strings.Contains(string(b), "not evaluated") || strings.Contains(string(b), `tests="0"`) {
		t.Errorf("junit:\n%s", b)
	}
	if code, _, _ := runSurge("report", dir); code != 1 {
		t.Errorf("html: exit %d", code)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "report.html")); !strings.Contains(string(b), "NOT EVALUATED: quick") {
		t.Error("the page's banner does not say NOT EVALUATED")
	}
}

// TestReportAgainstAnotherScenarioSaysSo: a baseline of another scenario
// is flagged loudly, on stderr and in the summary.
func TestReportAgainstAnotherScenarioSaysSo(t *testing.T) {
	golden := "../../reports/testdata/golden/"
	other := t.TempDir()
	r := results.New(results.Meta{Scenario: "dinner", Kind: "run", Ended: "done", Complete: true})
	r.Record("qr", results.Outcome{Corrected: time.Millisecond, First: true})
	r.WriteFile(other)
	_, out, errs := runSurge("report", golden+"run", "--baseline", other, "--format", "text")
	if !strings.Contains(errs, `WARNING: the baseline does not describe the same scenario: it is of scenario "dinner"`) ||
		!strings.Contains(out, "WARNING: the baseline") {
		t.Errorf("an unrelated baseline passed without a word:\n%s\n%s", out, errs)
	}
}
