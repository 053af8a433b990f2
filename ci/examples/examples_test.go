// Package examples holds the CI examples (a GitHub Actions workflow and a
// GitLab CI job) and the checks that keep them true: actionlint passes the
// workflow, and both run a shipped scenario as a gate, with the JUnit file
// the system shows and the run directory kept as an artifact.
package examples

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"

	"github.com/surgekit/surge/scenarios"
)

func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{Shellcheck: "", Pyflakes: ""})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFile("github-actions.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("github-actions.yml:%d:%d: %s [%s]", e.Line, e.Column, e.Message, e.Kind)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run  string         `yaml:"run"`
				Uses string         `yaml:"uses"`
				If   string         `yaml:"if"`
				With map[string]any `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, "github-actions.yml", &wf)
	var script []string
	kept := ""
	for _, st := range wf.Jobs["surge"].Steps {
		script = append(script, st.Run)
		if strings.HasPrefix(st.Uses, "actions/upload-artifact") {
			if st.If != "always()" {
				t.Errorf("the artifact step runs only on success (if: %q): a NO-GO's report would be lost", st.If)
			}
			kept, _ = st.With["path"].(string)
		}
	}
	out, junit := checkGate(t, "github-actions.yml", script)
	if !strings.Contains(kept, out+"/") || !strings.Contains(kept, junit) {
		t.Errorf("the artifact keeps %q, want the run directory %s and %s", kept, out, junit)
	}
}

func TestGitLabJobRunsTheGate(t *testing.T) {
	var ci map[string]struct {
		Script    []string `yaml:"script"`
		Artifacts struct {
			When    string   `yaml:"when"`
			Paths   []string `yaml:"paths"`
			Reports struct {
				JUnit string `yaml:"junit"`
			} `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	readYAML(t, "gitlab-ci.yml", &ci)
	job, ok := ci["surge-gate"]
	if !ok {
		t.Fatal("gitlab-ci.yml has no surge-gate job")
	}
	out, junit := checkGate(t, "gitlab-ci.yml", job.Script)
	if job.Artifacts.When != "always" || !slices.Contains(job.Artifacts.Paths, out+"/") || job.Artifacts.Reports.JUnit != junit {
		t.Errorf("artifacts %+v: want when always, paths [%s/], reports.junit %s", job.Artifacts, out, junit)
	}
}

var gateRE = regexp.MustCompile(`surge run (\S+\.yaml) --out (\S+) --junit (\S+)`)

// checkGate finds the surge run line of a CI script: its scenario must be
// one the repository ships, valid, with a gate; it returns the run
// directory and the JUnit file.
func checkGate(t *testing.T, file string, script []string) (out, junit string) {
	t.Helper()
	for _, line := range script {
		if m := gateRE.FindStringSubmatch(line); m != nil {
			s, err := scenarios.Load(filepath.Join("..", "..", m[1]))
			if err != nil {
				t.Errorf("%s: the gate's scenario: %v", file, err)
			} else if len(s.SLO) == 0 {
				t.Errorf("%s: %s has no SLO: the gate would judge nothing", file, m[1])
			}
			return m[2], m[3]
		}
	}
	t.Fatalf("%s: no `surge run SCENARIO --out DIR --junit FILE` step", file)
	return "", ""
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
