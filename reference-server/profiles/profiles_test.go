package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedProfilesLoad(t *testing.T) {
	if got := strings.Join(Names(), ","); got != "as-built,fixed" {
		t.Fatalf("shipped profiles = %s", got)
	}
	for _, n := range Names() {
		p, err := Load(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Name != n {
			t.Errorf("profile file %s names itself %q", n, p.Name)
		}
	}
}

// TestCalibration checks the shipped numbers against the rule of scenarios/SOURCES.md §3.0: the
// lunch peak loads the shared certificate API to about 55%, and the
// first-download ISSUE demand is about 3x the as-built issuance capacity
// (the synchronous anchor), while fixed's issuance path keeps up.
func TestCalibration(t *testing.T) {
	const (
		checkins = 840.0 / 50 // per second at the lunch peak minute, 1/50 scale
		qrPer    = 1.3
		fetch    = 0.48 // naver + toss + pass share of QR codes
	)
	built, _ := Load("as-built")
	kdca := built.Stages["kdca"]
	util := (checkins*qrPer*fetch + checkins) * kdca.Service.Mean().Seconds() / float64(kdca.Workers)
	if util < 0.50 || util > 0.60 {
		t.Errorf("as-built kdca utilisation at the lunch peak = %.2f, want about 0.55", util)
	}
	anchor := built.Stages["anchor"]
	issueCap := float64(anchor.Workers) / anchor.Service.Mean().Seconds()
	if want := 0.09 * checkins; issueCap < 0.9*want || issueCap > 1.1*want {
		t.Errorf("as-built ISSUE capacity %.2f/s, want 0.09 x peak check-ins = %.2f/s", issueCap, want)
	}
	demand := 0.20*checkins + 50.0/50
	if over := demand / issueCap; over < 2.6 || over > 3.2 {
		t.Errorf("first-download ISSUE demand / capacity = %.2f, want about 2.9", over)
	}
	fixed, _ := Load("fixed")
	for _, st := range []string{"issuer", "anchor"} {
		s := fixed.Stages[st]
		if c := float64(s.Workers) / s.Service.Mean().Seconds(); c < 1.2*demand {
			t.Errorf("fixed %s capacity %.1f/s does not cover first-download demand %.1f/s with margin", st, c, demand)
		}
	}
}

func TestLoadByPathAndErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "mine.yaml")
	os.WriteFile(bad, []byte("name: mine\nstages:\n  a: {workers: 0, service: 1ms}\nroutes:\n  x: [{stage: a}]\n"), 0o644)
	_, err := Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad+":3: stages.a.workers: must be at least 1") {
		t.Errorf("err = %v", err)
	}
	if _, err := Load("as-bulit"); err == nil || !strings.Contains(err.Error(), "as-built, fixed") {
		t.Errorf("unknown name: %v, want the shipped names listed", err)
	}
	if _, err := Load("/no/such/profile.yaml"); err == nil {
		t.Error("missing file accepted")
	}
}
