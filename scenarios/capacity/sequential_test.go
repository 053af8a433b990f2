package capacity

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
)

// playedTime is what a search spent playing steps (their warm-ups and
// measured stretches): a live search's wall time, but for its drains and
// pauses.
func playedTime(steps []Step) (d time.Duration) {
	for _, st := range steps {
		d += st.Warmup + st.Length
	}
	return d
}

// TestSequentialStepsFindTheSameKnee: on M/M/c services of several sizes,
// service times and clauses (p99 or p95 with an error share), on several
// seeds, the search with the sequential test finds the knee the search
// measuring every step whole finds (the same steps' samples, cut short),
// within 10% of Erlang C's, and plays less. A step that ended early
// measured at least 5 s and less than it planned.
func TestSequentialStepsFindTheSameKnee(t *testing.T) {
	cases := []struct {
		c           int
		mean, limit time.Duration
		peak        int
		clause      string
	}{
		{4, 20 * time.Millisecond, 150 * time.Millisecond, 100, "p99"},
		{2, 50 * time.Millisecond, 400 * time.Millisecond, 20, "p99"},
		{16, 10 * time.Millisecond, 60 * time.Millisecond, 1000, "p99"},
		{4, 20 * time.Millisecond, 100 * time.Millisecond, 100, "p95"},
		{8, 5 * time.Millisecond, 20 * time.Millisecond, 500, "p95"},
	}
	const seeds = 4
	var same, searches int
	var played [2]time.Duration
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%dx%v-%s", tc.c, tc.mean, tc.clause), func(t *testing.T) {
			s := mmcScenario(t, "work "+tc.clause+" <= "+tc.limit.String()+", errors <= 1%", tc.peak)
			q := map[string]float64{"p99": 0.99, "p95": 0.95}[tc.clause]
			want := erlangKneeAt(tc.c, tc.mean, tc.limit, q)
			runner := &SimRunner{Profile: mmcProfile(t, tc.c, tc.mean)}
			var mine [2]time.Duration
			for seed := uint64(1); seed <= seeds; seed++ {
				var knees [2]float64
				for i, seq := range []bool{false, true} {
					res, err := Search(context.Background(), Config{Scenario: s, Runner: runner, Seed: seed, NoOverload: true, NoIdentify: true, Sequential: seq})
					if err != nil {
						t.Fatal(err)
					}
					knees[i], mine[i] = res.Knee.ArrivalsPerS, mine[i]+playedTime(res.Steps)
					if math.Abs(knees[i]-want)/want > 0.10 || !res.Knee.Found {
						t.Errorf("seed %d, sequential %v: knee %.1f/s, Erlang C says %.1f/s", seed, seq, knees[i], want)
					}
					for _, st := range res.Steps {
						if st.Planned > 0 && (st.Length >= st.Planned || st.Length < 5*time.Second || !seq) {
							t.Errorf("seed %d, sequential %v: a step measured %v of %v planned", seed, seq, st.Length, st.Planned)
						}
					}
				}
				searches++
				if knees[0] == knees[1] {
					same++
				}
			}
			played[0], played[1] = played[0]+mine[0], played[1]+mine[1]
			t.Logf("Erlang C %.1f/s; played %v whole, %v sequential (%.0f%%)", want, mine[0]/seeds, mine[1]/seeds, 100*mine[1].Seconds()/mine[0].Seconds())
		})
	}
	t.Logf("%d of %d knees the same; played %v whole, %v sequential", same, searches, played[0], played[1])
	if same < searches*9/10 {
		t.Errorf("the sequential search found the whole steps' knee in %d searches of %d", same, searches)
	}
	if played[1] >= played[0]*95/100 {
		t.Errorf("the sequential search played %v, the whole steps %v", played[1], played[0])
	}
}

