//go:build race

package capacity

// raceEnabled: the race detector slows the simulator about sevenfold, and
// a simulation runs on one goroutine, where it finds nothing: tests that
// simulate many searches run a few of their cases under it.
const raceEnabled = true
