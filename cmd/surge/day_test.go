package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/results"
)

// TestThirteenDecemberInSim: 13-dec.yaml in the simulator tells the day's
// story with no hand-set carry-over: on as-built the lunch is NO-GO, and
// the users it failed come back at dinner (every one who chose to, within
// the day) and push QR and check-in p99 past their SLOs while goodput
// holds; on fixed both meals hold and almost nobody comes back.
func TestThirteenDecemberInSim(t *testing.T) {
	day := func(profile string) (int, map[string]reports.ClauseResult, results.Users) {
		dir := filepath.Join(t.TempDir(), profile)
		code, out, errs := runSurge("sim", filepath.Join("..", "..", "scenarios", "13-dec.yaml"), "--profile", profile, "--out", dir)
		var sum struct {
			Verdict reports.Verdict `json:"verdict"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil || json.Unmarshal(b, &sum) != nil {
			t.Fatalf("%s: exit %d, %v\n%s\n%s", profile, code, err, out, errs)
		}
		clauses := map[string]reports.ClauseResult{}
		for _, c := range sum.Verdict.Clauses {
			clauses[c.Clause] = c
		}
		run, err := results.ReadFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		var from int64
		for _, n := range run.LeftFrom {
			from += n
		}
		if from != run.Users.Left {
			t.Errorf("%s: %d left by where they gave up (%v), %d in all", profile, from, run.LeftFrom, run.Users.Left)
		}
		return code, clauses, run.Users
	}
	code, c, u := day("as-built")
	if code != 2 {
		t.Errorf("as-built: exit %d, want 2 (NO-GO)", code)
	}
	for _, name := range []string{"qr p99 <= 2s at lunch", "checkin p99 <= 2s at lunch", "goodput >= 99% at lunch", "qr p99 <= 2s at dinner", "checkin p99 <= 2s at dinner"} {
		if cl, ok := c[name]; !ok || cl.Pass {
			t.Errorf("as-built: %q passes (%+v), want it failed", name, cl)
		}
	}
	if cl := c["goodput >= 99% at dinner"]; !cl.Pass {
		t.Errorf("as-built: the dinner's goodput fails (%v): degraded, not dead, was wanted", cl.Measured)
	}
	if u.Left < 1000 || u.Returned != u.Left || u.ReturnedCompleted < u.Returned*9/10 {
		t.Errorf("as-built: %d left to come back, %d returned, %d of them completed; want every one of over 1000 back, most completing", u.Left, u.Returned, u.ReturnedCompleted)
	}
	asBuiltLeft := u.Left
	// The page and the summary show the day: the returns chart, and by period
	// the lunch's departures and the dinner's returns.
	dir := filepath.Join(t.TempDir(), "as-built")
	runSurge("sim", filepath.Join("..", "..", "scenarios", "13-dec.yaml"), "--out", dir)
	var sum struct {
		Periods []reports.PeriodFigures `json:"periods"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if json.Unmarshal(b, &sum); len(sum.Periods) != 2 || sum.Periods[0].Name != "lunch" || sum.Periods[1].Name != "dinner" {
		t.Fatalf("summary periods: %+v", sum.Periods)
	}
	if l, d := sum.Periods[0].Users, sum.Periods[1].Users; l.Left < u.Left*9/10 || d.Returned != u.Returned || l.Returned != 0 {
		t.Errorf("by period: lunch %d left, %d back; dinner %d back (of %d left, %d back in all): want the lunch's leavers back at dinner",
			l.Left, l.Returned, d.Returned, u.Left, u.Returned)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{`id="surge_returns"`, "Coming back later", "By period", "lunch 11:00-14:00", "qr p99 &lt;= 2s at dinner"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	code, c, u = day("fixed")
	if code != 0 {
		t.Errorf("fixed: exit %d, want 0 (GO)", code)
	}
	for name, cl := range c {
		if !cl.Pass {
			t.Errorf("fixed: %q fails (measured %v)", name, cl.Measured)
		}
	}
	if u.Left*100 > asBuiltLeft || u.Left*100 > u.Arrived {
		t.Errorf("fixed: %d came back later of %d arrived (as-built: %d); want almost none", u.Left, u.Arrived, asBuiltLeft)
	}
	if !strings.Contains(strings.Join(keys(c), ","), "at dinner") {
		t.Errorf("no per-meal clause in the verdict: %v", keys(c))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestComeBackLiveAndPredicted: the users an outage fails at "lunch" come
// back at "dinner" and succeed, every one of them, in a live run against
// the embedded server and in sim alike; the clauses judged per period say
// the lunch failed and the dinner held.
func TestComeBackLiveAndPredicted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded server for seconds")
	}
	src := `name: meals
target: {profile: as-built}
scale: 1
arrivals: {start: "12:00", bucket: 2s, total: 100, profile: [25%, 25%, 0%, 0%, 25%, 25%], process: uniform}
periods: {lunch: {from: "12:00:00", to: "12:00:04"}, dinner: {from: "12:00:08", to: "12:00:12"}}
platforms: {naver: 100%}
cohorts: [{name: returning, share: 100%, journey: returning}]
journeys: {returning: [{request: qr}]}
behaviour: {give_up: {come_back: 100%}, come_back: {within: dinner}}
faults: [{name: kdca-down, at: "12:00:00", for: 6s, kind: outage, stage: kdca}]
slo: [{clause: "errors <= 1%", at: lunch}, {clause: "errors <= 1%", at: dinner}, {clause: "goodput >= 99%", at: dinner}]
`
	path := filepath.Join(t.TempDir(), "meals.yaml")
	os.WriteFile(path, []byte(src), 0o644)
	for _, cmd := range []string{"run", "sim"} {
		dir := filepath.Join(t.TempDir(), cmd)
		code, out, errs := runSurge(cmd, path, "--out", dir, "--quiet")
		run, err := results.ReadFile(dir)
		if err != nil || code != 2 {
			t.Fatalf("%s: exit %d (want 2: the lunch fails), %v\n%s\n%s", cmd, code, err, out, errs)
		}
		if u := run.Users; u.Arrived != 100 || u.Left != 50 || u.Returned != 50 || u.ReturnedCompleted != 50 || u.Completed != 100 {
			t.Errorf("%s: users %+v; want the 50 lunch users to leave, come back and complete", cmd, u)
		}
		if len(run.LeftFrom) != 1 || run.LeftFrom["qr"] != 50 {
			t.Errorf("%s: left from %v, want all 50 from qr", cmd, run.LeftFrom)
		}
		for b, u := range run.UserBuckets {
			at := time.Duration(b) * run.Meta.Bucket
			if u.Returned > 0 && (at < 8*time.Second || at >= 12*time.Second) {
				t.Errorf("%s: %d returned at %v, outside dinner (8-12 s)", cmd, u.Returned, at)
			}
		}
		for _, want := range []string{"FAIL  errors <= 1% at lunch", "PASS  errors <= 1% at dinner", "PASS  goodput >= 99% at dinner"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the summary lacks %q:\n%s", cmd, want, out)
			}
		}
	}
}
