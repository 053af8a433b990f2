package main

import (
	"testing"

	"github.com/surgekit/surge/reports"
)

// checkStageFigures: no stage of a measured run reads busier than its
// workers can be, and on as-built the run names the bottleneck that the
// simulator and the plan name (the one-worker key anchor, which saturates
// first; kdca and the stages holding workers on it are its effects).
func checkStageFigures(t *testing.T, dir, profile string) {
	t.Helper()
	l, err := reports.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := reports.Summarize(&reports.Report{Loaded: l})
	if len(sum.Stages) == 0 {
		t.Fatal("no stage figures")
	}
	for _, f := range sum.Stages {
		if f.PeakUtil > 1 || f.MeanUtil > 1 {
			t.Errorf("%s: peak utilisation %.2f, mean %.2f: busier than its workers can be", f.Stage, f.PeakUtil, f.MeanUtil)
		}
	}
	if profile != "as-built" {
		return
	}
	if b := sum.Bottleneck; b == nil || b.Stage != "anchor" || !b.Saturated {
		t.Errorf("bottleneck %+v, want anchor (as sim and plan name it)", b)
	}
}
