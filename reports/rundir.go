package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Files of a run directory besides results.json.
const (
	ScenarioFile = "scenario.yaml"
	SummaryText  = "summary.txt"
	SummaryJSON  = "summary.json"
	ReportHTML   = "report.html"
)

// WriteDir writes a run directory: the scenario as run, the results (with
// the scenario's hash in their meta), the text and JSON summaries and the
// HTML report (of rep.WithScenario(scenario)).
func WriteDir(dir string, scenario []byte, rep *Report) error {
	rep = rep.WithScenario(scenario)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ScenarioFile), scenario, 0o644); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	if err := rep.Run.WriteFile(dir); err != nil {
		return err
	}
	for name, render := range map[string]func(*bytes.Buffer) error{
		SummaryText: func(b *bytes.Buffer) error { return Text(b, rep) },
		SummaryJSON: func(b *bytes.Buffer) error { return JSON(b, rep) },
		ReportHTML:  func(b *bytes.Buffer) error { return HTML(b, rep) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
	}
	return nil
}

// WithScenario is r with the hash of the scenario file as run in its
// run's meta, on a shallow copy: the run itself is not changed, since a
// live view (the live page, the Prometheus exporter's last scrape) may
// still be reading it; the copy shares its figures, read only.
func (r *Report) WithScenario(scenario []byte) *Report {
	run := *r.Run
	run.Meta.ScenarioSHA256 = sha256Hex(scenario)
	out := *r
	out.Run = &run
	return &out
}
