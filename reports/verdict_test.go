package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

func fixture(t *testing.T, slo string) (*scenarios.Scenario, *results.Run) {
	s, err := scenarios.Parse("v.yaml", []byte(`name: v
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 10, profile: [100%]}
platforms: {kakao: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
journeys: {j: [{request: qr}, {request: checkin}]}
slo: `+slo))
	if err != nil {
		t.Fatal(err)
	}
	r := results.New(results.Meta{Scenario: "v", Kind: "run", Ended: "done", Complete: true})
	for i := range 100 { // qr: 1..100 ms, and 2 timeouts of 10 s
		r.Record("qr", results.Outcome{Corrected: time.Duration(i+1) * time.Millisecond, First: true})
	}
	for range 2 {
		r.Record("qr", results.Outcome{Corrected: 10 * time.Second, Err: "timeout"})
	}
	r.Record("checkin", results.Outcome{Corrected: time.Second, First: true})
	r.Count(0, results.Users{Arrived: 10, Completed: 9, Abandoned: 1})
	return s, r
}

func TestEvaluate(t *testing.T) {
	cases := []struct {
		clause   string
		pass     bool
		measured float64
	}{
		{"qr p99 <= 100ms", true, 0.099},
		{"qr p99 <= 90ms", false, 0.099},
		{"qr max < 100ms", false, 0.100},
		{"qr timeouts <= 2%", true, 2.0 / 102},
		{"errors <= 1%", false, 2.0 / 103},
		{"qr p99_all <= 1s", false, 10},
		{"qr p50_failed <= 5s", false, 10},
		{"qr p99_failed <= 20s", true, 10},
		{"goodput >= 90%", true, 0.9},
		{"goodput > 90%", false, 0.9},
		{"abandonment <= 5%", false, 0.1},
		{"retry_amplification <= 1.05", true, 103.0 / 101},
		{"checkin p50 <= 2s", true, 1},
		{"identity.request p99 <= 1s", false, 0},
	}
	for _, c := range cases {
		s, r := fixture(t, "["+c.clause+"]")
		v := Evaluate(s, r)
		got := v.Clauses[0]
		if got.Pass != c.pass || v.Go != c.pass || math.Abs(got.Measured-c.measured) > 1e-3*math.Max(1, c.measured) {
			t.Errorf("%s: pass %v measured %v (%s), want %v %v", c.clause, got.Pass, got.Measured, got.Note, c.pass, c.measured)
		}
		var ge *GateError
		if err := v.Err(); c.pass != (err == nil) || !c.pass && (!errors.As(err, &ge) || !errors.Is(err, ErrNoGo)) {
			t.Errorf("%s: Err() = %v", c.clause, err)
		}
	}
	s, r := fixture(t, "[qr p99 <= 1s]")
	if got := Evaluate(s, r).Clauses[0].Margin; got < 0.9 || got > 0.91 {
		t.Errorf("margin %v, want 1s - 99ms", got)
	}
	if got := Evaluate(s, r).Clauses[0].Measured; got < 0.098 || got > 0.1 {
		t.Errorf("margin %v, want 1s - 99ms", got)
	}
	r.Meta.Ended = "aborted: errors > 50% for 1m"
	s.Safety = &scenarios.Safety{AbortIf: scenarios.Clause{Text: "errors > 50%"}}
	if v := Evaluate(s, r); v.Go {
		t.Error("an aborted run passed the gate")
	}
}

func TestDocuments(t *testing.T) {
	s, r := fixture(t, "[qr p99 <= 90ms, goodput >= 90%]")
	rep := New(s, r)
	v := rep.Verdict
	var text, junit, page bytes.Buffer
	Text(&text, rep)
	for _, want := range []string{"surge run v (seed 0): NO-GO", "FAIL  qr p99 <= 90ms", "PASS  goodput >= 90%", "timeout:2", "goodput 90.00%"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	JUnit(&junit, r, v)
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &suite); err != nil || suite.Tests != 2 || suite.Failures != 1 {
		t.Errorf("junit %+v %v:\n%s", suite, err, junit.String())
	}
	HTML(&page, rep)
	if p := page.String(); !strings.Contains(p, `class="banner nogo"`) || strings.Contains(p, "<script src") || strings.Contains(p, "<link") {
		t.Errorf("html report is not a self-contained NO-GO page")
	}
}

// TestFailuresDoNotPassLatencyClauses: a run whose every answer was a fast
// 500 does not meet "p99 <= 250ms"; it has no successful answer to judge,
// and the error clause fails it.
func TestFailuresDoNotPassLatencyClauses(t *testing.T) {
	s, _ := fixture(t, "[qr p99 <= 250ms, errors <= 1%]")
	r := results.New(results.Meta{Scenario: "v", Kind: "run", Ended: "done", Complete: true})
	for range 500 {
		r.Record("qr", results.Outcome{Corrected: 46 * time.Millisecond, First: true, Err: "5xx"})
	}
	v := Evaluate(s, r)
	if v.Go || v.Clauses[0].Pass || !strings.Contains(v.Clauses[0].Note, "no successful answer (500 failed)") || v.Clauses[1].Measured != 1 {
		t.Errorf("all failed: %+v", v)
	}
}

// TestNotEvaluated: a run with nothing to judge it by is neither GO nor
// NO-GO, its error is not a gate failure (exit 1, not 0 or 2), and its
// JUnit is an errored case, not "0 tests".
func TestNotEvaluated(t *testing.T) {
	_, r := fixture(t, "[errors <= 1%]")
	for name, v := range map[string]Verdict{
		"no scenario":   NotEvaluated(r, "no scenario.yaml"),
		"only headroom": Evaluate(must(scenarios.Parse("h.yaml", []byte(headroomOnly))), r),
	} {
		var ge *GateError
		err := v.Err()
		if v.Evaluated || v.Word() != "NOT EVALUATED" || !errors.Is(err, ErrNotEvaluated) || errors.As(err, &ge) {
			t.Errorf("%s: evaluated %v, word %s, err %v", name, v.Evaluated, v.Word(), err)
		}
		var junit bytes.Buffer
		JUnit(&junit, r, v)
		var suite struct {
			Tests  int `xml:"tests,attr"`
			Errors int `xml:"errors,attr"`
		}
		if err := xml.Unmarshal(junit.Bytes(), &suite); err != nil || suite.Tests == 0 || suite.Errors != 1 {
			t.Errorf("%s: junit %+v %v\n%s", name, suite, err, junit.String())
		}
	}
	v := Evaluate(must(scenarios.Parse("h.yaml", []byte(headroomOnly))), r)
	if c := v.Clauses[0]; c.Status != StatusNotEvaluated || !strings.Contains(c.Note, "not evaluated here") {
		t.Errorf("headroom in a run: %+v", c)
	}
}

const headroomOnly = `name: h
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 10, profile: [100%]}
platforms: {kakao: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
journeys: {j: [{request: qr}]}
slo: [headroom >= 1.5]
`

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