// TestDecidedReadsTheClauses: a step is decided when its clauses are plain
// either way, and runs on when one is close, or not read as trials (a
// mean never lets a step pass early; another clause may fail it).
func TestDecidedReadsTheClauses(t *testing.T) {
	// answers is 20 s of 100 answers a second, the i-th of each second
	// taking at(i) and failing when failed(i) (failedAt(s, i), in second s).
	answersAt := func(at func(s, i int) time.Duration, failed func(s, i int) bool) *results.Run {
		run := results.New(results.Meta{Bucket: time.Second})
		for s := range 20 {
			for i := range 100 {
				o := results.Outcome{At: time.Duration(s)*time.Second + time.Duration(i)*10*time.Millisecond, Corrected: at(s, i), First: true}
				if failed(s, i) {
					o.Err = "5xx"
				}
				run.Record("work", o)
			}
		}
		return run
	}
	answers := func(at func(i int) time.Duration, failed func(i int) bool) *results.Run {
		return answersAt(func(_, i int) time.Duration { return at(i) }, func(_, i int) bool { return failed(i) })
	}
	fast := func(int) time.Duration { return 10 * time.Millisecond }
	slowIf := func(slow bool) time.Duration {
		if slow {
			return 100 * time.Millisecond
		}
		return 10 * time.Millisecond
	}
	never := func(int) bool { return false }
	cases := []struct {
		name     string
		run      *results.Run
		clauses  string
		length   time.Duration
		pass, ok bool
	}{
		{"fast, 5 s", answers(fast, never), "work p95 <= 50ms", 5 * time.Second, true, true},
		{"fast, 20 s: 1,300 answers for an error share of 1% less a fifth", answers(fast, never), "work p95 <= 50ms, errors <= 1%", 20 * time.Second, true, true},
		{"fast, 10 s", answers(fast, never), "work p95 <= 50ms, errors <= 1%", 10 * time.Second, false, false},
		{"fast, 4 s: fewer than five batches", answers(fast, never), "work p95 <= 50ms", 4 * time.Second, false, false},
		{"fast, but a p99 needs 2,000 answers", answers(fast, never), "work p99 <= 50ms", 10 * time.Second, false, false},
		{"a mean is not read as trials", answers(fast, never), "work mean <= 50ms, work p95 <= 50ms", 20 * time.Second, false, false},
		{"half slow", answers(func(i int) time.Duration { return time.Duration(1+i%2) * 40 * time.Millisecond }, never), "work p95 <= 50ms, work mean <= 1s", 10 * time.Second, false, true},
		{"half slow, 5 s: a failure needs five batches in the later half too", answers(func(i int) time.Duration { return time.Duration(1+i%2) * 40 * time.Millisecond }, never), "work p95 <= 50ms", 5 * time.Second, false, false},
		{"a backlog carried in: 4 s slow, then fast", answersAt(func(s, _ int) time.Duration { return slowIf(s < 4) }, func(int, int) bool { return false }), "work p95 <= 50ms", 10 * time.Second, false, false},
		{"slow from 4 s on", answersAt(func(s, _ int) time.Duration { return slowIf(s >= 4) }, func(int, int) bool { return false }), "work p95 <= 50ms", 14 * time.Second, false, true},
		{"5% slow: on the bound", answers(func(i int) time.Duration { return time.Duration(1+i/95) * 40 * time.Millisecond }, never), "work p95 <= 50ms", 20 * time.Second, false, false},
		{"3% slow: within a fifth", answers(func(i int) time.Duration { return time.Duration(1+i/97) * 45 * time.Millisecond }, never), "work p95 <= 50ms", 20 * time.Second, false, false},
		{"3% slow, a fifth over", answers(func(i int) time.Duration { return time.Duration(1+i/97) * 35 * time.Millisecond }, never), "work p95 <= 50ms", 20 * time.Second, true, true},
		{"2% failed", answers(fast, func(i int) bool { return i%50 == 0 }), "errors <= 1%", 10 * time.Second, false, false},
		{"3% failed", answers(fast, func(i int) bool { return i%33 == 0 }), "errors <= 1%", 10 * time.Second, false, true},
		{"5% failed, 10% allowed", answers(fast, func(i int) bool { return i < 5 }), "errors <= 10%", 20 * time.Second, true, true},
		{"10% failed, spread", answers(fast, func(i int) bool { return i < 10 }), "errors <= 20%", 20 * time.Second, true, true},
		{"10% failed, in two seconds: the batches say how little that is known", answersAt(func(int, int) time.Duration { return fast(0) }, func(s, _ int) bool { return s < 2 }), "errors <= 20%", 20 * time.Second, false, false},
	}
	for _, tc := range cases {
		s := mmcScenario(t, tc.clauses, 100)
		pass, ok := decided(s.SLO, tc.run, 0, tc.length)
		if pass != tc.pass || ok != tc.ok {
			t.Errorf("%s (%s over %v): decided %v, pass %v; want %v, %v", tc.name, tc.clauses, tc.length, ok, pass, tc.ok, tc.pass)
		}
	}
}

