package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
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
	for i := range 100 { // qr: 1..100 ms, 2 timeouts
		o := results.Outcome{Corrected: time.Duration(i+1) * time.Millisecond, First: true}
		if i >= 98 {
			o.Err = "timeout"
		}
		r.Record("qr", o)
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
		{"qr timeouts <= 2%", true, 0.02},
		{"errors <= 1%", false, 2.0 / 101},
		{"goodput >= 90%", true, 0.9},
		{"goodput > 90%", false, 0.9},
		{"abandonment <= 5%", false, 0.1},
		{"retry_amplification <= 1", true, 1},
		{"checkin p50 <= 2s", true, 1},
		{"identity.request p99 <= 1s", false, 0},
	}
	for _, c := range cases {
		s, r := fixture(t, "["+c.clause+"]")
		v := Evaluate(s, r)
		got := v.Clauses[0]
		if got.Pass != c.pass || v.Go != c.pass || (got.Measured-c.measured) > 1e-3 || (c.measured-got.Measured) > 1e-3 {
			t.Errorf("%s: pass %v measured %v (%s), want %v %v", c.clause, got.Pass, got.Measured, got.Note, c.pass, c.measured)
		}
		var ge *GateError
		if err := v.Err(); c.pass != (err == nil) || !c.pass && (!errors.As(err, &ge) || !ge.GateFailed()) {
			t.Errorf("%s: Err() = %v", c.clause, err)
		}
	}
	s, r := fixture(t, "[qr p99 <= 1s]")
	if got := Evaluate(s, r).Clauses[0].Margin; got < 0.9 || got > 0.91 {
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
