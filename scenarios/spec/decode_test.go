package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type stageDoc struct {
	Workers int           `yaml:"workers"`
	Timeout time.Duration `yaml:"timeout"`
	Service Dist          `yaml:"service"`
}

type doc struct {
	Name   string              `yaml:"name"`
	Stages map[string]stageDoc `yaml:"stages"`
	Steps  []struct {
		Stage string `yaml:"stage"`
	} `yaml:"steps"`
}

func (d *doc) Validate(p *Problems) {
	for name, s := range d.Stages {
		if s.Workers < 1 {
			p.Addf(Join("stages", name, "workers"), "must be at least 1, have %d", s.Workers)
		}
	}
}

func TestDecodeErrorsNameFileLineAndPath(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // each "line: path: substring"
	}{
		{"unknown key", "name: x\nstages:\n  kdca:\n    workers: 2\n    wrokers: 3\n",
			[]string{`5: stages.kdca.wrokers: unknown key "wrokers" (known: service, timeout, workers)`}},
		{"wrong type", "name: x\nstages:\n  kdca:\n    workers: many\n",
			[]string{"4: stages.kdca.workers: cannot decode !!str `many` into int"}},
		{"wrong type in flow mapping", "stages:\n  kdca: {workers: 2, timeout: soon}\n",
			[]string{"2: stages.kdca.timeout: cannot decode !!str `soon` into time.Duration"}},
		{"bad distribution", "stages:\n  kdca:\n    workers: 1\n    service: exp(-3ms)\n",
			[]string{"4: stages.kdca.service: distribution \"exp(-3ms)\": mean: negative duration"}},
		{"unquoted comma in flow", "stages:\n  kdca: {workers: 1, service: uniform(1ms, 2ms)}\n",
			[]string{"2: stages.kdca.service: distribution \"uniform(1ms\": unbalanced parentheses", `2: stages.kdca.2ms): unknown key`}},
		{"sequence index", "steps:\n  - stage: a\n  - stage: [b]\n",
			[]string{"3: steps[1].stage: cannot decode !!seq into string"}},
		{"validation", "name: x\nstages:\n  a: {workers: 1}\n  b:\n    workers: 0\n",
			[]string{"5: stages.b.workers: must be at least 1, have 0"}},
		{"every problem at once", "name: [x]\nstages:\n  a: {workers: one}\nextra: 1\n",
			[]string{"1: name: cannot decode", "3: stages.a.workers: cannot decode", `4: extra: unknown key "extra"`}},
		{"syntax", "name: x\nstages: {a: 1\n", []string{"1: did not find expected ',' or '}'"}},
		{"empty", "", []string{" empty document"}},
		{"two documents", "name: a\n---\nname: b\n", []string{"2: more than one YAML document"}},
		{"duplicate key", "name: a\nname: b\n", []string{`2: name: mapping key "name" already defined at line 1`}},
		// yaml.v3's messages name a line only: two bad values alike on one
		// line are told apart by the node tree alone.
		{"alike on one line", "steps: [{stage: [a]}, {stage: [a]}]\n",
			[]string{"1: steps[0].stage: cannot decode !!seq into string", "1: steps[1].stage: cannot decode !!seq into string"}},
		{"nested duplicate in a flow mapping", "stages: {a: {workers: 1, workers: 2}}\n",
			[]string{`1: stages.a.workers: mapping key "workers" already defined at line 1`}},
		{"a map key of the wrong type", "name: x\nsteps:\n  - stage: a\n  -\n    stage: {b: 1}\n",
			[]string{"5: steps[1].stage: cannot decode !!map into string"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			_, err := Decode("lunch.yaml", []byte(c.yaml), &d)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v (%T), want spec.Errors", err, err)
			}
			if len(es) != len(c.want) {
				t.Errorf("%d errors, want %d:\n%v", len(es), len(c.want), err)
			}
			for _, w := range c.want {
				if want := "lunch.yaml:" + w; !strings.Contains(err.Error(), want) {
					t.Errorf("errors do not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestDecodeValid(t *testing.T) {
	var d doc
	loc, err := Decode("ok.yaml", []byte("name: lunch\nstages:\n  kdca:\n    workers: 8\n    timeout: 250ms\n    service: exp(20ms)\n"), &d)
	if err != nil {
		t.Fatal(err)
	}
	s := d.Stages["kdca"]
	if d.Name != "lunch" || s.Workers != 8 || s.Timeout != 250*time.Millisecond || s.Service != Exp(20*time.Millisecond) {
		t.Errorf("decoded %+v", d)
	}
	if got := loc.Errorf("stages.kdca.service", "too slow").Error(); got != "ok.yaml:6: stages.kdca.service: too slow" {
		t.Errorf("later error = %q", got)
	}
	if got := loc.Line("stages.kdca.nothing.here"); got != 3 {
		t.Errorf("line of an unknown path = %d, want its nearest ancestor's (3)", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("name: x\nstages:\n  a: {workers: 1, service: exp(2ms)}\nsteps: [{stage: a}]\n")
	f.Add("stages: {a: {workers: [1]}}")
	f.Add("- 1\n- 2\n")
	f.Add("&a x: *a\n")
	f.Fuzz(func(t *testing.T, in string) {
		var d doc
		_, err := Decode("fuzz.yaml", []byte(in), &d)
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Errorf("error without the file name: %v", err)
		}
	})
}

type bigDoc struct {
	Stages map[string]stageDoc `yaml:"stages"`
	Body   map[string]any      `yaml:"body"`
	Steps  []struct {
		Kinds map[string]string `yaml:"kinds"`
	} `yaml:"steps"`
}

// bigYAML writes n stages, a body of n keys (one a mapping of n keys) and a
// step whose kinds hold n entries: every mapping past the size yaml.v3
// handles in n² is decoded by Decode's own path.
func bigYAML(n int, edit func(i int) string) string {
	var b strings.Builder
	b.WriteString("stages:\n")
	for i := range n {
		if e := edit(i); e != "" {
			b.WriteString(e)
			continue
		}
		fmt.Fprintf(&b, "  s%d: {workers: %d, service: exp(%dms)}\n", i, i+1, i+1)
	}
	b.WriteString("body:\n  none: null\n  nested:\n")
	for i := range n {
		fmt.Fprintf(&b, "    k%d: [%d, x]\n", i, i)
	}
	for i := range n {
		fmt.Fprintf(&b, "  b%d: %d\n", i, i)
	}
	b.WriteString("steps:\n  - kinds:\n")
	for i := range n {
		fmt.Fprintf(&b, "      e%d: v%d\n", i, i)
	}
	return b.String()
}

func TestBigMappingsDecodeAsYAMLDoes(t *testing.T) {
	in := bigYAML(300, func(int) string { return "" })
	var got bigDoc
	if _, err := Decode("big.yaml", []byte(in), &got); err != nil {
		t.Fatal(err)
	}
	var want bigDoc
	if err := yaml.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode and yaml.Unmarshal differ on big mappings")
	}
	if len(got.Stages) != 300 || got.Stages["s299"].Workers != 300 || len(got.Body) != 302 || len(got.Body["nested"].(map[string]any)) != 300 || got.Steps[0].Kinds["e7"] != "v7" {
		t.Errorf("decoded %d stages, body %d keys, s299 %+v", len(got.Stages), len(got.Body), got.Stages["s299"])
	}
}

func TestBigMappingsKeepTheirErrors(t *testing.T) {
	in := bigYAML(300, func(i int) string {
		switch i {
		case 100:
			return "  s100: {workers: many}\n"
		case 200:
			return "  s7: {workers: 1}\n"
		case 250:
			return "  s250: {wrokers: 1}\n"
		}
		return ""
	})
	var d bigDoc
	_, err := Decode("big.yaml", []byte(in), &d)
	for _, w := range []string{
		"big.yaml:102: stages.s100.workers: cannot decode !!str `many` into int",
		`big.yaml:202: stages.s7: mapping key "s7" already defined at line 9`,
		`big.yaml:252: stages.s250.wrokers: unknown key "wrokers"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("errors do not contain %q:\n%v", w, err)
		}
	}
}

// BenchmarkDecodeBigMapping shows the cost per key stays flat as mappings
// grow (yaml.v3 alone is quadratic: 100,000 journeys took 26 s).
func BenchmarkDecodeBigMapping(b *testing.B) {
	// "bad" has one value that fails to decode in its middle: locating it
	// from the node tree must not make the error path quadratic either.
	for _, n := range []int{1_000, 10_000, 100_000} {
		for _, bad := range []bool{false, true} {
			in := []byte(bigYAML(n, func(i int) string {
				if bad && i == n/2 {
					return "  bad: {workers: many}\n"
				}
				return ""
			}))
			b.Run(fmt.Sprintf("%d/bad=%v", n, bad), func(b *testing.B) {
				for b.Loop() {
					var d bigDoc
					if _, err := Decode("big.yaml", in, &d); (err != nil) != bad {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(3*n), "ns/key")
			})
		}
	}
}

func TestOversizedDocumentsAreRefusedBeforeReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(path, make([]byte, MaxDocument+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, MaxDocument); err == nil || !strings.Contains(err.Error(), "huge.yaml: file too large (larger than 16 MiB") {
		t.Errorf("ReadFile of a file past the limit: %v", err)
	}
	var d doc
	if _, err := Decode("huge.yaml", make([]byte, MaxDocument+1), &d); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("Decode of a document past the limit: %v", err)
	}
}
