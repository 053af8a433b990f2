package capacity

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/sim/queueing"
)

// mmcScenario is one request against an M/M/c service, its SLO on p99,
// with a forecast peak of peak arrivals/s.
func mmcScenario(t testing.TB, slo string, peak int) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("mmc.yaml", []byte(`name: mmc
scale: 1
arrivals: {start: "12:00", bucket: 10m, total: `+itoa(peak*600)+`, profile: [100%], process: poisson}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: j}]
requests: {work: {method: GET, path: /work}}
journeys: {j: [{request: work}]}
behaviour: {timeout: 5s}
slo: [`+slo+`]
`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// erlangKnee is the most arrivals/s at which an M/M/c queue's p99 response
// stays within limit.
func erlangKnee(c int, mean, limit time.Duration) float64 {
	return erlangKneeAt(c, mean, limit, 0.99)
}

// erlangKneeAt is the most arrivals/s at which an M/M/c queue's q-quantile
// response stays within limit.
func erlangKneeAt(c int, mean, limit time.Duration, q float64) float64 {
	lo, hi := 0.0, float64(c)/mean.Seconds()
	for range 60 {
		mid := (lo + hi) / 2
		r, err := queueing.MMc{Lambda: mid, S: mean, C: c}.ResponseQuantile(q)
		if err == nil && r <= limit {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// mmcServer is an M/M/c service: c workers, exponential service times of
// the given mean (seeded), a FIFO queue of at most queue waiting (a 503
// past it), a client that gives up is forgotten.
func mmcServer(t testing.TB, c int, mean time.Duration, queue int) (*httptest.Server, func() time.Duration) {
	var mu sync.Mutex
	var held time.Duration
	var served int
	rng := rand.New(rand.NewPCG(7, 7))
	slots := make(chan struct{}, c)
	var waiting int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := time.Duration(rng.ExpFloat64() * float64(mean))
		if len(slots) == c && waiting >= queue {
			mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		waiting++
		mu.Unlock()
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			mu.Lock()
			waiting--
			mu.Unlock()
			return
		}
		mu.Lock()
		waiting--
		mu.Unlock()
		began := time.Now()
		time.Sleep(d)
		took := time.Since(began)
		<-slots
		mu.Lock()
		held, served = held+took, served+1
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() time.Duration { // the mean time a worker was held: the service time as served
		mu.Lock()
		defer mu.Unlock()
		return held / time.Duration(max(served, 1))
	}
}

func mmcProfile(t testing.TB, c int, mean time.Duration) *profile.Profile {
	p, err := profile.Parse("mmc-profile.yaml", []byte(`name: mmc
stages: {work: {workers: `+itoa(c)+`, queue: 100000, service: "exp(`+mean.String()+`)"}}
routes: {work: [{stage: work}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSimKneeIsErlangC: the search on an M/M/c profile in the simulator
// finds the knee the Erlang C formula gives, within 5%.
func TestSimKneeIsErlangC(t *testing.T) {
	s := mmcScenario(t, "work p99 <= 150ms", 100)
	want := erlangKnee(4, 20*time.Millisecond, 150*time.Millisecond)
	res, err := Search(context.Background(), Config{Scenario: s, Runner: &SimRunner{Profile: mmcProfile(t, 4, 20*time.Millisecond)}, Seed: 1, MinStep: 2 * time.Minute, Precision: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Knee.ArrivalsPerS
	t.Logf("knee %.1f/s (Erlang C %.1f), %d steps, ended %s", got, want, len(res.Steps), res.Ended)
	if math.Abs(got-want)/want > 0.05 || !res.Knee.Found {
		t.Errorf("knee %.1f/s, Erlang C says %.1f/s", got, want)
	}
	if h := res.Headroom; math.Abs(h-got/100) > 0.02 {
		t.Errorf("headroom %.2f, want the knee over the peak of 100/s", h)
	}
}

// TestLiveKneeAndCalibration: against an M/M/4 server, the live knee is
// within 10% of Erlang C's for the server's measured service mean, and the
// calibrated profile's capacity (workers over service time) is within 10%
// of the server's, with 4 workers give or take one.
func TestLiveKneeAndCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("a live capacity search takes minutes")
	}
	if raceEnabled {
		// The race detector slows the load generator's own work several
		// fold: the client's share of each latency is then no longer small
		// beside a 5 ms service, and the knee it finds is the generator's
		// as much as the server's (11% low here). ci/check.sh runs this
		// test once more without it.
		t.Skip("a live accuracy test: run without -race (ci/check.sh does)")
	}
	const c, mean, limit = 4, 5 * time.Millisecond, 40 * time.Millisecond // fast, so that a step gathers its samples in seconds
	srv, served := mmcServer(t, c, mean, 100)                             // a queue long enough never to shed near the knee (Erlang C's is endless)
	s := mmcScenario(t, "work p99 <= "+limit.String(), 400)
	live := &LiveRunner{Config: replay.Config{Target: srv.URL}, Cool: time.Second}
	res, err := Search(context.Background(), Config{Scenario: s, Runner: live, Seed: 1, MinStep: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Calibrate(context.Background(), res, s, live.Snapshots, srv.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, measured := bindingStage(p, "work")
	truth := served()
	want := erlangKnee(c, truth, limit)
	got := res.Knee.ArrivalsPerS
	t.Logf("knee %.1f/s (Erlang C %.1f for the server's mean service %v), %d steps; profile: %d workers, service %s, queue %d %s; notes %v",
		got, want, truth, len(res.Steps), st.Workers, st.Service, st.Queue, st.WhenFull, p.Calibrated.Notes)
	if math.Abs(got-want)/want > 0.10 {
		t.Errorf("knee %.1f/s, Erlang C says %.1f/s", got, want)
	}
	// What a prediction turns on is the capacity, workers over the time
	// each holds one: measured from outside, the answers' latency carries
	// the client's and the network's overhead (here about 10% of the
	// service time), and 4 workers of 5.5ms and 5 of 6.8ms saturate alike;
	// which the fit lands on turns on that overhead. So: the capacity
	// within 10%, the workers within one.
	capGot, capWant := float64(st.Workers)/measured.Seconds(), float64(c)/truth.Seconds()
	if math.Abs(capGot-capWant)/capWant > 0.10 || st.Workers < c-1 || st.Workers > c+1 {
		t.Errorf("calibrated %d workers of mean %v (%.0f/s); want %d of %v (%.0f/s), the capacity within 10%%, the workers within one", st.Workers, measured, capGot, c, truth, capWant)
	}
}

// bindingStage is the stage of an endpoint's route with the least
// capacity (workers over the service time a visit holds one), and that
// time: whatever structure the calibration chose (a pool of its own, a
// shared pool, a pool behind a transit stage), the pool that binds.
func bindingStage(p *profile.Profile, endpoint string) (profile.Stage, time.Duration) {
	var best profile.Stage
	var bestMean time.Duration
	var walk func(steps []profile.Step)
	walk = func(steps []profile.Step) {
		for _, step := range steps {
			st := p.Stages[step.Stage]
			mean := st.Service.Mean()
			if step.Service != nil {
				mean = step.Service.Mean()
			}
			if st.Workers > 0 && mean > 0 && (bestMean == 0 || float64(st.Workers)/mean.Seconds() < float64(best.Workers)/bestMean.Seconds()) {
				best, bestMean = st, mean
			}
			walk(step.Calls)
		}
	}
	walk(p.Routes[endpoint])
	return best, bestMean
}

// uslServer answers each request after (1 + sigma (n-1) + kappa n (n-1))
// / lambda, n being the requests in flight as it starts: n users in a
// closed loop get exactly X(n) = lambda n / (1 + sigma (n-1) + kappa n (n-1)).
func uslServer(t testing.TB, u queueing.USL) *httptest.Server {
	var inFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := float64(inFlight.Add(1))
		defer inFlight.Add(-1)
		time.Sleep(time.Duration(n / u.Throughput(n) * float64(time.Second)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestUSLSweepRecoversThePeak: the closed-loop sweep against a server
// whose throughput follows the USL exactly recovers its peak throughput
// within 10% and the load of the peak within 20%.
func TestUSLSweepRecoversThePeak(t *testing.T) {
	if testing.Short() {
		t.Skip("a closed-loop sweep takes a minute")
	}
	truth := queueing.USL{Sigma: 0.05, Kappa: 0.002, Lambda: 100}
	nStar, _ := truth.Peak()
	xStar := truth.Throughput(nStar)
	srv := uslServer(t, truth)
	s := mmcScenario(t, "work p99 <= 1s", 100)
	u, err := Sweep(context.Background(), Config{Scenario: s, Runner: &LiveRunner{Config: replay.Config{Target: srv.URL}, Cool: 500 * time.Millisecond},
		Seed: 1, Concurrency: []int{1, 2, 4, 8, 16, 24, 32, 48}, SweepStep: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("points %v; fit sigma %.4f kappa %.5f lambda %.1f: peak %.0f/s at N %.1f (truth %.0f/s at %.1f)", u.Points, u.Sigma, u.Kappa, u.Lambda,
		u.PeakThroughput, u.PeakLoad, xStar, nStar)
	if math.Abs(u.PeakThroughput-xStar)/xStar > 0.10 || math.Abs(u.PeakLoad-nStar)/nStar > 0.20 {
		t.Errorf("peak %.0f/s at N %.1f, the server's is %.0f/s at %.1f", u.PeakThroughput, u.PeakLoad, xStar, nStar)
	}
}

// BenchmarkKneeSearch: how many steps, and how much played time (what a
// live search spends waiting), the search takes to find the M/M/4 knee
// within 5%, against a fixed ladder of steps 5% apart from the same start
// up to the first breach (what a hand-run "breakpoint test" does). The
// steps run in the simulator, so the benchmark's own time is small.
func BenchmarkKneeSearch(b *testing.B) {
	s := mmcScenario(b, "work p99 <= 150ms", 100)
	runner := &SimRunner{Profile: mmcProfile(b, 4, 20*time.Millisecond)}
	want := erlangKnee(4, 20*time.Millisecond, 150*time.Millisecond)
	played := playedTime
	for _, seq := range []bool{false, true} {
		b.Run(map[bool]string{false: "bisection", true: "bisection-sequential"}[seq], func(b *testing.B) {
			var res *Result
			for b.Loop() {
				res, _ = Search(context.Background(), Config{Scenario: s, Runner: runner, Seed: 1, NoOverload: true, Sequential: seq})
			}
			if e := math.Abs(res.Knee.ArrivalsPerS-want) / want; e > 0.05 {
				b.Errorf("knee %.1f, Erlang C %.1f", res.Knee.ArrivalsPerS, want)
			}
			b.ReportMetric(float64(len(res.Steps)), "steps")
			b.ReportMetric(played(res.Steps).Seconds(), "played-s")
		})
	}
	b.Run("ladder-5pct", func(b *testing.B) {
		var steps []Step
		for b.Loop() {
			steps = nil
			q, _ := newSearch(Config{Scenario: s, Runner: runner, Seed: 1})
			for r := q.cfg.Start; ; r *= 1.05 {
				st, _, _ := q.step(context.Background(), r, q.cfg.MinStep)
				steps = append(steps, st)
				if !st.Pass {
					break
				}
			}
		}
		b.ReportMetric(float64(len(steps)), "steps")
		b.ReportMetric(played(steps).Seconds(), "played-s")
	})
}
