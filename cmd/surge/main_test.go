package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/surgekit/surge/reports"
)

func runSurge(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"version"}, 0, "surge "},
		{[]string{"profile"}, 0, "as-built"},
		{[]string{"profile", "fixed"}, 0, "waiting-room"},
		{[]string{"profile", "nope"}, 1, ""},
		{[]string{"no-such-command"}, 1, ""},
		{[]string{"version", "--seed", "x"}, 1, ""},
	}
	for _, c := range cases {
		code, out, errs := runSurge(c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("surge %v: exit %d, out %q, err %q; want exit %d with %q", c.args, code, out, errs, c.code, c.out)
		}
		if code != 0 && !strings.HasPrefix(errs, "surge: ") {
			t.Errorf("surge %v: failure without a message: %q", c.args, errs)
		}
	}
}

type gateErr struct{}

func (gateErr) Error() string { return "gate failed: p99 1.2s > 1s" }
func (gateErr) Unwrap() error { return reports.ErrNoGo }

func TestExitCodeMapping(t *testing.T) {
	if got := exitCode(fmt.Errorf("run lunch: %w", gateErr{})); got != exitNoGo {
		t.Errorf("wrapped gate failure -> %d, want %d", got, exitNoGo)
	}
	if got := exitCode(errors.New("connection refused")); got != exitError {
		t.Errorf("other error -> %d, want %d", got, exitError)
	}
	if got := exitCode(nil); got != exitPass {
		t.Errorf("nil -> %d", got)
	}
}

func TestJSONOutput(t *testing.T) {
	for _, args := range [][]string{{"version", "--json"}, {"profile", "--json"}, {"profile", "as-built", "--json"}} {
		code, out, errs := runSurge(args...)
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Errorf("surge %v: exit %d, output is not one JSON object: %q %q", args, code, out, errs)
		}
	}
}