// TestLiveStepReadsFailuresSooner: a live step's run is read a client
// timeout behind its clock for a verdict, as an answer still out may yet
// land in its send's bucket, unless the runner says every answer before a
// later time is in; a latency clause's failure is read a bound's length
// behind, as an answer still out by then counts against it.
func TestLiveStepReadsFailuresSooner(t *testing.T) {
	// sent is what is in at clock on the step's clock: 100 answers a
	// second, each taking took (failing when fail), sent up to a second
	// before.
	sent := func(clock, took time.Duration, fail bool) *results.Run {
		run := results.New(results.Meta{Bucket: time.Second})
		for at := time.Duration(0); at+took < clock-time.Second; at += 10 * time.Millisecond {
			o := results.Outcome{At: at, Corrected: took, First: true}
			if fail {
				o.Err = "5xx"
			}
			run.Record("work", o)
		}
		return run
	}
	const clauses = "work p95 <= 100ms, errors <= 1%"
	for _, tc := range []struct {
		name     string
		clock    time.Duration
		answered time.Duration // every answer before it is in (0: unknown)
		took     time.Duration
		fail     bool
		want     time.Duration
	}{
		{"slow: fails on 10 s of answers, read 1.12 s behind", 12 * time.Second, 0, 300 * time.Millisecond, false, 10 * time.Second},
		{"failing fast: an error share waits the client timeout", 12 * time.Second, 0, time.Millisecond, true, 0},
		{"failing fast, later", 22 * time.Second, 0, time.Millisecond, true, 16 * time.Second},
		{"fast: a pass waits the client timeout", 22 * time.Second, 0, 10 * time.Millisecond, false, 16 * time.Second},
		{"fast, every answer in: a pass is read as soon", 22 * time.Second, 21 * time.Second, 10 * time.Millisecond, false, 21 * time.Second},
		{"failing fast, every answer in", 12 * time.Second, 11 * time.Second, time.Millisecond, true, 11 * time.Second},
		{"fast, answers out from 14 s", 22 * time.Second, 14 * time.Second, 10 * time.Millisecond, false, 16 * time.Second},
	} {
		run := sent(tc.clock, tc.took, tc.fail)
		s := mmcScenario(t, clauses, 100) // a client timeout of 5 s
		q, err := newSearch(Config{Scenario: s, Runner: &SimRunner{}, Warmup: time.Nanosecond, MinStep: 20 * time.Second, Sequential: true})
		if err != nil {
			t.Fatal(err)
		}
		q.warm = 0
		if got := q.decidedLive(run, tc.clock, tc.answered, time.Minute, q.lags()); got != tc.want {
			t.Errorf("%s: decided on %v of the run at %v, want %v", tc.name, got, tc.clock, tc.want)
		}
	}
}

// TestLiveStepEndsWhenDecided: against a live M/M/4 service, a step
// planned to measure a minute ends its arrivals (the engine's run says
// "decided") once its verdict is plain, measures less than it planned,
// and judges as the step would: at a quarter of the capacity it passes;
// at twice it, its queue of 20 sheds and it fails. Either ends a second
// or two after the stretch that decided it.
func TestLiveStepEndsWhenDecided(t *testing.T) {
	if testing.Short() {
		t.Skip("live steps take seconds")
	}
	srv, _ := mmcServer(t, 4, 5*time.Millisecond, 20)
	s := mmcScenario(t, "work p95 <= 100ms", 400)
	live := &LiveRunner{Config: replay.Config{Target: srv.URL}, Cool: 100 * time.Millisecond}
	q, err := newSearch(Config{Scenario: s, Runner: live, Seed: 1, MinStep: 5 * time.Second, Warmup: 2 * time.Second, Sequential: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rate float64
		pass bool
	}{{200, true}, {1600, false}} {
		st, run, err := q.play(context.Background(), q.mix, "", tc.rate, time.Minute, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%.0f/s: measured %v of %v planned, pass %v (%s), run ended %q after %v", tc.rate, st.Length, st.Planned, st.Pass, st.Broke, run.Meta.Ended, run.Meta.Elapsed.Round(time.Second))
		if run.Meta.Ended != "decided" || st.Planned != time.Minute || st.Length >= time.Minute || st.Length < 5*time.Second || st.Pass != tc.pass {
			t.Errorf("%.0f/s: measured %v of %v planned, pass %v, the run ended %q; want it decided early, pass %v", tc.rate, st.Length, st.Planned, st.Pass, run.Meta.Ended, tc.pass)
		}
		// Its answers come in milliseconds: the step is read where they are
		// in (replay.Live.Answered), a second or two behind its clock, not
		// the 5 s client timeout and a second it waited before.
		if behind := run.Meta.Elapsed - 2*time.Second - st.Length; behind >= 5*time.Second {
			t.Errorf("%.0f/s: the run ended %v after the stretch that decided it, a client timeout or more", tc.rate, behind.Round(time.Millisecond))
		}
	}
}

// TestOneLateSendIsNotTheGenerator: a step is the generator's limit when
// its sends' late p99 says so, or the users' cap held arrivals back; one
// send late by 94 ms (a scheduling hiccup, measured in CI) is not.
func TestOneLateSendIsNotTheGenerator(t *testing.T) {
	sends := func(late time.Duration, every int) *results.Run {
		run := results.New(results.Meta{Bucket: time.Second})
		for i := range 1000 {
			l := time.Duration(0)
			if i%every == 0 {
				l = late
			}
			run.Generator.Late.Record(l)
		}
		return run
	}
	hiccup := sends(94*time.Millisecond, 1000)
	hiccup.Event(time.Second, "generator-behind", "a send went out 94ms after its intended time")
	capped := sends(0, 1000)
	capped.Event(time.Second, "client-queue", "the users' cap")
	for _, tc := range []struct {
		name   string
		run    *results.Run
		behind bool
	}{
		{"one send of 1,000 late by 94 ms", hiccup, false},
		{"one in 50 late by 20 ms", sends(20*time.Millisecond, 50), true},
		{"the users' cap held arrivals back", capped, true},
	} {
		if got := generatorBehind(tc.run); got != tc.behind {
			t.Errorf("%s: behind %v, want %v", tc.name, got, tc.behind)
		}
	}
}
