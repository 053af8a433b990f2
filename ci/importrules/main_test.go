package main

import (
	"os"
	"strings"
	"testing"
)

const mod = "github.com/surgekit/surge"

func p(rel string, imports, deps []string) pkg {
	q := pkg{ImportPath: mod + "/" + rel, Module: &struct{ Path string }{mod}}
	for _, i := range imports {
		if !isStd(i) && !strings.Contains(i, ".") {
			i = mod + "/" + i
		}
		q.Imports = append(q.Imports, i)
	}
	for _, d := range deps {
		if !isStd(d) && !strings.Contains(d, ".") {
			d = mod + "/" + d
		}
		q.Deps = append(q.Deps, d)
	}
	return q
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		pkg  pkg
		want string // "" = no violation
	}{
		{"leaf to yaml", p("scenarios/spec", []string{"go.yaml.in/yaml/v3", "fmt"}, nil), ""},
		{"refserver to sqlite and profile", p("reference-server/refserver", []string{"modernc.org/sqlite", "scenarios/profile", "net/http"}, nil), ""},
		{"refserver to sim", p("reference-server/refserver", []string{"sim"}, []string{"sim"}), "reference-server/refserver imports sim"},
		{"reports to replay, indirectly", p("reports", []string{"scenarios/results"}, []string{"scenarios/replay"}), "reports depends (transitively) on scenarios/replay"},
		{"sim reaching the network", p("sim", []string{"scenarios"}, []string{"net/http"}), "sim depends (transitively) on net/http"},
		{"sim subpackage follows sim", p("sim/engine", []string{"reports"}, nil), "sim/engine imports reports"},
		{"queueing keeps its own rule", p("sim/queueing", []string{"gonum.org/v1/gonum/optimize"}, nil), ""},
		{"commands import anything", p("cmd/surge", []string{"reports", "scenarios/replay", "github.com/spf13/cobra"}, nil), ""},
		{"unknown package", p("util", nil, nil), "util: no import rule"},
	}
	for _, c := range cases {
		bad := check([]pkg{c.pkg})
		got := strings.Join(bad, "\n")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: violations %q, want %q", c.name, got, c.want)
		}
	}
}

// An allowance that no package of its rule imports is a violation; one that
// some package uses is not.
func TestUnusedAllowances(t *testing.T) {
	got := strings.Join(unused([]pkg{p("scenarios/fault", []string{"fmt"}, nil)}), "\n")
	if !strings.Contains(got, "scenarios/fault: its rule allows scenarios/spec, which none of its packages imports") {
		t.Errorf("an unused allowance: %q", got)
	}
	if got := unused([]pkg{p("scenarios/fault", []string{"scenarios/spec"}, nil)}); len(got) != 0 {
		t.Errorf("a used allowance is called unused: %q", got)
	}
}

// TestREADMEShowsTheRules: the README's layout section holds the rules as
// -table prints them, so the documented direction cannot drift from the
// enforced one.
func TestREADMEShowsTheRules(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), table()) {
		t.Errorf("README.md does not hold the import rules as `go run ./ci/importrules -table` prints them:\n%s", table())
	}
}
