package scenarios

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// dayScenario is a day of two meals, 11:00-21:00 in hour buckets, lunch
// and dinner heavy, with the given behaviour and SLO.
func dayScenario(behaviour, slo string, extra ...string) string {
	return `name: day
scale: 1
arrivals: {start: "11:00", bucket: 1h, total: 1000, profile: [10%, 20%, 10%, 2%, 2%, 2%, 10%, 24%, 15%, 5%]}
periods: {lunch: {from: "11:00", to: "14:00"}, dinner: {from: "17:00", to: "21:00"}}
platforms: {kakao: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
journeys:
  j:
    - request: identity.request
    - request: identity.confirm
    - request: certificate.issue
      restart_from: {come_back: identity.request}
    - request: qr
behaviour: ` + behaviour + `
slo: ` + slo + "\n" + strings.Join(extra, "\n")
}

func TestDayBadInput(t *testing.T) {
	comeBack := func(cb string) string {
		return dayScenario(`{give_up: {come_back: 50%, abandon: 50%}, come_back: `+cb+`}`, "[errors <= 1%]")
	}
	for _, c := range []struct{ src, want string }{
		{comeBack(`{within: "09:00-10:00"}`), `behaviour.come_back.within: 09:00-10:00: 09:00-10:00 lies before any give-up (the first arrival is at 11:00)`},
		{comeBack(`{within: "20:00-23:00"}`), `behaviour.come_back.within: 20:00-23:00: 20:00-23:00 is outside the scenario's day 11:00-21:00`},
		{comeBack(`{within: "19:00-18:00"}`), `behaviour.come_back.within: 19:00-18:00: 19:00-18:00 ends before it starts`},
		{comeBack(`{within: supper}`), `behaviour.come_back.within: "supper" is neither a period ([dinner lunch]) nor a span`},
		{comeBack(`{within: dinner, after: 2h}`), `behaviour.come_back: want one of after:`},
		{comeBack(`{}`), `behaviour.come_back: want one of after:`},
		{comeBack(`{within: dinner, when: later}`), `behaviour.come_back.when: unknown key "when"`},
		{dayScenario(`{give_up: {come_back: 100%}}`, "[errors <= 1%]"), `behaviour.come_back: give_up has come_back 100%: say when users come back`},
		{dayScenario(`{give_up: {abandon: 100%}, come_back: {within: dinner}}`, "[errors <= 1%]"), `behaviour.come_back: give_up has no come_back share`},
		{dayScenario(`{}`, `[{clause: "qr p99 <= 2s", at: supper}]`), `slo[0].at: "supper" is neither a period`},
		{dayScenario(`{}`, `[{clause: "qr p99 <= 2s", at: "10:00-12:00"}]`), `slo[0].at: 10:00-12:00: 10:00-12:00 is not a stretch of the scenario's day`},
		{dayScenario(`{}`, `[{clause: "qr p99 <= soon", at: lunch}]`), `slo[0]: clause "qr p99 <= soon"`},
		{dayScenario(`{}`, `[{clause: "qr p99 <= 2s", at: lunch, when: x}]`), `slo[0].when: unknown key "when"`},
		{dayScenario(`{}`, "[errors <= 1%]", "periods: {}"), `mapping key "periods" already defined`},
		{comeBack(`{within: dinner}`) + "\ncompression: {factor: 10, realtime: [{from: \"12:00\", to: \"13:00\"}]}", `behaviour.come_back: returns keep their counts only at one compression`},
		{dayScenario(`{}`, "[errors <= 1%]", `compression: {factor: 10, realtime: [{from: "18:00", to: "19:00"}, {from: "12:00", to: "13:00"}]}`), `compression.realtime[1]: 12:00-13:00 overlaps or comes before 18:00-19:00`},
	} {
		_, err := Parse("day.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got:\n%v", c.want, err)
		}
	}
	if _, err := Parse("day.yaml", []byte(dayScenario(`{give_up: {come_back: 50%, abandon: 50%}, come_back: {within: dinner}}`, `[{clause: "qr p99 <= 2s", at: dinner}, {clause: "goodput >= 90%", at: "12:00-13:00"}]`))); err != nil {
		t.Errorf("a valid day: %v", err)
	}
}

