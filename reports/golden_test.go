package reports

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

var update = flag.Bool("update", false, "rewrite the golden fixture run directories and the golden reports")

const goldenDir = "testdata/golden"

// syntheticRun makes a seeded, measured-looking run of the golden scenario:
// a surge that peaks a third of the way in, a kdca latency fault from 3:00
// to 4:00 with errors and a queue on kdca, stage samples for two stages and
// the generator's lateness. slower scales every latency (a baseline is a
// faster run); kind "sim" makes it a prediction.
func syntheticRun(seed uint64, kind string, slower float64, length time.Duration, bucket time.Duration) *results.Run {
	rng := rand.New(rand.NewPCG(seed, 7))
	r := results.New(results.Meta{Scenario: "golden-lunch", Kind: kind, Seed: seed, Profile: "as-built", Bucket: bucket,
		Planned: length, Elapsed: length, Complete: true, Ended: "done",
		Started: time.Date(2021, 12, 13, 11, 55, 0, 0, time.UTC)})
	faultOn, faultOff := 180*time.Second, 240*time.Second
	if length < 5*time.Minute {
		faultOn, faultOff = length/3, length/2
	}
	r.Event(faultOn, "fault-on", "kdca-slow: latency 400ms at stage kdca")
	r.Event(faultOff, "fault-off", "kdca-slow")
	surgeEnd := length * 2 / 3
	r.Event(surgeEnd, "surge-end", "surge: the arrival rate falls below half its peak")
	if kind == "run" {
		r.Event(faultOn+5*time.Second, "generator-behind", "sends 12ms behind schedule")
	}
	peak := length.Seconds() / 3
	// The stage counters start where an earlier run left them (a target's
	// lifetime totals): the report must count this run's only.
	busyK, busyA, servedK, shedK := 700.0, 90.0, 5000.0, 40.0
	var capK, capA float64 = 900, 450
	for t := time.Duration(0); t < length; t += 100 * time.Millisecond {
		x := t.Seconds()
		rate := 40 * math.Exp(-math.Pow((x-peak)/(length.Seconds()/4), 2)) // users per second
		inFault := t >= faultOn && t < faultOff
		n := int(rate/10 + rng.Float64())
		for range n {
			r.Count(t, results.Users{Arrived: 1, Completed: 1})
			for _, ep := range []string{"qr", "checkin"} {
				base := map[string]float64{"qr": 0.040, "checkin": 0.060}[ep]
				lat := base * slower * (0.5 + rng.ExpFloat64())
				err := ""
				if inFault && ep == "qr" {
					lat += 0.4 * (1 + rng.Float64())
					if rng.Float64() < 0.08 {
						err = "timeout"
					}
				}
				d := time.Duration(lat * float64(time.Second))
				r.Record(ep, results.Outcome{At: t, Corrected: d, Service: d * 9 / 10, First: true, Err: err})
				if err != "" {
					r.Record(ep, results.Outcome{At: t + time.Second, Corrected: d / 2, Service: d / 2, Err: "shed"})
				}
				if kind == "run" {
					r.Generator.Late.Record(time.Duration(rng.ExpFloat64() * float64(200*time.Microsecond)))
				}
			}
		}
		if t%bucket == 0 {
			q := 0.0
			if inFault {
				q = 20 * (t - faultOn).Seconds() / (faultOff - faultOn).Seconds()
				shedK += q / 4
			}
			r.Stages = append(r.Stages,
				results.StageSample{At: t, Stage: "kdca", Workers: 8, InFlight: math.Min(8, rate/10), Queue: q, Served: servedK, Shed: shedK, Busy: busyK, Capacity: capK},
				results.StageSample{At: t, Stage: "anchor", Workers: 4, InFlight: rate / 40, Served: servedK, Busy: busyA, Capacity: capA})
		}
		util := math.Min(1, rate/45)
		if inFault {
			util = 1
		}
		busyK += 0.1 * 8 * math.Min(1, util*slower)
		busyA += 0.1 * 4 * util / 3
		capK, capA = capK+0.1*8, capA+0.1*4
		servedK += float64(n)
	}
	r.StageCalls = map[string][]string{"kdca": {"anchor"}}
	r.Sample(results.FailureSample{Endpoint: "qr", Kind: "timeout", At: faultOn + 2*time.Second, Error: "no answer within 2s"})
	r.Sample(results.FailureSample{Endpoint: "qr", Kind: "shed", At: faultOn + 3*time.Second, Status: 503,
		Headers: "Content-Type: application/json\nRetry-After: 2", Body: `{"error": {"code": "stage_full", "message": "stage kdca is full: request shed", "stage": "kdca"}}`})
	r.Generator.MaxInFlight = 87
	return r
}

// goldenRuns are the fixture's run, baseline and prediction directories.
var goldenRuns = map[string]func() *results.Run{
	"run":        func() *results.Run { return syntheticRun(1, "run", 1, 10*time.Minute, 5*time.Second) },
	"baseline":   func() *results.Run { return syntheticRun(2, "run", 0.8, 10*time.Minute, 5*time.Second) },
	"prediction": func() *results.Run { return syntheticRun(3, "sim", 1.05, 10*time.Minute, 5*time.Second) },
}

// goldenReport loads the fixture's run directories as `surge report run
// --baseline baseline --prediction prediction` does.
func goldenReport(t testing.TB) *Report {
	load := func(name string) *Loaded {
		l, err := Load(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatal(err)
		}
		l.Dir = name // relative, so the golden page is the same wherever it runs
		return l
	}
	return &Report{Loaded: load("run"), Baseline: load("baseline"), Prediction: load("prediction")}
}

// TestGoldenReports renders the seeded fixture to HTML, text and JSON and
// compares with the committed pages (go test ./reports -run Golden -update
// rewrites them after a deliberate change; review the diff).
func TestGoldenReports(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join(goldenDir, "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range goldenRuns {
		dir := filepath.Join(goldenDir, name)
		data, err := mk().Encode()
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, ScenarioFile), scenario, 0o644)
			os.WriteFile(filepath.Join(dir, results.FileName), data, 0o644)
			continue
		}
		if have, err := os.ReadFile(filepath.Join(dir, results.FileName)); err != nil || !bytes.Equal(have, data) {
			t.Errorf("%s: the committed fixture is not what the seed makes (err %v): run with -update", dir, err)
		}
	}
	rep := goldenReport(t)
	const script = "/* the ECharts script goes here */"
	for file, render := range map[string]func(*bytes.Buffer) error{
		"report.html":  func(b *bytes.Buffer) error { return writeHTML(b, rep, script, "") },
		"summary.txt":  func(b *bytes.Buffer) error { return Text(b, rep) },
		"summary.json": func(b *bytes.Buffer) error { return JSON(b, rep) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		path := filepath.Join(goldenDir, file)
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the golden file; if the change is meant, run go test ./reports -run Golden -update and review the diff\n%s",
				file, firstDiff(b.String(), string(want)))
		}
	}
}

func firstDiff(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var a, b string
		if i < len(h) {
			a = h[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n have: " + clip(a) + "\n want: " + clip(b)
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
