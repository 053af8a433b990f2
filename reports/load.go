package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// Loaded is a run directory read back: its results, its scenario (nil when
// the directory has none), its verdict, and what was missing from it.
type Loaded struct {
	Dir      string
	Run      *results.Run
	Scenario *scenarios.Scenario
	Verdict  Verdict
	Missing  []string
}

// Report is what one report shows: a run (measured or predicted) and,
// optionally, an earlier run to compare with and a prediction to overlay.
type Report struct {
	*Loaded
	Baseline   *Loaded
	Prediction *Loaded
}

// New judges a run against its scenario: the report of a run just made.
func New(s *scenarios.Scenario, r *results.Run) *Report {
	l := &Loaded{Run: r, Scenario: s, Verdict: Evaluate(s, r)}
	l.noteGaps()
	return &Report{Loaded: l}
}

// Load reads a run directory. Without its scenario.yaml the verdict is not
// evaluated and Missing says so; without (or with corrupt) results.json it fails.
func Load(dir string) (*Loaded, error) {
	run, err := results.ReadFile(dir)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Dir: dir, Run: run}
	path := filepath.Join(dir, ScenarioFile)
	s, err := scenarios.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.Missing = append(l.Missing, ScenarioFile+" (no gate to evaluate)")
		l.Verdict = NotEvaluated(run, "the run directory has no "+ScenarioFile+": its gate is unknown")
	case err != nil:
		return nil, fmt.Errorf("run directory %s: %w", dir, err)
	default:
		l.Scenario = s
		l.Verdict = Evaluate(s, run)
	}
	l.noteGaps()
	return l, nil
}

// noteGaps says what a reader of the report will not find, and why.
func (l *Loaded) noteGaps() {
	r := l.Run
	if !r.Meta.Complete && r.Meta.Ended != "" && r.Meta.Ended != "done" {
		l.Missing = append(l.Missing, "the run did not complete ("+r.Meta.Ended+"): figures cover "+
			fmtDuration(r.Meta.Elapsed.Seconds())+" of "+fmtDuration(r.Meta.Planned.Seconds()))
	} else if !r.Meta.Complete {
		l.Missing = append(l.Missing, "the run did not complete (no end was recorded)")
	}
	if len(r.Meta.Missing) > 0 {
		l.Missing = append(l.Missing, fmt.Sprintf("shards (a partial merge, %s): the figures, and the gate judged on them, cover about %d/%d of the arrivals",
			r.Meta.Sharding(), len(r.Meta.Parts), r.Meta.Shards))
	} else if r.Meta.Shards > 1 && len(r.Meta.Parts) == 0 {
		l.Missing = append(l.Missing, fmt.Sprintf("the other %d shards: this is shard %d of %d, about 1/%d of the arrivals (surge merge judges the whole run)",
			r.Meta.Shards-1, r.Meta.Shard, r.Meta.Shards, r.Meta.Shards))
	}
	if len(r.Endpoints) == 0 {
		l.Missing = append(l.Missing, "no requests were recorded")
	}
	if r.Meta.Source == results.SourceVegeta {
		l.Missing = append(l.Missing, "coordinated-omission correction: imported from vegeta, whose latency runs from each request's actual send (a stalled service hides the queueing behind it)")
	}
	perBucket := false
	for _, e := range r.Endpoints {
		perBucket = perBucket || len(e.Buckets) > 0
	}
	if len(r.Endpoints) > 0 && !perBucket {
		l.Missing = append(l.Missing, "no per-bucket series (charts over time are empty)")
	}
	if len(r.Stages) == 0 {
		l.Missing = append(l.Missing, "no stage samples (the target exposed no per-stage metrics): utilisation and queues are not shown")
	}
}
