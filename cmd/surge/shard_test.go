package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// sharedTarget starts a reference server (as-built) on loopback behind a
// proxy that counts the fault switches it is sent; the shards share it.
func sharedTarget(t *testing.T, token string) (target string, faultPosts *atomic.Int64) {
	t.Helper()
	u, _ := url.Parse("http://" + startReferenceServer(t, nil, token))
	rp := httputil.NewSingleHostReverseProxy(u)
	faultPosts = &atomic.Int64{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/admin/faults" {
			faultPosts.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, faultPosts
}

// smokeWithFault is smoke.yaml with a server-side fault on its timeline.
func smokeWithFault(t *testing.T) string {
	raw, err := os.ReadFile("../../scenarios/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "smoke-fault.yaml")
	fault := "\nfaults:\n  - {name: slow-kdca, at: \"12:00:03\", for: 5s, kind: latency, stage: kdca, latency: \"exp(20ms)\"}\n"
	if err := os.WriteFile(path, append(raw, fault...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runShards plays the n shards of one run at once, in-process, from one
// common start, each into dir/shard-I; the first's error code is returned
// for any that failed.
func runShards(t *testing.T, scenario, target, token, dir string, n int, extra ...string) {
	t.Helper()
	start := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	codes, logs := make([]int, n), make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errb bytes.Buffer
			args := append([]string{"run", scenario, "--target", target, "--admin-token", token, "--shard", fmt.Sprintf("%d/%d", i, n),
				"--start-at", start, "--out", filepath.Join(dir, fmt.Sprintf("shard-%d", i)), "--quiet", "--compression", "3"}, extra...)
			codes[i] = execute(context.Background(), args, &out, &errb)
			logs[i] = out.String() + errb.String()
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("shard %d of %d: exit %d:\n%s", i, n, c, logs[i])
		}
	}
}

// The shards of a run, merged, are the unsharded run: the same offered
// arrivals and requests per endpoint (same seed, same decisions), the
// server's faults switched once (by shard 0), the same results whatever
// order the shards are named in, and the gate judged once on the whole.
func TestShardsMergeToTheWholeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("plays smoke.yaml unsharded, in 8 shards and in 2 (about 30 s)")
	}
	const token = "shard-test-token"
	target, faultPosts := sharedTarget(t, token)
	scenario, dir := smokeWithFault(t), t.TempDir()
	code, out, errs := runSurge("run", scenario, "--target", target, "--admin-token", token, "--out", filepath.Join(dir, "whole"), "--quiet", "--compression", "3")
	if code != 0 {
		t.Fatalf("unsharded: exit %d\n%s%s", code, out, errs)
	}
	whole := readRun(t, filepath.Join(dir, "whole"))
	for _, n := range []int{8, 2} {
		faultPosts.Store(0)
		shards := filepath.Join(dir, fmt.Sprint(n))
		runShards(t, scenario, target, token, shards, n)
		if got := faultPosts.Load(); got != 1 {
			t.Errorf("%d shards switched the server's fault on %d times, want once (by shard 0)", n, got)
		}
		merged := filepath.Join(dir, fmt.Sprintf("merged-%d", n))
		code, out, errs := runSurge("merge", shards, "--out", merged)
		if code != 0 {
			t.Fatalf("merge of %d: exit %d\n%s%s", n, code, out, errs)
		}
		if !strings.Contains(out, fmt.Sprintf("merged from %d shards): GO", n)) {
			t.Errorf("merge of %d says:\n%s", n, out)
		}
		m := readRun(t, merged)
		sameDecisions(t, n, whole, m)
		var names []string
		for i := n - 1; i >= 0; i-- {
			names = append(names, filepath.Join(shards, fmt.Sprintf("shard-%d", i)))
		}
		again := filepath.Join(dir, fmt.Sprintf("again-%d", n))
		if code, out, errs := runSurge(append(append([]string{"merge"}, names...), "--out", again)...); code != 0 {
			t.Fatalf("merge of %d in reverse: exit %d\n%s%s", n, code, out, errs)
		}
		a, _ := os.ReadFile(filepath.Join(merged, results.FileName))
		b, _ := os.ReadFile(filepath.Join(again, results.FileName))
		if !bytes.Equal(a, b) {
			t.Errorf("%d shards merged in reverse order gave other results", n)
		}
	}
	badMerges(t, dir)
}

func readRun(t *testing.T, dir string) *results.Run {
	t.Helper()
	r, err := results.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sameDecisions compares a merged run with the unsharded one: what the
// users decided (the smoke scenario's service has room: no failure changes
// a decision) and the fault's one switching.
func sameDecisions(t *testing.T, n int, whole, merged *results.Run) {
	t.Helper()
	if merged.Users != whole.Users {
		t.Errorf("%d shards: users %+v, unsharded %+v", n, merged.Users, whole.Users)
	}
	for name, e := range whole.Endpoints {
		me := merged.Endpoints[name]
		if me == nil || me.Total.Offered != e.Total.Offered || me.Total.Attempted != e.Total.Attempted {
			t.Errorf("%d shards: %s offered/attempted differ from the unsharded run's %d/%d", n, name, e.Total.Offered, e.Total.Attempted)
		}
	}
	ons := 0
	for _, ev := range merged.Events {
		if ev.Kind == "fault-on" {
			ons++
		}
	}
	if ons != 1 {
		t.Errorf("%d shards: %d fault-on events in the merged run, want 1: %+v", n, ons, merged.Events)
	}
	if merged.Meta.Shards != n || len(merged.Meta.Parts) != n || !merged.Meta.Complete {
		t.Errorf("%d shards: merged meta %+v", n, merged.Meta)
	}
}

// badMerges: shards of different runs, a missing shard (refused, then
// merged with --partial and said partial).
func badMerges(t *testing.T, dir string) {
	t.Helper()
	code, _, errs := runSurge("merge", filepath.Join(dir, "8", "shard-0"), filepath.Join(dir, "2", "shard-1"), "--out", filepath.Join(dir, "mixed"))
	if code != 1 || !strings.Contains(errs, "not shards of one run: their shard count differs (8 vs 2)") {
		t.Errorf("shards of two runs: exit %d, %s", code, errs)
	}
	var some []string
	for i := range 7 {
		some = append(some, filepath.Join(dir, "8", fmt.Sprintf("shard-%d", i)))
	}
	code, _, errs = runSurge(append(append([]string{"merge"}, some...), "--out", filepath.Join(dir, "seven"))...)
	if code != 1 || !strings.Contains(errs, "missing 7 (merge what there is with --partial)") {
		t.Errorf("a missing shard: exit %d, %s", code, errs)
	}
	code, out, errs := runSurge(append(append([]string{"merge", "--partial"}, some...), "--out", filepath.Join(dir, "seven"))...)
	if code == 1 || !strings.Contains(out, "merged from 7 of 8 shards, missing 7") || !strings.Contains(out, "a partial merge") || !strings.Contains(errs, "WARNING: a partial merge") {
		t.Errorf("--partial: exit %d\n%s%s", code, out, errs)
	}
	if page, err := os.ReadFile(filepath.Join(dir, "seven", "report.html")); err != nil || !bytes.Contains(page, []byte("merged from 7 of 8 shards, missing 7")) {
		t.Errorf("the partial run's report does not say it is partial (%v)", err)
	}
}

func TestShardFlagsBadInput(t *testing.T) {
	t.Setenv(jobIndexEnv, "")
	os.Unsetenv(jobIndexEnv)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "3/2"}, "--shard 3/2: want I/N with 0 <= I < N"},
		{[]string{"--shard", "1"}, "--shard 1: want I/N"},
		{[]string{"--shard", "0/2", "--shards", "2"}, "--shard and --shards: give one"},
		{[]string{"--shards", "4"}, "$JOB_COMPLETION_INDEX is not set"},
		{[]string{"--start-at", past}, "in the past"},
		{[]string{"--start-at", "noon"}, "--start-at noon: want an RFC 3339 time"},
		{[]string{"--start-at", past, "--start-in", "5s"}, "--start-at and --start-in: give one"},
		{[]string{"--shard", "0/2"}, "the shards of a run share one target"},
	} {
		code, _, errs := runSurge(append([]string{"run", "../../scenarios/smoke.yaml", "--quiet"}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("surge run %v: exit %d, %q; want exit 1 saying %q", c.args, code, errs, c.want)
		}
	}
	t.Setenv(jobIndexEnv, "9")
	if code, _, errs := runSurge("run", "../../scenarios/smoke.yaml", "--shards", "4"); code != 1 || !strings.Contains(errs, `$JOB_COMPLETION_INDEX="9": want an index from 0 to 3`) {
		t.Errorf("an index past the shards: exit %d, %s", code, errs)
	}
}

