package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

func writeRunDir(t *testing.T, r *results.Run, scenario bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := r.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	if scenario {
		raw, err := os.ReadFile(filepath.Join(goldenDir, "scenario.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, ScenarioFile), raw, 0o644)
	}
	return dir
}

func render(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// An interrupted run still renders, and says what it covers.
func TestInterruptedRunRenders(t *testing.T) {
	r := syntheticRun(4, "run", 1, 4*time.Minute, time.Second)
	r.Meta.Complete, r.Meta.Ended, r.Meta.Planned = false, "interrupted", 10*time.Minute
	l, err := Load(writeRunDir(t, r, true))
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, &Report{Loaded: l})
	if !strings.Contains(page, "Missing: the run did not complete (interrupted): figures cover 4m0s of 10m0s") {
		t.Error("the page does not say the run was interrupted")
	}
	if !strings.Contains(page, `id="surge_traffic"`) {
		t.Error("the interrupted run's traffic chart is missing")
	}
}

// A results file of the oldest format, with only what version 1 required
// (no buckets, no user buckets, no stages, no generator), renders and says
// what it lacks; a directory without its scenario renders without a gate.
func TestMinimalOldRunRenders(t *testing.T) {
	dir := t.TempDir()
	minimal := `{"format": "surge-results", "version": 1,
 "meta": {"scenario": "old", "kind": "run", "seed": 9, "bucket_ns": 1000000000, "planned_ns": 60000000000,
          "elapsed_ns": 60000000000, "complete": true, "ended": "done"},
 "endpoints": {"qr": {"total": {"offered": 2, "attempted": 2, "succeeded": 2,
   "latency": ` + histJSON(t, 30*time.Millisecond, 50*time.Millisecond) + `,
   "service": ` + histJSON(t, 20*time.Millisecond, 40*time.Millisecond) + `}}},
 "users": {"arrived": 2, "completed": 2}}`
	if err := os.WriteFile(filepath.Join(dir, results.FileName), []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, &Report{Loaded: l})
	for _, want := range []string{"Missing: scenario.yaml (no gate to evaluate)", "Missing: no per-bucket series",
		"Missing: no stage samples", "No gate clauses to evaluate", "<td>qr</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func histJSON(t *testing.T, ds ...time.Duration) string {
	h := results.NewHistogram(results.TotalDigits)
	for _, d := range ds {
		h.Record(d)
	}
	b, err := h.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A corrupt results file fails with the file's name, not a half page.
func TestCorruptRunFails(t *testing.T) {
	dir := writeRunDir(t, syntheticRun(5, "run", 1, time.Minute, time.Second), true)
	path := filepath.Join(dir, results.FileName)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)/2], 0o644)
	_, err := Load(dir)
	if err == nil || !errors.Is(err, results.ErrFormat) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of a truncated results.json: %v", err)
	}
}

// A 30-minute run with 1 s buckets (1,800 of them) is drawn with at most
// MaxPoints points per series, and the page stays far under 2 MB besides
// the embedded script.
func TestLongRunIsDownsampled(t *testing.T) {
	r := syntheticRun(6, "run", 1, 30*time.Minute, time.Second)
	l, err := Load(writeRunDir(t, r, true))
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, &Report{Loaded: l})
	size := len(page) - len(echartsJS)
	t.Logf("30-minute report: %d KB besides the %d KB script", size/1024, len(echartsJS)/1024)
	if size > 2<<20 {
		t.Errorf("the report is %d bytes besides the script, want under 2 MB", size)
	}
	traffic := regexp.MustCompile(`"name":"offered \(first attempts\)"(.*?)"name":"attempted`).FindStringSubmatch(page)
	if traffic == nil {
		t.Fatal("no traffic series in the page")
	}
	if n := strings.Count(traffic[1], `{"value":[`); n > MaxPoints || n < MaxPoints/2 {
		t.Errorf("the traffic series has %d points, want at most %d (and not far fewer)", n, MaxPoints)
	}
}

// The embedded script is the pinned ECharts release, byte for byte.
func TestEmbeddedEChartsIsPinned(t *testing.T) {
	raw, err := os.ReadFile("assets/echarts.min.js")
	if err != nil || string(raw) != echartsJS {
		t.Fatalf("assets/echarts.min.js is not what the binary embeds (%v)", err)
	}
	if got := sha256Hex(raw); got != EChartsSHA256 {
		t.Errorf("assets/echarts.min.js has sha256 %s, pinned %s (assets/fetch-echarts.sh)", got, EChartsSHA256)
	}
	if strings.Contains(echartsJS, "</script") {
		t.Error("the script contains </script and would end its own tag")
	}
}
