package scenarios

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestAsRunRecordsTheFlags: unchanged, the file is kept byte for byte; with
// the compression changed, the recorded file says so, keeps the comments,
// and parses to the scenario as run.
func TestAsRunRecordsTheFlags(t *testing.T) {
	raw, err := os.ReadFile("lunch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("lunch.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	same, err := AsRun("lunch.yaml", raw, s)
	if err != nil || !bytes.Equal(same, raw) {
		t.Fatalf("unchanged: %v, or not the file as it is", err)
	}
	s.Compression.Factor = 90
	got, err := AsRun("lunch.yaml", raw, s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "as run (--compression); the file says 30") || !strings.Contains(string(got), "SOURCES.md") {
		t.Errorf("recorded file lacks the note or the comments:\n%s", got)
	}
	back, err := Parse("as-run.yaml", got)
	if err != nil || back.Compression.Factor != 90 || back.Scale != s.Scale {
		t.Errorf("the recorded file parses to %v (err %v), want compression 90", back.Compression, err)
	}
}
