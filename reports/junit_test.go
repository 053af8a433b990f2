package reports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// xmllint is the schema validator (Debian's libxml2-utils); the test skips
// without it unless SURGE_REQUIRE_XMLLINT is set, as .ci/run sets it.
func xmllint(t *testing.T) string {
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("SURGE_REQUIRE_XMLLINT") != "" {
			t.Fatal("no xmllint, and SURGE_REQUIRE_XMLLINT is set")
		}
		t.Skip("no xmllint on this machine: bash ci/install-xmllint.sh installs it (the CI does)")
	}
	return bin
}

// validate runs xmllint --schema testdata/junit.xsd on doc.
func validate(t *testing.T, bin string, doc []byte) error {
	path := filepath.Join(t.TempDir(), "junit.xml")
	os.WriteFile(path, doc, 0o644)
	out, err := exec.Command(bin, "--noout", "--schema", filepath.Join("testdata", "junit.xsd"), path).CombinedOutput()
	if err != nil {
		return &schemaError{string(out)}
	}
	return nil
}

type schemaError struct{ out string }

func (e *schemaError) Error() string { return e.out }

// TestJUnitFollowsTheSchema: every kind of JUnit document surge writes
// (GO, NO-GO with a failing clause, a clause not evaluated, a run not
// evaluated, names and notes with XML's special characters, a run of no
// length and one of days) validates against the schema the CI viewers read,
// each clause is a test case whose message has the measured value, the
// limit and the margin; and the schema does reject a document the viewers
// could not read.
func TestJUnitFollowsTheSchema(t *testing.T) {
	bin := xmllint(t)
	s, r := fixture(t, "[qr p99 <= 90ms, goodput >= 90%, qr p50 <= 1s]")
	failing := Evaluate(s, r)
	s2, _ := fixture(t, "[goodput >= 50%]")
	passing := Evaluate(s2, r)
	odd := *r
	odd.Meta.Scenario = `a<b&"c"`
	headroom := Evaluate(must(scenarios.Parse("h.yaml", []byte(headroomOnly))), r)
	long := *r
	long.Meta.Elapsed = 3 * 24 * time.Hour
	short := *r
	short.Meta.Elapsed = 15 * time.Microsecond
	empty := results.New(results.Meta{Scenario: "e", Kind: "run", Ended: "done", Complete: true})
	for name, c := range map[string]struct {
		run   *results.Run
		v     Verdict
		tests int
	}{
		"no-go":         {r, failing, 3},
		"go, odd name":  {&odd, passing, 1},
		"headroom only": {r, headroom, 2},
		"not evaluated": {empty, NotEvaluated(empty, `no scenario.yaml & <nothing> to judge`), 1},
		"three days":    {&long, failing, 3},
		"15µs":          {&short, failing, 3},
	} {
		var b bytes.Buffer
		if err := JUnit(&b, c.run, c.v); err != nil {
			t.Fatal(err)
		}
		if err := validate(t, bin, b.Bytes()); err != nil {
			t.Errorf("%s: does not follow junit.xsd: %v\n%s", name, err, b.String())
		}
		if got := strings.Count(b.String(), "<testcase "); got != c.tests {
			t.Errorf("%s: %d test cases, want %d", name, got, c.tests)
		}
	}
	var b bytes.Buffer
	JUnit(&b, r, failing)
	if !strings.Contains(b.String(), `message="measured 99.0ms, limit 90.0ms, margin -9.0ms"`) {
		t.Errorf("the failing clause's message lacks measured, limit and margin:\n%s", b.String())
	}
	for _, bad := range []string{
		`<testsuite tests="1"><testcase classname="x"/></testsuite>`,                      // no names
		`<testsuite name="s" tests="1" time="1e-05"><testcase name="c"/></testsuite>`,     // time not a decimal
		`<testsuite name="s" tests="1"><testcase name="c"><oops/></testcase></testsuite>`, // unknown element
	} {
		if err := validate(t, bin, []byte(bad)); err == nil {
			t.Errorf("junit.xsd accepts %s", bad)
		}
	}
}
