package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

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

// validation is one file's verdict: its first spec.MaxShown problems, and
// how many more it has.
type validation struct {
	File     string   `json:"file"`
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems,omitempty"`
	More     int      `json:"more_problems,omitempty"`
}

func validateFile(f, profile string) validation {
	r := validation{File: f, Valid: true}
	err := validateOne(f, profile)
	if err == nil {
		return r
	}
	r.Valid = false
	var es spec.Errors
	if !errors.As(err, &es) {
		r.Problems = []string{err.Error()}
		return r
	}
	for _, e := range es[:min(len(es), spec.MaxShown)] {
		r.Problems = append(r.Problems, e.Error())
	}
	r.More = len(es) - len(r.Problems)
	return r
}

func printValidations(out io.Writer, asJSON bool, results []validation) {
	if asJSON {
		writeJSON(out, map[string]any{"files": results, "valid": !slices.ContainsFunc(results, func(r validation) bool { return !r.Valid })})
		return
	}
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
			var results []validation
			bad := problemsError{}
			for _, f := range args {
				r := validateFile(f, profile)
				if !r.Valid {
					bad.files++
					bad.problems += len(r.Problems) + r.More
				}
				results = append(results, r)
			}
			printValidations(cmd.OutOrStdout(), g.json, results)
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
	if _, err := protoMethods(s, file); err != nil { // the calls' methods and messages, when .proto files say them
		return err
	}
	if s.Target.URL != "" && profile == "" {
		return nil
	}
	p, err := profiles.Load(profileName(profile, s, file, "as-built"))
	if err != nil {
		return err
	}
	return sim.Check(s, p)
}
