package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

func newMergeCmd(g *globals) *cobra.Command {
	o := mergeOptions{}
	cmd := &cobra.Command{
		Use:   "merge DIR... --out DIR",
		Short: "Merge the shards of one run exactly and gate on the whole (exit 0 GO, 2 NO-GO, 1 could not merge)",
		Long: `Merges the run directories of the shards of one run (surge run --shard I/N, or
--shards N in a Kubernetes Indexed Job) into one run directory: latency histograms and
counters add exactly, events interleave by time, stage samples come from shard 0 (the
one that sampled the target). Each DIR is a shard's run directory, or a directory whose
subdirectories are (the layout surge k8s writes). The shards must be of one run: the
same scenario file, seed, shard count and target, each index once; a missing shard is
an error naming it, unless --partial (then the report says the run is partial).

The gate is evaluated once, on the merged run: the exit code is its verdict.
--wait waits for the shards still running to write their results (the merge step of
surge k8s runs beside the shards).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.out == "" {
				return errors.New("--out: give the merged run directory")
			}
			if o.wait < 0 {
				return fmt.Errorf("--wait %v: want a duration of 0 or more", o.wait)
			}
			o.dirs, o.json = args, g.json
			return merge(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "the merged run directory (required)")
	f.BoolVar(&o.partial, "partial", false, "merge the shards there are when some are missing (the report says which)")
	f.DurationVar(&o.wait, "wait", 0, "wait this long at most for every shard to have written its results")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (one test case per gate clause) to this file")
	uiFlags(f, &o.ui)
	return cmd
}

type mergeOptions struct {
	dirs          []string
	out, junit    string
	partial, json bool
	wait          time.Duration
	ui            uiOptions // the live page: the shards merged as they arrive
}

// merge is surge merge: read the shards (waiting for them with --wait),
// merge them, write the run directory and return the verdict.
func merge(ctx context.Context, o mergeOptions, stdout, stderr io.Writer) (err error) {
	if o.ui.wanted() {
		ui, err := startUI(o.ui, "merge", (&shardWatch{o: o}).draw, stderr)
		if err != nil {
			return err
		}
		defer func() {
			linger := time.Duration(0) // nothing merged: nothing to keep showing
			if _, statErr := os.Stat(filepath.Join(o.out, reports.ReportHTML)); statErr == nil {
				ui.finish(filepath.Join(o.out, reports.ReportHTML))
				linger = o.ui.linger
			}
			ui.stop(ctx, linger, stderr)
		}()
	}
	parts, run, err := results.WaitShards(ctx, o.dirs, o.out, o.wait, 2*time.Second, o.partial)
	if err != nil {
		return err
	}
	return concludeMerge(o, parts, run, stdout, stderr)
}

// concludeMerge writes the merged run directory from the lowest shard's
// scenario file (every shard's has the same hash) and judges it.
func concludeMerge(o mergeOptions, parts []results.Part, run *results.Run, stdout, stderr io.Writer) error {
	first := parts[0]
	for _, p := range parts[1:] {
		if p.Run.Meta.Shard < first.Run.Meta.Shard {
			first = p
		}
	}
	path := filepath.Join(first.Name, reports.ScenarioFile)
	raw, err := spec.ReadFile(path, spec.MaxDocument)
	if err != nil {
		return err
	}
	s, err := scenarios.Parse(path, raw)
	if err != nil {
		return err
	}
	if len(run.Meta.Missing) > 0 {
		fmt.Fprintf(stderr, "WARNING: a partial merge (%s)\n", run.Meta.Sharding())
	}
	return conclude(runOptions{scenario: path, out: o.out, junit: o.junit, json: o.json}, raw, s, run, "", stdout)
}

// shardWatch draws the live page of a merge: the shards written so far,
// merged as a partial run. A shard writes its results once, at its end, so
// the drawing is redone only when the set of results files changes (a
// 16-shard hour takes seconds to read).
type shardWatch struct {
	o     mergeOptions
	key   string
	page  []byte
	where string
}

func (w *shardWatch) draw() ([]byte, string) {
	var key strings.Builder
	for _, rd := range results.ShardDirs(w.o.dirs, w.o.out) {
		if fi, err := os.Stat(filepath.Join(rd, results.FileName)); err == nil {
			fmt.Fprintf(&key, "%s@%d;", rd, fi.ModTime().UnixNano())
		}
	}
	if key.String() == w.key {
		return w.page, w.where
	}
	w.key = key.String()
	parts, err := results.ReadShards(w.o.dirs, w.o.out)
	if err != nil {
		w.page, w.where = nil, "no shard written yet"
		return nil, w.where
	}
	run, err := results.MergeShards(parts, true)
	if err != nil {
		w.page, w.where = []byte(html.EscapeString(err.Error())), "the shards do not merge"
		return w.page, w.where
	}
	var s *scenarios.Scenario
	if raw, err := spec.ReadFile(filepath.Join(parts[0].Name, reports.ScenarioFile), spec.MaxDocument); err == nil {
		s, _ = scenarios.Parse(filepath.Join(parts[0].Name, reports.ScenarioFile), raw)
	}
	var b bytes.Buffer
	if err := reports.HTMLLinked(&b, reports.New(s, run), uiScript); err != nil {
		w.page = []byte(html.EscapeString(err.Error()))
	} else {
		w.page = b.Bytes()
	}
	w.where = fmt.Sprintf("%d of %d shards written", len(parts), run.Meta.Shards)
	return w.page, w.where
}
