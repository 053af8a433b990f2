package refserver

import (
	"strings"
	"testing"
)

func TestProfileThatCannotServeTheAPIIsRefused(t *testing.T) {
	fast, err := readFile("testdata/fast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to, want string }{
		{"missing work", "- {stage: signer, work: sign}", "- {stage: signer}", "inline.yaml:24: routes.certificate.issue: route certificate.issue must do work \"sign\""},
		{"unknown work", "- {stage: anchor, work: anchor}", "- {stage: anchor, work: mine-bitcoin}", "inline.yaml:32: routes.certificate.issue[0].calls[0].calls[2].work: route certificate.issue cannot do work \"mine-bitcoin\""},
		{"a share of a visit", "- {stage: anchor, work: anchor}", "- {stage: anchor, work: anchor, share: 80%}", "inline.yaml:32: routes.certificate.issue[0].calls[0].calls[2].share: the reference server makes every visit of a route"},
		{"work twice", "- {stage: anchor, work: anchor}", "- {stage: anchor, work: sign}", "work \"sign\" appears twice"},
		{"missing route", "  checkin:\n", "  checkout:\n", "routes: no route for endpoint \"checkin\""},
		{"no qr route for a proof mode", "  qr.fetch:", "  qr.fetched:", "inline.yaml:6: platforms.naver: platform naver needs a route qr.fetch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(fast, c.from, c.to, 1)
			if src == fast {
				t.Fatal("case changes nothing")
			}
			p := parseProfile(t, src)
			_, err := New(Config{Profile: p, DBPath: t.TempDir() + "/x.db"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}
