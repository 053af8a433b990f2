package results

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ErrNoRunDirs is wrapped when none of the directories given holds a run.
var ErrNoRunDirs = errors.New("no run directories")

// ShardDirs are the run directories among dirs: each is a run directory
// (it holds FileName) or a directory of them (surge k8s's layout), skipping
// out, the merge's own. A directory that does not exist is skipped.
func ShardDirs(dirs []string, out string) []string {
	var found []string
	for _, d := range dirs {
		rd, _ := runDirsIn(d, out)
		found = append(found, rd...)
	}
	return found
}

// ReadShards reads the shards' results from dirs (as ShardDirs finds
// them); each must carry its scenario's hash, as surge run writes it.
func ReadShards(dirs []string, out string) ([]Part, error) {
	var parts []Part
	for _, d := range dirs {
		runDirs, err := runDirsIn(d, out)
		if err != nil {
			return nil, err
		}
		for _, rd := range runDirs {
			r, err := ReadFile(rd)
			if err != nil {
				return nil, err
			}
			if r.Meta.ScenarioSHA256 == "" {
				return nil, fmt.Errorf("%s: the results carry no scenario hash: not a run directory surge run wrote", rd)
			}
			parts = append(parts, Part{Name: rd, Run: r})
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%v: %w (none holds %s)", dirs, ErrNoRunDirs, FileName)
	}
	return parts, nil
}

// WaitShards reads and merges the shards in dirs (ReadShards, MergeShards).
// For up to wait it waits for the shards still running: a directory not
// made yet, or a shard that has not written its results, is one still to
// come, and it looks again every poll. Once the wait is over, partial
// merges the shards there are. ctx ends the wait.
func WaitShards(ctx context.Context, dirs []string, out string, wait, poll time.Duration, partial bool) ([]Part, *Run, error) {
	deadline := time.Now().Add(wait)
	for {
		waiting := time.Now().Before(deadline)
		parts, err := ReadShards(dirs, out)
		var run *Run
		if err == nil {
			run, err = MergeShards(parts, partial && !waiting)
		}
		if waiting && (errors.Is(err, ErrMissingShards) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoRunDirs)) {
			select {
			case <-ctx.Done():
				return nil, nil, fmt.Errorf("interrupted while waiting for shards: %w", err)
			case <-time.After(poll):
				continue
			}
		}
		return parts, run, err
	}
}

// runDirsIn is d when it is a run directory, else its subdirectories that
// are (none is an error only when d does not exist).
func runDirsIn(d, out string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(d, FileName)); err == nil {
		return []string{d}, nil
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, e := range entries {
		sub := filepath.Join(d, e.Name())
		if !e.IsDir() || filepath.Clean(sub) == filepath.Clean(out) {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, FileName)); err == nil {
			found = append(found, sub)
		}
	}
	sort.Strings(found)
	return found, nil
}
