package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain sends the run directories of commands run without --out to a
// temporary folder, not runs/ in the source tree.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "surge-cmd-runs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
