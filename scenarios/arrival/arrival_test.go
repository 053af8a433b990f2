package arrival

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios"
)

func scenario(t testing.TB, arrivals string, extra ...string) *scenarios.Scenario {
	t.Helper()
	src := "name: t\nscale: 1\n" + arrivals + `
platforms: {kakao: 60%, naver: 40%}
cohorts:
  - {name: a, share: 75%, journey: j}
  - {name: b, share: 25%, journey: j}
journeys: {j: [{think: 1s}]}
` + strings.Join(extra, "\n")
	s, err := scenarios.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var _ vegeta.Pacer = Pacer{} // arrival.Pacer is a vegeta.Pacer

func all(sc *Schedule) []Arrival {
	var out []Arrival
	for a, ok := sc.Next(); ok; a, ok = sc.Next() {
		out = append(out, a)
	}
	return out
}

func countIn(as []Arrival, from, to time.Duration) (n int) {
	for _, a := range as {
		if a.At >= from && a.At < to {
			n += a.Party
		}
	}
	return n
}

func TestUniformCountsMatchTheCurveExactly(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 10s, total: 600, profile: [10%, 30%, 60%], process: uniform}`)
	p := New(s)
	as := all(p.Schedule(1))
	if len(as) != 600 {
		t.Fatalf("%d arrivals, want 600", len(as))
	}
	for i, want := range []int{60, 180, 360} {
		from := time.Duration(i) * 10 * time.Second
		if got := countIn(as, from, from+10*time.Second); got != want {
			t.Errorf("bucket %d: %d arrivals, want %d", i, got, want)
		}
	}
	if a := as[0]; a.At != 10*time.Second/60/2 || a.Clock.String() != "11:00" {
		t.Errorf("first arrival at %v (%v), want half a gap in", a.At, a.Clock)
	}
}

func TestPoissonCountsWithinBounds(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 1m, total: 12k, profile: [25%, 50%, 25%], process: poisson}`)
	p := New(s)
	as := all(p.Schedule(42))
	for i, mean := range []float64{3000, 6000, 3000} {
		from := time.Duration(i) * time.Minute
		got := float64(countIn(as, from, from+time.Minute))
		if math.Abs(got-mean) > 4*math.Sqrt(mean) { // 4 sd of Poisson(mean)
			t.Errorf("bucket %d: %v arrivals, want %v +- %.0f", i, got, mean, 4*math.Sqrt(mean))
		}
	}
	var a int
	for _, x := range as {
		if x.Cohort == "a" {
			a++
		}
	}
	if share, sd := float64(a)/float64(len(as)), math.Sqrt(0.75*0.25/float64(len(as))); math.Abs(share-0.75) > 4*sd {
		t.Errorf("cohort a has %.3f of arrivals, want 0.75", share)
	}
}

