package scenarios

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func walkScenario(t *testing.T, behaviour string) *Scenario {
	s, err := Parse("w.yaml", []byte(`name: w
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 1, profile: [100%]}
platforms: {kakao: 50%, naver: 50%}
cohorts: [{name: a, share: 100%, journey: returning}]
journeys:
  returning: [{request: qr}, {think: 2s}, {request: checkin, restart_from: {expired_qr: qr}}]
  first-time: [{request: identity.request}, {request: identity.confirm}, {request: certificate.issue}]
behaviour: `+behaviour))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWalkerSequence runs on a parsed scenario, whose requests have bits
// (Step.bit) and whose restart rules and give-up shares are tabulated, and
// on the same one without, as a scenario built in code is.
func TestWalkerSequence(t *testing.T) {
	for _, tables := range []bool{true, false} {
		s := walkScenario(t, `{retry: {attempts: 2, backoff: 1s, on: [shed]}, give_up: {switch_platform: 100%}, switch_to: {naver: kakao, kakao: naver}}`)
		if !tables {
			untabulate(s)
		}
		testWalkerSequence(t, s)
	}
}

// untabulate takes away what Parse works out ahead (numberRequests, tabulate).
func untabulate(s *Scenario) {
	for _, steps := range s.Journeys {
		for i := range steps {
			steps[i].bit, steps[i].restart = 0, nil
		}
	}
	s.giveUp = nil
}

// The tabulated give-up shares draw the same decisions as the map.
func TestWalkerGiveUpTable(t *testing.T) {
	decide := func(tables bool) []string {
		s := walkScenario(t, `{retry: {attempts: 1, on: [shed]}, give_up: {switch_platform: 35%, manual: 30%, keep_trying: 15%, reinstall: 5%, abandon: 15%}, keep_trying_after: 1s, reinstall_time: 1s, reinstall_journey: returning}`)
		if !tables {
			untabulate(s)
		}
		var out []string
		for seed := range uint64(2000) {
			w := NewWalker(s, "returning", "naver", rand.New(rand.NewPCG(seed, 1)))
			w.Start()
			w.After("shed", time.Second)
			c := w.Counts
			out = append(out, fmt.Sprint(c.Switched, c.Manual, c.KeptTrying, c.Reinstall, c.Abandoned))
		}
		return out
	}
	with, without := decide(true), decide(false)
	seen := map[string]bool{}
	for i := range with {
		if with[i] != without[i] {
			t.Fatalf("walker %d: decided %s with the table, %s with the map", i, with[i], without[i])
		}
		seen[with[i]] = true
	}
	if len(seen) != 5 {
		t.Fatalf("decisions %v: want all five", seen)
	}
}

func testWalkerSequence(t *testing.T, s *Scenario) {
	w := NewWalker(s, "returning", "naver", rand.New(rand.NewPCG(1, 1)))
	sec := time.Second
	steps := []struct {
		kind     string
		now      time.Duration
		wantReq  string
		wantAt   time.Duration
		wantFrst bool
	}{
		{"", 0, "qr", 0, true},                        // start
		{"shed", sec, "qr", 2 * sec, false},           // retried after the 1s backoff
		{"shed", 3 * sec, "qr", 3 * sec, false},       // 2 attempts failed: switch platform, start over
		{"", 4 * sec, "checkin", 6 * sec, true},       // then 2s of think
		{"expired_qr", 7 * sec, "qr", 7 * sec, false}, // an expired QR sends the user back to qr
		{"", 8 * sec, "checkin", 10 * sec, false},
		{"", 11 * sec, "", 11 * sec, false}, // done
	}
	a := w.Start()
	for i, st := range steps {
		if i > 0 {
			a = w.After(st.kind, st.now)
		}
		req := ""
		if a.Step != nil {
			req = a.Step.Request
		}
		if req != st.wantReq || a.At != st.wantAt || a.First != st.wantFrst {
			t.Fatalf("step %d: %q at %v first %v; want %q at %v first %v", i, req, a.At, a.First, st.wantReq, st.wantAt, st.wantFrst)
		}
	}
	if w.Platform != "kakao" || w.Counts != (UserCounts{Completed: 1, Switched: 1}) {
		t.Errorf("platform %s counts %+v", w.Platform, w.Counts)
	}
}

func TestWalkerReinstallAndPatience(t *testing.T) {
	s := walkScenario(t, `{give_up: {reinstall: 100%}, reinstall_time: 1m, reinstall_journey: first-time, patience: 90s}`)
	w := NewWalker(s, "returning", "kakao", rand.New(rand.NewPCG(1, 1)))
	w.Start()
	a := w.After("5xx", time.Second)
	if a.Step == nil || a.Step.Request != "identity.request" || !a.Reset || a.At != 61*time.Second || w.Journey() != "first-time" {
		t.Fatalf("after a failure with reinstall: %+v journey %s", a, w.Journey())
	}
	a = w.After("5xx", 62*time.Second) // another reinstall would end at 2m02s, past 90s of patience
	if a.Step != nil || a.At != 90*time.Second || w.Counts.Impatient != 1 || w.Counts.Reinstall != 2 {
		t.Errorf("%+v counts %+v, want out of patience at 90s", a, w.Counts)
	}
}
