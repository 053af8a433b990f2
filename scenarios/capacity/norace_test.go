//go:build !race

package capacity

// raceEnabled: see race_test.go.
const raceEnabled = false