func TestSameSeedSameSchedule(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 1m, total: 500, profile: [100%], party: {mean: 2.6, max: 6}}`)
	p := New(s)
	x, y, z := all(p.Schedule(7)), all(p.Schedule(7)), all(p.Schedule(8))
	if len(x) != len(y) {
		t.Fatalf("same seed: %d vs %d arrivals", len(x), len(y))
	}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("same seed differs at %d: %+v vs %+v", i, x[i], y[i])
		}
	}
	if len(x) == len(z) && x[0] == z[0] {
		t.Error("a different seed gave the same schedule")
	}
}

// Shards partition: for random shard counts, seeds and scenarios (Poisson
// and uniform, parties, several buckets), the union of the n shards'
// schedules is the unsharded schedule, arrival by arrival, each in one shard.
func TestShardsPartitionTheSchedule(t *testing.T) {
	curves := []string{
		`arrivals: {start: "11:00", bucket: 1m, total: 1000, profile: [100%]}`,
		`arrivals: {start: "11:30", bucket: 10s, total: 600, profile: [10%, 50%, 40%], process: uniform}`,
		`arrivals: {start: "17:00", bucket: 30s, total: 2k, profile: [20%, 80%], party: {mean: 2.6, max: 20}}`,
	}
	r := rand.New(rand.NewPCG(22, 22))
	for trial := range 30 {
		s := scenario(t, curves[trial%len(curves)])
		seed, n := r.Uint64(), 1+r.IntN(16)
		p := New(s)
		whole := all(p.Schedule(seed))
		seen := map[uint64]Arrival{}
		for i := range n {
			for _, a := range all(p.Shard(seed, i, n)) {
				if _, dup := seen[a.Seq]; dup {
					t.Fatalf("seed %d, %d shards: arrival %d in two shards", seed, n, a.Seq)
				}
				if a.Seq%uint64(n) != uint64(i) {
					t.Fatalf("seed %d, %d shards: arrival %d in shard %d", seed, n, a.Seq, i)
				}
				seen[a.Seq] = a
			}
		}
		if len(seen) != len(whole) {
			t.Fatalf("seed %d, %d shards: the shards hold %d arrivals, the whole schedule %d", seed, n, len(seen), len(whole))
		}
		for _, a := range whole {
			if seen[a.Seq] != a {
				t.Fatalf("seed %d, %d shards: arrival %d differs from the whole schedule's", seed, n, a.Seq)
			}
		}
	}
}

func TestPartiesKeepThePeopleRate(t *testing.T) {
	s := scenario(t, `arrivals: {start: "17:00", bucket: 10m, total: 26k, profile: [100%], party: {mean: 2.6, max: 20}}`)
	as := all(New(s).Schedule(5))
	people := countIn(as, 0, time.Hour)
	if math.Abs(float64(people)-26000) > 4*math.Sqrt(26000*2.6) {
		t.Errorf("%d people arrived in parties, want about 26000", people)
	}
	if parties := float64(len(as)); math.Abs(parties-10000) > 4*100 {
		t.Errorf("%v parties, want about 10000", parties)
	}
}

func TestCompressionKeepsRatesAndShrinksCounts(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 15m, total: 9000, profile: [20%, 60%, 20%], process: uniform}
compression: {factor: 10, realtime: {from: "11:15", to: "11:30"}}`)
	p := New(s)
	if want := 90*time.Second + 15*time.Minute + 90*time.Second; p.Played() != want {
		t.Errorf("played %v, want %v", p.Played(), want)
	}
	if r := p.Rate(0, 10*time.Second); math.Abs(r-2) > 1e-9 { // 1800 / 900 s, kept under compression
		t.Errorf("rate in a compressed bucket %v/s, want 2/s", r)
	}
	if got := p.Clock(90*time.Second + time.Minute); got.String() != "11:16" {
		t.Errorf("clock 1 min into the realtime span = %v, want 11:16", got)
	}
	as := all(p.Schedule(1))
	if got, want := countIn(as, 0, 90*time.Second), 180; got != want {
		t.Errorf("compressed first bucket: %d arrivals, want %d (1/10 of 1800)", got, want)
	}
	if got := countIn(as, 90*time.Second, 90*time.Second+15*time.Minute); got != 5400 {
		t.Errorf("realtime bucket: %d arrivals, want 5400", got)
	}
}

// TestADayOfTwoPeaks: with two realtime spans (the lunch and dinner peaks,
// as DOMAIN.md's compression rule has one peak played at 1:1), the
// shoulders compress and both peaks play at 1:1, with all their arrivals.
func TestADayOfTwoPeaks(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 1h, total: 10000, profile: [10%, 20%, 10%, 5%, 5%, 5%, 10%, 20%, 10%, 5%], process: uniform}
compression: {factor: 30, realtime: [{from: "12:00", to: "13:00"}, {from: "18:00", to: "19:00"}]}`)
	p := New(s)
	if want := 2*time.Hour + 8*time.Hour/30; p.Played() != want {
		t.Errorf("played %v, want %v (two 1:1 hours and eight at 30x)", p.Played(), want)
	}
	at := func(c string) time.Duration {
		clock, _ := scenarios.ParseClock(c)
		return p.PlayedAt(clock)
	}
	for _, peak := range [][2]string{{"12:00", "13:00"}, {"18:00", "19:00"}} {
		if d := at(peak[1]) - at(peak[0]); d != time.Hour {
			t.Errorf("peak %s-%s plays for %v, want 1h", peak[0], peak[1], d)
		}
	}
	if d := at("18:00") - at("13:00"); d != 5*time.Hour/30 {
		t.Errorf("the afternoon plays for %v, want 10m (5 h at 30x)", d)
	}
	as := all(p.Schedule(1))
	if got := countIn(as, at("18:00"), at("19:00")); got != 2000 {
		t.Errorf("the dinner peak: %d arrivals, want all 2000", got)
	}
	if got := countIn(as, at("13:00"), at("18:00")); got != 3500/30 && got != 3500/30+1 {
		t.Errorf("the afternoon: %d arrivals, want 1/30 of 3500", got)
	}
}

func TestBurstModulatesAndKeepsTheMean(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 20m, total: 12000, profile: [100%], process: uniform, burst: {factor: 1.2, period: 10m}}`)
	p := New(s)
	base := 10.0 // 12000 / 1200 s
	if r := p.Rate(0, 150*time.Second); math.Abs(r-1.2*base) > 1e-9 {
		t.Errorf("rate at the burst's crest %v, want %v", r, 1.2*base)
	}
	if r := p.Rate(0, 450*time.Second); math.Abs(r-0.8*base) > 1e-9 {
		t.Errorf("rate at the trough %v, want %v", r, 0.8*base)
	}
	if got := p.Expected(0, 0, 10*time.Minute); math.Abs(got-6000) > 1e-6 {
		t.Errorf("a whole period holds %v expected arrivals, want 6000", got)
	}
	as := all(p.Schedule(1))
	if got := countIn(as, 0, 5*time.Minute); math.Abs(float64(got)-p.Expected(0, 0, 5*time.Minute)) > 1 {
		t.Errorf("first half-period: %d arrivals, expected %.1f", got, p.Expected(0, 0, 5*time.Minute))
	}
}

