//go:build !race

package knee

// raceEnabled: see race_test.go.
const raceEnabled = false
