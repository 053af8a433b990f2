package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/spec"
	"github.com/surgekit/surge/sim"
)

// problemsError says how many problems validate found; they are printed already.
type problemsError struct{ files, problems int }

func (e problemsError) Error() string {
	return fmt.Sprintf("%d problem(s) in %d file(s)", e.problems, e.files)
}

func newValidateCmd(g *globals) *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "validate SCENARIO.yaml...",
		Short: "Check scenario files strictly and print every problem with file, line and key",
		Long: `Check scenario files strictly and print every problem with file, line and key.

A scenario without a target URL runs on a capacity profile (--profile, else its
target.profile, else as-built): validate checks it against that profile as run and
sim do, so every route and every fault's stage exists.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			type result struct {
				File     string   `json:"file"`
				Valid    bool     `json:"valid"`
				Problems []string `json:"problems,omitempty"` // the first spec.MaxShown
				More     int      `json:"more_problems,omitempty"`
			}
			var results []result
			bad := problemsError{}
			for _, f := range args {
				r := result{File: f, Valid: true}
				if err := validateOne(f, profile); err != nil {
					r.Valid = false
					var es spec.Errors
					if errors.As(err, &es) {
						for _, e := range es[:min(len(es), spec.MaxShown)] {
							r.Problems = append(r.Problems, e.Error())
						}
						r.More = len(es) - len(r.Problems)
					} else {
						r.Problems = []string{err.Error()}
					}
					bad.files++
					bad.problems += len(r.Problems) + r.More
				}
				results = append(results, r)
			}
			out := cmd.OutOrStdout()
			if g.json {
				writeJSON(out, map[string]any{"files": results, "valid": bad.files == 0})
			} else {
				for _, r := range results {
					if r.Valid {
						fmt.Fprintf(out, "%s: ok\n", r.File)
					}
					for _, p := range r.Problems {
						fmt.Fprintln(out, p)
					}
					if r.More > 0 {
						fmt.Fprintf(out, "%s: ... and %d more problems\n", r.File, r.More)
					}
				}
			}
			if bad.files > 0 {
				return bad
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "", "capacity profile a scenario without a target URL is checked against: as-built, fixed or a FILE (default: its target.profile, else as-built)")
	return cmd
}

// validateOne is the one validation every command runs: the scenario
// strictly, then, when it runs on a profile, against that profile.
func validateOne(file, profile string) error {
	s, err := scenarios.Load(file)
	if err != nil {
		return err
	}
	if _, err := s.LoadData(filepath.Dir(file)); err != nil { // the data files' columns, the multipart files
		return err
	}
	if s.Target.URL != "" && profile == "" {
		return nil
	}
	p, err := profiles.Load(firstNonEmpty(profile, s.Target.Profile, "as-built"))
	if err != nil {
		return err
	}
	return sim.Check(s, p)
}
