package results

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWaitShardsFindsAndWaits: shards in surge k8s's layout (a directory of
// run directories, the merge's own output skipped) are found, a shard
// written while the merge waits is merged, and without a wait a missing
// shard or directory is the error it is.
func TestWaitShardsFindsAndWaits(t *testing.T) {
	whole, parts := shardRuns(5, 3, 3000)
	parent := t.TempDir()
	out := filepath.Join(parent, "merged")
	write := func(r *Run, dir string) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return r.WriteFile(dir)
	}
	for _, p := range parts[:2] {
		if err := write(p.Run, filepath.Join(parent, p.Name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := write(whole, out); err != nil { // a merge's own directory is never a shard
		t.Fatal(err)
	}
	if got := ShardDirs([]string{parent, filepath.Join(parent, "none")}, out); len(got) != 2 || filepath.Base(got[0]) != "shard-a" {
		t.Errorf("ShardDirs: %v", got)
	}
	if _, _, err := WaitShards(context.Background(), []string{parent}, out, 0, time.Millisecond, false); !errors.Is(err, ErrMissingShards) {
		t.Errorf("a shard missing, no wait: %v", err)
	}
	if _, run, err := WaitShards(context.Background(), []string{parent}, out, 0, time.Millisecond, true); err != nil || len(run.Meta.Missing) != 1 {
		t.Errorf("partial: %v %v", run, err)
	}
	if _, _, err := WaitShards(context.Background(), []string{filepath.Join(parent, "none")}, out, 0, time.Millisecond, false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a directory not made: %v", err)
	}
	if _, _, err := WaitShards(context.Background(), []string{t.TempDir()}, out, 0, time.Millisecond, false); !errors.Is(err, ErrNoRunDirs) {
		t.Errorf("no run directory: %v", err)
	}
	written := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		written <- write(parts[2].Run, filepath.Join(parent, parts[2].Name))
	}()
	got, run, err := WaitShards(context.Background(), []string{parent}, out, time.Minute, 10*time.Millisecond, false)
	if err != nil || len(got) != 3 || <-written != nil {
		t.Fatalf("waiting for the third shard: %d parts, %v", len(got), err)
	}
	if run.Users != whole.Users || run.Endpoints["qr"].Total.Attempted != whole.Endpoints["qr"].Total.Attempted {
		t.Errorf("the merged run: users %+v, want %+v", run.Users, whole.Users)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := WaitShards(ctx, []string{t.TempDir()}, out, time.Minute, time.Millisecond, false); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}
