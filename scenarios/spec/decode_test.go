package spec

import (
	"errors"
	"strings"
	"testing"
	"time"
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