func TestValidate(t *testing.T) {
	code, out, _ := runSurge("validate", "../../scenarios/lunch.yaml", "../../scenarios/smoke.yaml")
	if code != 0 || strings.Count(out, ": ok") != 2 {
		t.Errorf("shipped scenarios: exit %d\n%s", code, out)
	}
	bad := t.TempDir() + "/bad.yaml"
	os.WriteFile(bad, []byte("name: x\nscale: 2\narrivals: {start: \"11:00\", bucket: 15m, total: 10, profile: [50%, 40%]}\nplatforms: {kakao: 100%}\ncohorts: [{name: a, share: 100%, journey: nope}]\njourneys: {j: [{request: checkin}]}\n"), 0o644)
	code, out, errs := runSurge("validate", bad)
	for _, want := range []string{bad + ":2: scale: must be within (0, 1]", bad + ":3: arrivals.profile: the buckets add up to 90%", bad + `:5: cohorts[0].journey: unknown journey "nope"`, ":6: journeys.j[0].request: request checkin uses ${token}, which no earlier step of the journey extracts"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || !strings.Contains(errs, "problem(s) in 1 file(s)") {
		t.Errorf("exit %d, stderr %q; want 1 and a count", code, errs)
	}
	if code, _, errs := runSurge("validate", "/no/such.yaml"); code != 1 || !strings.Contains(errs, "1 problem(s)") {
		t.Errorf("missing file: exit %d %q", code, errs)
	}
}

// TestValidateChecksTheProfile: what sim and run refuse, validate refuses:
// a fault on a stage the profile lacks, a platform with no route.
func TestValidateChecksTheProfile(t *testing.T) {
	smoke, err := os.ReadFile("../../scenarios/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lunch, err := os.ReadFile("../../scenarios/lunch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	total := regexp.MustCompile(`(?m)^  total: .*$`)
	cases := map[string]struct{ edit, want string }{
		"total past any country": {total.ReplaceAllString(string(lunch), "  total: 1e18"), "arrivals.total: 1e+18 is more than 1e+10"},
		"played arrivals":        {total.ReplaceAllString(string(lunch), "  total: 9e9"), "plays 1.8e+08 arrivals, more than the 1e+08 one run may play"},
		"fault stage": {string(smoke) + "\nfaults:\n  - {name: f, at: \"12:00\", for: 1m, kind: error, stage: no-such-stage, status: 503}\n",
			`faults[0].stage: profile as-built has no stage "no-such-stage"`},
		"platform": {strings.Replace(string(smoke), "platforms: {kakao: 50%, naver: 50%}", "platforms: {kakao: 50%, cyworld: 50%}", 1),
			`profile as-built has no stage "relay.cyworld" for platform cyworld`},
	}
	for name, c := range cases {
		path := dir + "/" + strings.ReplaceAll(name, " ", "-") + ".yaml"
		os.WriteFile(path, []byte(c.edit), 0o644)
		code, out, _ := runSurge("validate", path)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, output %q; want 1 and %q", name, code, out, c.want)
		}
		if code, _, _ := runSurge("sim", path, "--out", dir+"/sim-"+strings.ReplaceAll(name, " ", "-"), "--quiet"); code != 1 {
			t.Errorf("%s: sim exit %d, want 1 as validate", name, code)
		}
	}
}

func TestSizeAndUSLCommands(t *testing.T) {
	code, out, _ := runSurge("size", "--arrival-rate", "1500", "--service", "exp:20ms", "--slo", "p99<=100ms", "--json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["servers"] != 33.0 || v["feasible"] != true || v["at_n_minus_1"] == nil {
		t.Errorf("size: exit %d %s", code, out)
	}
	if !strings.Contains(out, `"p99<=100ms"`) {
		t.Errorf("JSON escapes the SLO text: %s", out)
	}
	// The scenario's notation is the same SLO.
	if code, out, _ := runSurge("size", "--arrival-rate", "1500", "--service", "exp:20ms", "--slo", "p99 <= 100ms", "--json"); code != 0 || !strings.Contains(out, `"p99<=100ms"`) {
		t.Errorf("the scenario's notation: exit %d %s", code, out)
	}
	code, out, _ = runSurge("size", "--arrival-rate", "1500", "--service", "exp:20ms", "--slo", "p99<=50ms", "--json")
	if code != 1 || !strings.Contains(out, `"feasible":false`) || !strings.Contains(out, "service time's own p99") {
		t.Errorf("infeasible: exit %d %s", code, out)
	}
	for _, args := range [][]string{
		{"size", "--arrival-rate", "-5", "--service", "exp:20ms", "--slo", "p99<=1s"},
		{"size", "--arrival-rate", "100", "--service", "uniform(1ms, 3ms)", "--slo", "p99<=1s"},
		{"size", "--arrival-rate", "100", "--service", "exp:20ms", "--slo", "qr p99 < 1s"}, // a scenario's clause naming a request
		{"size", "--arrival-rate", "100", "--service", "exp:20ms"},
	} {
		if code, _, errs := runSurge(args...); code != 1 || errs == "" {
			t.Errorf("%v: exit %d %q", args, code, errs)
		}
	}
	csv := filepath.Join(t.TempDir(), "m.csv")
	os.WriteFile(csv, []byte("load,throughput\n1,118\n4,400\n8,650\n16,930\n32,1120\n64,1010\n"), 0o644)
	code, out, _ = runSurge("usl", "fit", csv, "--predict", "10,50", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["peak_load"] == nil || v["method"] == nil || len(v["predictions"].(map[string]any)) != 2 {
		t.Errorf("usl fit: exit %d %s", code, out)
	}
	os.WriteFile(csv, []byte("load,throughput\n1,118\n4,many\n"), 0o644)
	if code, _, errs := runSurge("usl", "fit", csv); code != 1 || !strings.Contains(errs, "line 3") {
		t.Errorf("bad csv: exit %d %q", code, errs)
	}
	if code, out, _ := runSurge("usl", "solve", "--sigma", "0.05", "--kappa", "0.0008", "--lambda", "120", "--throughput", "1000"); code != 0 || !strings.Contains(out, "load 17 reaches") {
		t.Errorf("usl solve: exit %d %s", code, out)
	}
	if code, _, _ := runSurge("usl", "solve", "--sigma", "0.05", "--kappa", "0.0008", "--lambda", "120", "--throughput", "2000"); code != 1 {
		t.Errorf("unreachable: exit %d", code)
	}
}
