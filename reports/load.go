package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// Loaded is a run directory read back: its results, its verdict, and what
// was missing from it.
type Loaded struct {
	Run     *results.Run
	Verdict Verdict
	Missing []string
}

// Load reads a run directory. Without its scenario.yaml the verdict has no
// clauses and Missing says so; without (or with corrupt) results.json it fails.
func Load(dir string) (*Loaded, error) {
	run, err := results.ReadFile(dir)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Run: run}
	path := filepath.Join(dir, ScenarioFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.Missing = append(l.Missing, ScenarioFile+" (no gate to evaluate)")
		l.Verdict = Verdict{Go: false, Ended: run.Meta.Ended}
	case err != nil:
		return nil, err
	default:
		s, err := scenarios.Parse(path, raw)
		if err != nil {
			return nil, fmt.Errorf("run directory %s: %w", dir, err)
		}
		l.Verdict = Evaluate(s, run)
	}
	if !run.Meta.Complete {
		l.Missing = append(l.Missing, "the run did not complete ("+run.Meta.Ended+")")
	}
	return l, nil
}