func TestExtraStreamAndTimedShares(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 1m, total: 60, profile: [50%, 50%], process: uniform}`,
		`extra_arrivals: [{name: desk, rate: 30/min, during: {from: "11:00", to: "11:01"}, journey: j, platforms: {naver: 100%}}]`)
	as := all(New(s).Schedule(1))
	desk := 0
	for _, a := range as {
		if a.Stream == 1 {
			desk++
			if a.At >= time.Minute || a.Platform != "naver" || a.Cohort != "desk" {
				t.Errorf("desk arrival %+v", a)
			}
		}
	}
	if desk != 30 || len(as) != 90 {
		t.Errorf("%d desk arrivals of %d, want 30 of 90", desk, len(as))
	}
	for i := 1; i < len(as); i++ {
		if as[i].At < as[i-1].At {
			t.Fatalf("arrivals out of order at %d", i)
		}
	}
}

func TestPacerFollowsTheUniformSchedule(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 10s, total: 300, profile: [50%, 50%], process: uniform}`)
	p := New(s)
	var pc vegeta.Pacer = Pacer{Plan: p}
	as := all(p.Schedule(1))
	for i, a := range as {
		wait, stop := pc.Pace(0, uint64(i))
		if stop || wait != a.At {
			t.Fatalf("hit %d: wait %v stop %v, want %v", i, wait, stop, a.At)
		}
	}
	if _, stop := pc.Pace(p.Played(), uint64(len(as))); !stop {
		t.Error("pacer does not stop after the last arrival")
	}
	if r := pc.Rate(time.Second) * float64(time.Second); math.Abs(r-15) > 1e-9 {
		t.Errorf("pacer rate %v/s, want 15/s", r)
	}
}

func BenchmarkSchedule(b *testing.B) {
	s := scenario(b, `arrivals: {start: "11:00", bucket: 15m, total: 4.2M, profile: [3%, 5%, 9%, 13%, 15%, 13%, 10%, 9%, 7%, 6%, 5%, 5%], burst: {factor: 1.2, period: 10m}}`)
	p := New(s)
	sc := p.Schedule(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := sc.Next(); !ok {
			sc = p.Schedule(1)
		}
	}
}

func TestPlayedAtInvertsClock(t *testing.T) {
	s := scenario(t, `arrivals: {start: "11:00", bucket: 15m, total: 9000, profile: [20%, 60%, 20%], process: uniform}
compression: {factor: 10, realtime: {from: "11:15", to: "11:30"}}`)
	p := New(s)
	for _, c := range []string{"11:00", "11:07:30", "11:15", "11:20", "11:30", "11:44"} {
		clock, _ := scenarios.ParseClock(c)
		at := p.PlayedAt(clock)
		if back := p.Clock(at); back != clock {
			t.Errorf("%s -> played %v -> %v", c, at, back)
		}
	}
	end, _ := scenarios.ParseClock("11:46")
	if got := p.PlayedAt(end); got != p.Played()+time.Minute {
		t.Errorf("a minute past the window: %v, want %v", got, p.Played()+time.Minute)
	}
}

func TestSurgeEnd(t *testing.T) {
	// peak 40% in bucket 1; bucket 3 (15%) is the first below half of it after the peak
	s := scenario(t, `arrivals: {start: "11:00", bucket: 1m, total: 1000, profile: [20%, 40%, 25%, 15%], burst: {factor: 1.5, period: 20s}}`)
	if end, ok := New(s).SurgeEnd(); !ok || end != 3*time.Minute {
		t.Errorf("surge end %v %v, want 3m", end, ok)
	}
	flat := scenario(t, `arrivals: {start: "11:00", bucket: 1m, total: 1000, profile: [50%, 50%]}`)
	if _, ok := New(flat).SurgeEnd(); ok {
		t.Error("a flat curve has no surge end")
	}
}
