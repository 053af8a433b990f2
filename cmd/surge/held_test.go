package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgekit/surge/scenarios/results"
)

// TestWaitingRoomScenario: the shipped waiting-room scenario holds its
// first-time users on the fixed reference server's WebSocket waiting room
// and passes its gate, live and predicted; the run counts the connections
// held at once.
func TestWaitingRoomScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s run")
	}
	dir := t.TempDir()
	code, out, errs := runSurge("run", "../../scenarios/waiting-room.yaml", "--out", filepath.Join(dir, "run"), "--compression", "2", "--quiet")
	r, err := results.ReadFile(filepath.Join(dir, "run"))
	if code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	room := r.Endpoints["room"].Total
	if room.Succeeded == 0 || room.Succeeded != room.Offered || r.Generator.MaxHeld == 0 || !strings.Contains(out, "connections held open at once") {
		t.Errorf("room: %d of %d ok (%v); at most %d held\n%s", room.Succeeded, room.Offered, room.Errors, r.Generator.MaxHeld, out)
	}
	if code, out, _ := runSurge("sim", "../../scenarios/waiting-room.yaml", "--out", filepath.Join(dir, "sim"), "--quiet"); code != 0 {
		t.Errorf("the prediction: exit %d\n%s", code, out)
	}
}
