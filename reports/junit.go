package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"

	"github.com/surgekit/surge/scenarios/results"
)

// JUnit writes one test case per gate clause, for CI systems that read
// JUnit XML: a failed clause is a failure whose message says what was
// measured, the limit and the margin; a clause the run cannot judge is
// skipped; a verdict that judged nothing is one errored case saying why,
// so a CI job never reads "0 tests, 0 failures" as a pass.
func JUnit(w io.Writer, r *results.Run, v Verdict) error {
	type message struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *message `xml:"failure,omitempty"`
		Error     *message `xml:"error,omitempty"`
		Skipped   *message `xml:"skipped,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Time     string     `xml:"time,attr"` // decimal seconds: the viewers' schema has no exponents
		Cases    []testcase `xml:"testcase"`
	}
	class := "surge.gate." + r.Meta.Scenario
	s := suite{Name: "surge " + r.Meta.Scenario, Time: strconv.FormatFloat(r.Meta.Elapsed.Seconds(), 'f', 3, 64)}
	for _, c := range v.Clauses {
		tc := testcase{Name: c.Clause, Classname: class}
		msg := fmt.Sprintf("measured %s, limit %s, margin %s", format(c.Unit, c.Measured), format(c.Unit, c.Limit), format(c.Unit, c.Margin))
		if c.Note != "" {
			msg += " (" + c.Note + ")"
		}
		switch {
		case !c.Evaluated():
			s.Skipped++
			tc.Skipped = &message{Message: c.Note, Text: c.Note}
		case !c.Pass:
			s.Failures++
			tc.Failure = &message{Message: msg, Text: msg}
		}
		s.Cases = append(s.Cases, tc)
	}
	if !v.Evaluated {
		s.Errors++
		why := "not evaluated: " + v.Why
		s.Cases = append(s.Cases, testcase{Name: "gate", Classname: class, Error: &message{Message: why, Text: why}})
	}
	s.Tests = len(s.Cases)
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
