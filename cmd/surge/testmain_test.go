package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain sends the run directories of commands run without --out to a
// temporary folder, not runs/ in the source tree.
//
// With SURGE_TEST_AS set, the test binary is a process a test started in
// its place: surge itself (a shard pod's process) or a reference server.
func TestMain(m *testing.M) {
	switch os.Getenv("SURGE_TEST_AS") {
	case "surge":
		os.Exit(surge())
	case "reference-server":
		os.Exit(serveReference(os.Args[1], os.Getenv("SURGE_ADMIN_TOKEN")))
	}
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
