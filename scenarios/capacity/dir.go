package capacity

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
)

// The files of a capacity directory: the document, the page, the
// calibrated profile, the scenario searched, and each step's run
// directory under steps/ (results.json and the scenario, so that surge
// report renders a step).
const (
	DocumentFile = "capacity.json"
	PageFile     = "report.html"
	ProfileFile  = "profile.yaml"
	StepsDir     = "steps"
)

// WriteStep writes a step's run directory, steps/NN-RATE, and returns its
// path relative to dir.
func WriteStep(dir string, i int, st Step, run *results.Run, scenario []byte) (string, error) {
	rel := filepath.Join(StepsDir, fmt.Sprintf("%02d-%.4g-per-s", i+1, st.Offered))
	d := filepath.Join(dir, rel)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("capacity directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, reports.ScenarioFile), scenario, 0o644); err != nil {
		return "", fmt.Errorf("capacity directory: %w", err)
	}
	return rel, run.WriteFile(d)
}

// WriteDir writes the document, the page, the scenario and (when there is
// one) the calibrated profile into dir.
func WriteDir(dir string, scenario []byte, s *scenarios.Scenario, res *Result, p *profile.Profile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("capacity directory: %w", err)
	}
	if p != nil {
		data, err := MarshalProfile(p)
		if err != nil {
			return err
		}
		res.Profile = filepath.Join(dir, ProfileFile)
		if err := os.WriteFile(res.Profile, data, 0o644); err != nil {
			return fmt.Errorf("capacity directory: %w", err)
		}
	}
	files := map[string]func(*bytes.Buffer) error{
		DocumentFile:         func(b *bytes.Buffer) error { return reports.CapacityJSON(b, &res.Capacity) },
		PageFile:             func(b *bytes.Buffer) error { return reports.CapacityHTML(b, &res.Capacity, s) },
		reports.ScenarioFile: func(b *bytes.Buffer) error { _, err := b.Write(scenario); return err },
	}
	for name, render := range files {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("capacity directory: %w", err)
		}
	}
	return nil
}

// MarshalProfile writes a profile as YAML that profile.Parse reads back,
// with a header saying what it is.
func MarshalProfile(p *profile.Profile) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s: a capacity profile surge capacity fitted", p.Name)
	if c := p.Calibrated; c != nil {
		fmt.Fprintf(&b, " from %s of %s (scenario %s, %d steps, %s)", c.From, c.Target, c.Scenario, c.Steps, c.At)
	}
	b.WriteString(".\n# surge sim SCENARIO.yaml --profile THIS_FILE predicts the service; surge plan --profile sizes it.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if _, err := profile.Parse(p.Name, b.Bytes()); err != nil {
		return nil, fmt.Errorf("the calibrated profile does not read back: %w", err)
	}
	return b.Bytes(), nil
}
