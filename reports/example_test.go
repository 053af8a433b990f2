package reports_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/sim"
)

// New judges a run (measured or predicted) against its scenario's gate;
// the report renders it as text, JSON, JUnit or the HTML page. Here the
// prediction of the go-live lunch against the system as built.
func ExampleNew() {
	s, err := scenarios.Load("../scenarios/first-download.yaml")
	if err != nil {
		panic(err)
	}
	p, err := profiles.Load("as-built")
	if err != nil {
		panic(err)
	}
	run, _, err := sim.Run(context.Background(), sim.Config{Scenario: s, Profile: p, Seed: 1})
	if err != nil {
		panic(err)
	}
	rep := reports.New(s, run)
	fmt.Println("verdict:", rep.Verdict.Word())
	for _, c := range rep.Verdict.Clauses {
		if c.Evaluated() && !c.Pass {
			fmt.Println("failed:", c.Clause)
		}
	}
	var page strings.Builder
	if err := reports.HTML(&page, rep); err != nil { // the page, as report.html holds it
		panic(err)
	}
	fmt.Println("page title:", page.String()[strings.Index(page.String(), "<title>")+7:strings.Index(page.String(), "</title>")])
	// Output:
	// verdict: NO-GO
	// failed: qr p99 <= 2s
	// failed: checkin p99 <= 2s
	// failed: expired_qr <= 1%
	// failed: errors <= 1%
	// failed: goodput >= 99%
	// page title: surge NO-GO (predicted): first-download
}