// TestComeBackAt: within a period, returns fall in what is left of it,
// spread as the arrival profile spreads arrivals there; none when it is
// over; after a delay, left plus the delay, not past the day.
func TestComeBackAt(t *testing.T) {
	s, err := Parse("day.yaml", []byte(dayScenario(`{give_up: {come_back: 50%, abandon: 50%}, come_back: {within: dinner}}`, "[errors <= 1%]")))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	clock := func(s string) Clock { c, _ := ParseClock(s); return c }
	byHour := map[int]int{}
	const n = 20000
	for range n {
		back, ok := s.ComeBackAt(clock("13:00"), r)
		if !ok || back < clock("17:00") || back >= clock("21:00") {
			t.Fatalf("gave up at 13:00: back at %v (%v), want within 17:00-21:00", back, ok)
		}
		byHour[int(time.Duration(back).Hours())]++
	}
	// dinner's buckets are 10%, 24%, 15%, 5% of the day: 18:00 holds 24/54 of its returns.
	for h, share := range map[int]float64{17: 10.0 / 54, 18: 24.0 / 54, 19: 15.0 / 54, 20: 5.0 / 54} {
		if got := float64(byHour[h]) / n; got < share-0.015 || got > share+0.015 {
			t.Errorf("%d:00: %.3f of the returns, want %.3f (the profile's)", h, got, share)
		}
	}
	for range 1000 {
		if back, ok := s.ComeBackAt(clock("20:30"), r); !ok || back < clock("20:30") || back >= clock("21:00") {
			t.Fatalf("gave up at 20:30: back at %v (%v)", back, ok)
		}
	}
	if _, ok := s.ComeBackAt(clock("21:05"), r); ok {
		t.Error("a user who gave up after dinner came back")
	}
	two := spec.Const(2 * time.Hour)
	s.Behaviour.ComeBack = &ComeBack{After: &two}
	if back, ok := s.ComeBackAt(clock("12:00"), r); !ok || back != clock("14:00") {
		t.Errorf("after 2h from 12:00: %v %v", back, ok)
	}
	if _, ok := s.ComeBackAt(clock("19:30"), r); ok {
		t.Error("a return after the day's end came back")
	}
}

// TestWalkerComesBack: a come_back decision leaves (Away); the return
// resumes where restart_from come_back says, with fresh attempts; a second
// come_back abandons; Back and the counts say what became of the user.
func TestWalkerComesBack(t *testing.T) {
	s, err := Parse("day.yaml", []byte(dayScenario(`{retry: {attempts: 2, backoff: 1s}, give_up: {come_back: 100%}, come_back: {within: dinner}}`, "[errors <= 1%]")))
	if err != nil {
		t.Fatal(err)
	}
	w := NewWalker(s, "j", "kakao", rand.New(rand.NewPCG(3, 4)))
	a := w.Start()
	w.After("", time.Second)               // identity.request done
	a = w.After("", 1500*time.Millisecond) // identity.confirm done
	if a.Step.Request != "certificate.issue" {
		t.Fatalf("second step %v", a.Step)
	}
	a = w.After("5xx", 2*time.Second)
	a = w.After("5xx", 4*time.Second) // its second attempt fails: give up
	if !a.Away || a.Step != nil || a.At != 4*time.Second || w.Back() != BackAway {
		t.Fatalf("after two failures: %+v, back %d", a, w.Back())
	}
	a = w.Return(6 * time.Hour)
	if a.Step == nil || a.Step.Request != "identity.request" || a.At != 6*time.Hour || a.First || w.Back() != BackReturned {
		t.Fatalf("the return: %+v (want identity.request again at 6h, not first), back %d", a, w.Back())
	}
	w.After("", 6*time.Hour+time.Second)
	w.After("", 6*time.Hour+1500*time.Millisecond)
	a = w.After("5xx", 6*time.Hour+2*time.Second)
	if a.Step == nil || a.Step.Request != "certificate.issue" {
		t.Fatalf("a fresh attempt after the return: %+v", a)
	}
	a = w.After("5xx", 6*time.Hour+3*time.Second)
	if a.Away || a.Step != nil || w.Counts.Abandoned != 1 {
		t.Errorf("a second come_back: %+v, counts %+v; want it to abandon", a, w.Counts)
	}
	// awayAtIssue is a user whose issuance failed twice, so that it left.
	awayAtIssue := func() *Walker {
		w := NewWalker(s, "j", "kakao", rand.New(rand.NewPCG(3, 4)))
		w.Start()
		w.After("", time.Second)
		w.After("", 1500*time.Millisecond)
		w.After("5xx", 2*time.Second)
		if a := w.After("5xx", 3*time.Second); !a.Away {
			t.Fatalf("two failed issuances: %+v, want it away", a)
		}
		return w
	}
	w = awayAtIssue()
	if a := w.Gone(); a.Step != nil || w.Back() != BackGone || w.Counts.Abandoned != 1 {
		t.Errorf("a user the day ends before it comes back: %+v, back %d, counts %+v; want it abandoned", a, w.Back(), w.Counts)
	}
	w = awayAtIssue()
	w.Return(time.Hour)
	for i := range 3 {
		w.After("", time.Hour+time.Duration(i)*time.Second)
	}
	if a := w.After("", time.Hour+3*time.Second); a.Step != nil || w.Back() != BackCompleted || w.Counts.Completed != 1 {
		t.Errorf("a return that completes: %+v, back %d, counts %+v", a, w.Back(), w.Counts)
	}
}
