package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// TestWriteLargeRun writes, to the directory $SURGE_LARGE_RUN, a run of an
// hour of 200 requests whose results.json is about $SURGE_LARGE_RUN_MB
// (default 100) MB, for measuring what surge report of a large run costs
// (ci/bench/report-memory.sh). Skipped unless SURGE_LARGE_RUN is set.
func TestWriteLargeRun(t *testing.T) {
	dir := os.Getenv("SURGE_LARGE_RUN")
	if dir == "" {
		t.Skip("SURGE_LARGE_RUN names the directory to write")
	}
	mb, _ := strconv.Atoi(os.Getenv("SURGE_LARGE_RUN_MB"))
	if mb <= 0 {
		mb = 100
	}
	raw, err := os.ReadFile("../../scenarios/lunch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenarios.Parse("lunch.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	const length = time.Hour
	run := results.New(results.Meta{Scenario: s.Name, Kind: "run", Seed: 1, Bucket: results.BucketFor(length), Planned: length,
		Elapsed: length, Complete: true, Ended: "done", Shards: 1, Target: "http://127.0.0.1:8080"})
	r := rand.New(rand.NewPCG(100, 1))
	perRequest := mb * 9_900     // answers of each request: measured, about 1 MB of results.json per 100 x 200
	names := make([]string, 200) // lunch's requests and 194 others
	for i := range names {
		names[i] = fmt.Sprintf("r%03d", i)
	}
	copy(names, lunchRequests)
	recordSynthetic(run, r, names, perRequest*len(names), length)
	if err := reports.WriteDir(dir, raw, reports.New(s, run)); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir + "/" + results.FileName)
	t.Logf("%s: %d MB", dir, fi.Size()>>20)
}