// shardDirs writes n shard run directories of a lunch run of length:
// every request of the scenario over its time buckets, latencies spread
// over four decades (what makes histograms large, more than counts).
func shardDirs(b testing.TB, n, perShard int, length time.Duration) string {
	raw, err := os.ReadFile("../../scenarios/lunch.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := scenarios.Parse("lunch.yaml", raw)
	if err != nil {
		b.Fatal(err)
	}
	parent := b.TempDir()
	r := rand.New(rand.NewPCG(16, 1))
	for i := range n {
		run := results.New(results.Meta{Scenario: s.Name, Kind: "run", Seed: 1, Bucket: results.BucketFor(length), Planned: length,
			Elapsed: length, Complete: true, Ended: "done", Shard: i, Shards: n, Target: "http://127.0.0.1:8080"})
		recordSynthetic(run, r, lunchRequests, perShard, length)
		late := rand.New(rand.NewPCG(16, uint64(i)+2))
		for range perShard {
			run.Generator.Late.Record(time.Duration(late.Int64N(int64(time.Millisecond))))
		}
		if err := reports.WriteDir(filepath.Join(parent, fmt.Sprintf("shard-%d", i)), raw, reports.New(s, run)); err != nil {
			b.Fatal(err)
		}
	}
	return parent
}

// BenchmarkMerge16Shards: surge merge of 16 shard directories of a 1-hour
// run, reading and merging only, and the whole command (with the merged
// run directory's report and summaries written).
func BenchmarkMerge16Shards(b *testing.B) {
	parent := shardDirs(b, 16, 100_000, time.Hour)
	b.Run("read+merge", func(b *testing.B) {
		for b.Loop() {
			parts, err := results.ReadShards([]string{parent}, "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := results.MergeShards(parts, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("command", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "merged")
		for b.Loop() {
			if err := merge(context.Background(), mergeOptions{dirs: []string{parent}, out: out}, io.Discard, io.Discard); err != nil && exitCode(err) != exitNoGo {
				b.Fatal(err)
			}
		}
	})
}
