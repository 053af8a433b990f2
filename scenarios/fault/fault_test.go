package fault

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/surgekit/surge/scenarios/spec"
)

// TestKindsHaveOneList: outside this package no Go file defines a fault
// kind's name or lists the kinds by hand; they read the table.
func TestKindsHaveOneList(t *testing.T) {
	var names []string
	for _, k := range kinds {
		names = append(names, regexp.QuoteMeta(string(k.kind)))
	}
	alt := strings.Join(names, "|")
	second := []*regexp.Regexp{
		regexp.MustCompile(`=\s*"(` + alt + `)"`),             // a constant of a kind's name
		regexp.MustCompile(`"slow_under_load"`),               // the one name no other concept has
		regexp.MustCompile(`\b(` + alt + `), (` + alt + `),`), // a list typed by hand
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "fault" && filepath.Base(filepath.Dir(path)) == "scenarios" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, re := range second {
			if m := re.Find(src); m != nil {
				t.Errorf("%s: %q: fault kinds belong in scenarios/fault's table", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTableSaysWhereKindsAct(t *testing.T) {
	if got := List(Proxy); got != "latency, error, stall, outage, bandwidth, reset" {
		t.Errorf("the proxy's kinds: %s", got)
	}
	if got := List(Stage | Sim); got != "latency, error, stall, capacity, outage, slow_under_load" {
		t.Errorf("a stage's kinds (that the simulator also predicts): %s", got)
	}
	if Reset.Acts()&Sim != 0 || Capacity.Acts()&Client != 0 || Kind("melt").Acts() != 0 {
		t.Errorf("reset acts at %v, capacity at %v", Reset.Acts(), Capacity.Acts())
	}
}

func TestCheckNamesTheField(t *testing.T) {
	neg := spec.Const(-1)
	half := spec.Percent(1.5)
	for _, c := range []struct {
		p     Params
		where Where
		field string
		want  string
	}{
		{Params{}, Stage, "kind", "required (latency, error, stall, capacity, outage, slow_under_load)"},
		{Params{Kind: "melt"}, Proxy, "kind", `unknown fault kind "melt" (latency, error, stall, outage, bandwidth, reset)`},
		{Params{Kind: Capacity}, Client | Sim, "kind", "a capacity fault acts on a stage of the service, not on the client side"},
		{Params{Kind: Latency}, Stage, "latency", "a latency fault needs latency"},
		{Params{Kind: Latency, Latency: &neg}, Proxy, "latency", "cannot be negative"},
		{Params{Kind: Error, Status: 200}, Stage, "status", "4xx or 5xx"},
		{Params{Kind: Stall, Probability: &half}, Stage, "probability", "within 0% and 100%"},
		{Params{Kind: SlowUnderLoad, Above: 5, Factor: 1}, Stage, "factor", "must be above 1"},
		{Params{Kind: Bandwidth}, Client, "bandwidth", "bytes per second"},
	} {
		e := c.p.First(c.where)
		if e == nil || e.Field != c.field || !strings.Contains(e.Message, c.want) {
			t.Errorf("%+v at %v: %v, want %s: ...%s", c.p, c.where, e, c.field, c.want)
		}
	}
	ok := Params{Kind: Outage}
	if e := ok.First(Stage | Proxy | Client | Sim); e != nil {
		t.Errorf("an outage: %v", e)
	}
}
