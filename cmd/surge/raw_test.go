package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios/results"
)

// TestRunWritesVegetaResults: surge run --raw writes every answer as a
// vegeta Result that vegeta's own decoder (format sniffed) and Metrics read
// back: one per answer, by request name, successes and the latency maximum
// as results.json has them.
func TestRunWritesVegetaResults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded server for seconds")
	}
	for _, name := range []string{"answers.bin", "answers.csv"} {
		dir := filepath.Join(t.TempDir(), "run")
		raw := filepath.Join(t.TempDir(), name)
		code, out, errs := runSurge("run", writeScenario(t, "checkin p99 <= 5s"), "--out", dir, "--raw", raw, "--quiet")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		run, err := results.ReadFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(raw)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dec := vegeta.DecoderFor(f)
		if dec == nil {
			t.Fatalf("%s: vegeta does not recognise the format", name)
		}
		var m vegeta.Metrics
		by := map[string]int64{}
		for {
			var r vegeta.Result
			if err := dec.Decode(&r); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: result %d: %v", name, m.Requests, err)
			}
			if r.Timestamp.Before(run.Meta.Started) || r.Timestamp.After(run.Meta.Started.Add(run.Meta.Elapsed)) {
				t.Errorf("%s: a result at %v, outside the run (%v for %v)", name, r.Timestamp, run.Meta.Started, run.Meta.Elapsed)
			}
			by[r.Attack]++
			m.Add(&r)
		}
		m.Close()
		var answered, ok int64
		var most time.Duration
		for ep, e := range run.Endpoints {
			answered += e.Total.Answered()
			ok += e.Total.Succeeded
			most = max(most, e.Total.AllLatency().Max())
			if by[ep] != e.Total.Answered() {
				t.Errorf("%s: %d results for %s, results.json has %d answers", name, by[ep], ep, e.Total.Answered())
			}
		}
		if int64(m.Requests) != answered || int64(m.Success*float64(m.Requests)+0.5) != ok || answered != 60 {
			t.Errorf("%s: vegeta read %d requests, success %.3f; results.json has %d answers, %d ok (want 60)", name, m.Requests, m.Success, answered, ok)
		}
		if d := m.Latencies.Max - most; d < -most/500 || d > most/500 {
			t.Errorf("%s: vegeta's max latency %v, results.json's %v", name, m.Latencies.Max, most)
		}
		if !strings.Contains(name, "csv") {
			continue
		}
		if b, _ := os.ReadFile(raw); strings.Contains(string(b), "Bearer") {
			t.Errorf("the raw file holds a credential")
		}
	}
}
