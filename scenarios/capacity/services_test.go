package capacity

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim"
)

// The live test services: real HTTP servers on loopback, each of a class
// real services are, written here from their own description (not from
// the capacity profile, nor the simulator): pools of request slots,
// requests that hold one pool while they wait on another, a rate limiter,
// the service's own request timeout, bounded queues that shed, work
// carried on for clients who have gone.

// service describes one test service.
type service struct {
	pools  map[string]int // name -> slots
	routes map[string]hop // path ("/a") -> its work
	// queue bounds each pool's waiting requests (a 503 past it; 0: none).
	queue int
	// rate and burst are a token-bucket limiter in front (429 past it).
	rate  float64
	burst int
	// timeout is the service's own request timeout (a 503 when it fires).
	timeout time.Duration
	// finish: the work of a client that has gone goes on to its end.
	finish bool
}

// hop is work at a pool: a slot held for an exponential time of the given
// mean, then (still holding it) the calls in order, each made by its share
// of the requests.
type hop struct {
	pool  string
	mean  time.Duration
	calls []hop
	// share is the share of the requests that make this call (0: all): a
	// cache's misses calling the store behind it.
	share float64
}

// liveService is a running service.
type liveService struct {
	spec  service
	slots map[string]chan struct{}

	mu      sync.Mutex
	rng     *rand.Rand
	waiting map[string]int
	tokens  float64
	last    time.Time
}

// start serves spec on loopback until the test ends.
func (spec service) start(t testing.TB) *httptest.Server {
	t.Helper()
	ls := &liveService{spec: spec, slots: map[string]chan struct{}{}, rng: rand.New(rand.NewPCG(11, 13)),
		waiting: map[string]int{}, tokens: float64(max(spec.burst, 1)), last: time.Now()}
	for name, n := range spec.pools {
		ls.slots[name] = make(chan struct{}, n)
	}
	srv := httptest.NewServer(http.HandlerFunc(ls.serve))
	t.Cleanup(srv.Close)
	return srv
}

func (ls *liveService) serve(w http.ResponseWriter, r *http.Request) {
	work, ok := ls.spec.routes[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !ls.admit() {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	ctx := r.Context()
	if ls.spec.finish {
		ctx = context.WithoutCancel(ctx)
	}
	done := make(chan int, 1)
	go func() { done <- ls.do(ctx, work) }()
	var expired <-chan time.Time
	if ls.spec.timeout > 0 {
		tm := time.NewTimer(ls.spec.timeout)
		defer tm.Stop()
		expired = tm.C
	}
	select {
	case status := <-done:
		w.WriteHeader(status)
	case <-expired: // the work goes on (or not) as the client's would
		w.WriteHeader(http.StatusServiceUnavailable)
	case <-r.Context().Done():
	}
}

// admit takes a token from the limiter, if there is one.
func (ls *liveService) admit() bool {
	if ls.spec.rate <= 0 {
		return true
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	now := time.Now()
	ls.tokens = math.Min(float64(max(ls.spec.burst, 1)), ls.tokens+now.Sub(ls.last).Seconds()*ls.spec.rate)
	ls.last = now
	if ls.tokens < 1 {
		return false
	}
	ls.tokens--
	return true
}

// draw is true for a share of the calls.
func (ls *liveService) draw(share float64) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.rng.Float64() < share
}

// do carries out h: 200, or 503 when a pool's queue is full.
func (ls *liveService) do(ctx context.Context, h hop) int {
	slots := ls.slots[h.pool]
	ls.mu.Lock()
	if len(slots) == cap(slots) && ls.spec.queue > 0 && ls.waiting[h.pool] >= ls.spec.queue {
		ls.mu.Unlock()
		return http.StatusServiceUnavailable
	}
	ls.waiting[h.pool]++
	d := time.Duration(ls.rng.ExpFloat64() * float64(h.mean))
	ls.mu.Unlock()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		ls.mu.Lock()
		ls.waiting[h.pool]--
		ls.mu.Unlock()
		return http.StatusServiceUnavailable
	}
	ls.mu.Lock()
	ls.waiting[h.pool]--
	ls.mu.Unlock()
	defer func() { <-slots }()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return http.StatusServiceUnavailable
	}
	for _, c := range h.calls {
		if c.share > 0 && !ls.draw(c.share) {
			continue // a hit: the cache answered
		}
		if status := ls.do(ctx, c); status != http.StatusOK {
			return status
		}
	}
	return http.StatusOK
}

// plainStep is what a plain Poisson client (not surge's engine) measures
// at rate arrivals/s for d after warm at that rate: each path's p95 of its
// successes and the share of all answers that failed. shareA of the
// arrivals go to /a, the rest to /b; a request gives up after 2s, as the
// scenario's clients do. The warm-up brings it nearer a steady state's
// measurement close to saturation, where a queue starting empty fills for
// tens of seconds: at 1.1x a knee of 143.8/s on 4 slots of 20 and 30 ms,
// 99% busy, a cold 10-s step read p95 236 ms (interval 178-276) against a
// bound of 300 where the steady state is past a second; after 10 s warm,
// 334 ms (202-383).
func plainStep(t testing.TB, url string, rate, shareA float64, warm, d time.Duration, seed uint64) plain {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	batches := map[string][plainBatches][]time.Duration{}
	var answered, failed int
	var wg sync.WaitGroup
	start := time.Now().Add(warm)
	for at := -warm; at < d; at += time.Duration(rng.ExpFloat64() / rate * float64(time.Second)) {
		path := "/b"
		if rng.Float64() < shareA {
			path = "/a"
		}
		time.Sleep(time.Until(start.Add(at)))
		wg.Add(1)
		go func(intended time.Time, batch int) {
			defer wg.Done()
			resp, err := client.Get(url + path)
			took := time.Since(intended) // from the intended send: coordinated omission corrected
			if resp != nil {
				resp.Body.Close()
			}
			if batch < 0 {
				return // the warm-up
			}
			mu.Lock()
			defer mu.Unlock()
			answered++
			if err != nil || resp.StatusCode != http.StatusOK {
				failed++
			} else {
				lat[path] = append(lat[path], took)
				b := batches[path]
				b[batch] = append(b[batch], took)
				batches[path] = b
			}
		}(start.Add(at), plainBatch(at, d))
	}
	wg.Wait()
	return plain{lat: lat, batches: batches, answered: answered, failed: failed}
}

// plainBatch is the stretch an arrival at at of a plain step of length d
// is read in (-1: the warm-up's).
func plainBatch(at, d time.Duration) int {
	if at < 0 {
		return -1
	}
	return min(plainBatches-1, int(at*plainBatches/d))
}

// plainBatches is how many stretches of its length a plain step's p95 is
// also read over, for its interval: the latencies of a queue a second
// apart are not independent, so the order statistics of one sample would
// make the interval far too narrow (±3% measured), while the spread of
// the stretches' own p95s says how much it moves.
const plainBatches = 5

// plain is a plain client's step: each path's successful latencies, also
// by stretch of the step, and the answers and failures.
type plain struct {
	lat              map[string][]time.Duration
	batches          map[string][plainBatches][]time.Duration
	answered, failed int
}

// p95 is a path's p95 and its 95% interval by batch means: the mean of
// the stretches' p95s plus or minus Student's t (4 degrees of freedom:
// 2.776) times their standard error.
func (p plain) p95(path string) (mid, lo, hi time.Duration) {
	mid = quantile(p.lat[path], 0.95)
	var ps []float64
	for _, b := range p.batches[path] {
		if len(b) > 0 {
			ps = append(ps, float64(quantile(b, 0.95)))
		}
	}
	if len(ps) < plainBatches {
		return mid, 0, time.Duration(math.MaxInt64) // too few to say: no bound either way
	}
	mean, sd := stat.MeanStdDev(ps, nil)
	w := 2.776 * sd / math.Sqrt(float64(len(ps)))
	return mid, time.Duration(math.Min(float64(mid), mean-w)), time.Duration(math.Max(float64(mid), mean+w))
}

// quantile is xs's q quantile (xs sorted in place).
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, max(0, int(math.Ceil(q*float64(len(xs))))-1))]
}

// errBounds is the share of answers that failed, with its 95% interval
// (Wilson's).
func (p plain) errBounds() (share, lo, hi float64) {
	n := float64(max(p.answered, 1))
	share = float64(p.failed) / n
	z := 1.96
	c := (share + z*z/(2*n)) / (1 + z*z/n)
	w := z / (1 + z*z/n) * math.Sqrt(share*(1-share)/n+z*z/(4*n*n))
	return share, math.Max(0, c-w), math.Min(1, c+w)
}

func (p plain) String() string {
	out := ""
	for _, path := range []string{"/a", "/b"} {
		mid, lo, hi := p.p95(path)
		out += fmt.Sprintf("%s p95 %v (%v-%v) ", path, mid.Round(time.Millisecond), lo.Round(time.Millisecond), hi.Round(time.Millisecond))
	}
	share, lo, hi := p.errBounds()
	return out + fmt.Sprintf("errors %.2f%% (%.2f-%.2f%%)", 100*share, 100*lo, 100*hi)
}

// clearlyBroken says the step broke the clauses (a p95 over slo, more
// than 1% of answers failed) beyond its own sampling error; clearlyHolds
// that it held them beyond it. A knee within 10% is one where 0.9x of it
// is not clearly broken and 1.1x does not clearly hold: a bare reading of
// a 10-s step's p95 against the line flipped on a knee 9% low (287 ms
// against 300).
func (p plain) clearlyBroken(slo time.Duration) bool {
	_, lo, _ := p.errBounds()
	_, a, _ := p.p95("/a")
	_, b, _ := p.p95("/b")
	return lo > 0.01 || a > slo || b > slo
}

func (p plain) clearlyHolds(slo time.Duration) bool {
	_, _, hi := p.errBounds()
	_, _, a := p.p95("/a")
	_, _, b := p.p95("/b")
	return hi <= 0.01 && a <= slo && b <= slo
}

// liveCase is a live service, its mix and SLO, and the structures that
// describe its class.
type liveCase struct {
	name   string
	shareA float64
	slo    time.Duration
	svc    service
	want   []string
	ci     bool // in the compressed set
}

// liveServices are the live test services: sizes, service times and mixes
// varied across the classes.
func liveServices() []liveCase {
	return []liveCase{
		{"rate limiter 150/s in front of 16 slots, a 4ms b 8ms, 50% a", 0.5, 100 * time.Millisecond, service{
			pools: map[string]int{"web": 16}, rate: 150, burst: 15,
			routes: map[string]hop{"/a": {pool: "web", mean: 4 * time.Millisecond}, "/b": {pool: "web", mean: 8 * time.Millisecond}},
		}, []string{"global-limit"}, true},
		{"own timeout 250ms (503), 3 slots shared, a 10ms b 20ms, 60% a", 0.6, 200 * time.Millisecond, service{
			pools: map[string]int{"web": 3}, timeout: 250 * time.Millisecond,
			routes: map[string]hop{"/a": {pool: "web", mean: 10 * time.Millisecond}, "/b": {pool: "web", mean: 20 * time.Millisecond}},
		}, []string{"shared+timeout", "independent+timeout"}, false},
		{"a cache answering 80% of a and 50% of b in front of a store of 3 slots, a 20ms b 10ms, 60% a", 0.6, 150 * time.Millisecond, service{
			pools: map[string]int{"web": 100_000, "store": 3},
			routes: map[string]hop{
				"/a": {pool: "web", mean: time.Millisecond, calls: []hop{{pool: "store", mean: 20 * time.Millisecond, share: 0.2}}},
				"/b": {pool: "web", mean: time.Millisecond, calls: []hop{{pool: "store", mean: 10 * time.Millisecond, share: 0.5}}},
			},
		}, []string{"cache"}, false},
		{"8 web slots held across 2 database slots, a 1+5ms b 1+15ms, 70% a", 0.7, 150 * time.Millisecond, service{
			pools: map[string]int{"web": 8, "db": 2},
			routes: map[string]hop{
				"/a": {pool: "web", mean: time.Millisecond, calls: []hop{{pool: "db", mean: 5 * time.Millisecond}}},
				"/b": {pool: "web", mean: time.Millisecond, calls: []hop{{pool: "db", mean: 15 * time.Millisecond}}},
			},
		}, []string{"shared+transit", "shared"}, false},
		{"own pools, 4 of 6ms and 2 of 10ms, queues of 8 that shed, 40% a", 0.4, 80 * time.Millisecond, service{
			pools: map[string]int{"pa": 4, "pb": 2}, queue: 8,
			routes: map[string]hop{"/a": {pool: "pa", mean: 6 * time.Millisecond}, "/b": {pool: "pb", mean: 10 * time.Millisecond}},
		}, []string{"independent"}, false},
		{"4 slots shared, finishing the work of clients who have gone, a 20ms b 30ms, 50% a", 0.5, 300 * time.Millisecond, service{
			pools: map[string]int{"web": 4}, finish: true,
			routes: map[string]hop{"/a": {pool: "web", mean: 20 * time.Millisecond}, "/b": {pool: "web", mean: 30 * time.Millisecond}},
		}, []string{"shared+finish"}, true},
		{"own pools of 3 and 5 finishing the work of clients who have gone, a 15ms b 25ms, 30% a", 0.3, 250 * time.Millisecond, service{
			pools: map[string]int{"pa": 3, "pb": 5}, finish: true,
			routes: map[string]hop{"/a": {pool: "pa", mean: 15 * time.Millisecond}, "/b": {pool: "pb", mean: 25 * time.Millisecond}},
		}, []string{"independent+finish"}, false},
	}
}

// logFailing logs a failing judged step second by second (its p95 in
// ms/its failures), from its first arrival: whether it failed on its start
// (a backlog carried in) or on its end (a queue still filling).
func logFailing(t testing.TB) func(int, Step, *results.Run) error {
	return func(i int, st Step, run *results.Run) error {
		if st.Pass || st.Mix != "" {
			return nil
		}
		var secs []string
		for b := time.Duration(0); b < min(run.Meta.Elapsed, time.Minute); b += time.Second {
			o := run.Slice(b, b+time.Second).Overall()
			secs = append(secs, fmt.Sprintf("%d/%d", o.Latency.Percentile(95).Milliseconds(), o.Failed()))
		}
		t.Logf("step %d at %.1f/s broke %s; by second: %s", i, st.Offered, st.Broke, strings.Join(secs, " "))
		return nil
	}
}

// TestLiveServicesKneeAndStructure: for live services of several classes
// (sizes, service times and mixes varied), surge capacity's knee agrees
// with a plain Poisson client's (written above, not surge's engine): the
// clauses are not clearly broken at 0.9x the knee and do not clearly hold
// at 1.1x (beyond the plain step's own 95% sampling error), so the knee is
// within 10%; the calibration names the class's structure; and a surge to 1.4x
// the knee, compressed, is predicted as judgeSurge judges. The compressed
// set runs in CI; SURGE_LONG_TESTS=1 runs every class. It searches as
// surge capacity does by default, with the sequential test;
// SURGE_STEPS=whole plays every step whole (--full-steps), to compare.
func TestLiveServicesKneeAndStructure(t *testing.T) {
	if testing.Short() {
		t.Skip("live capacity searches take minutes")
	}
	if raceEnabled {
		t.Skip("a live accuracy test: run without -race (ci/check.sh does)")
	}
	long := os.Getenv("SURGE_LONG_TESTS") == "1"
	for _, c := range liveServices() {
		t.Run(c.name, func(t *testing.T) {
			if !c.ci && !long {
				t.Skip("SURGE_LONG_TESTS=1 runs it")
			}
			srv := c.svc.start(t)
			s := twoRequests(t, c.shareA, 100, c.slo, "errors <= 1%")
			live := &LiveRunner{Config: replay.Config{Target: srv.URL}, Cool: time.Second}
			ctx := context.Background()
			began := time.Now()
			res, err := Search(ctx, Config{Scenario: s, Runner: live, Seed: 1, MinStep: 5 * time.Second, Steps: logFailing(t), Sequential: os.Getenv("SURGE_STEPS") != "whole"})
			took := time.Since(began)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Calibrate(ctx, res, s, nil, srv.URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			knee := res.Knee.ArrivalsPerS
			settling := 0
			for _, st := range res.Steps {
				t.Logf("step %6.1f/s %-40.40q succeeded %6.1f/s, failed %5.1f%%, pass %-5v measured %v (planned %v), settled after %v", st.Offered, st.Mix, st.Goodput, 100*failedShare(st), st.Pass, st.Length, st.Planned, st.Settled)
				if st.Settled > 0 || st.Unsettled {
					settling++
				}
			}
			// A service finishing its gone clients' work is still at it
			// after an overloaded step; the search waits it out (settle.go).
			if c.svc.finish && settling == 0 {
				t.Errorf("no step was followed by the service still busy, but it finishes its gone clients' work")
			}
			for _, cand := range res.Candidates {
				t.Logf("%-20s %.3f  %s", cand.Name, cand.Score, cand.Structure)
			}
			if got := res.Candidates[0].Name; !slices.Contains(c.want, got) {
				t.Errorf("chose %s, want one of %v", got, c.want)
			}
			// Each plain step warms up first (plainStep); at 0.9x the queue
			// settles within seconds, at 1.1x, near saturation, it does not.
			below := plainStep(t, srv.URL, 0.9*knee, c.shareA, 10*time.Second, 10*time.Second, 1)
			above := plainStep(t, srv.URL, 1.1*knee, c.shareA, 20*time.Second, 10*time.Second, 2)
			t.Logf("knee %.1f/s (%d steps in %v, ended %s %s); plain client at 0.9x: %v; at 1.1x: %v", knee, len(res.Steps), took.Round(time.Second), res.Ended, res.Note, below, above)
			if below.clearlyBroken(c.slo) {
				t.Errorf("at 0.9x surge's knee (%.1f/s) a plain Poisson client sees the clauses broken beyond its sampling error: the knee is high by more than 10%%", 0.9*knee)
			}
			if above.clearlyHolds(c.slo) {
				t.Errorf("at 1.1x surge's knee (%.1f/s) a plain Poisson client sees the clauses hold beyond its sampling error: the knee is low by more than 10%%", 1.1*knee)
			}
			// The whole surge, compressed to 20-s phases (TestLiveSurgePredicted
			// plays minutes, for every class).
			judgeSurge(t, srv.URL, surgeIn(t, s, knee, 20*time.Second), p, res)
		})
	}
}

// TestLiveSurgePredicted: for live services of several classes, surge
// capacity's search and calibration, then the surge (a minute at half the
// knee, a minute at 1.4x, a minute at half; clients retrying timeouts,
// sheds and 5xx twice, then giving up) played live against the service and
// predicted by the simulator on the calibrated profile, judged as
// judgeSurge says. SURGE_LONG_TESTS=1 runs it (about six minutes a
// service; SURGE_SERVICE=words picks the services whose name has them).
// CI plays a compressed surge on the rate limiter in
// TestLiveServicesKneeAndStructure.
func TestLiveSurgePredicted(t *testing.T) {
	if os.Getenv("SURGE_LONG_TESTS") != "1" {
		t.Skip("SURGE_LONG_TESTS=1 runs it")
	}
	only := os.Getenv("SURGE_SERVICE")
	for _, c := range liveServices() {
		t.Run(c.name, func(t *testing.T) {
			if only != "" && !strings.Contains(c.name, only) {
				t.Skip("SURGE_SERVICE names another")
			}
			srv := c.svc.start(t)
			s := twoRequests(t, c.shareA, 100, c.slo, "errors <= 1%")
			ctx := context.Background()
			res, err := Search(ctx, Config{Scenario: s, Runner: &LiveRunner{Config: replay.Config{Target: srv.URL}, Cool: time.Second}, Seed: 1, MinStep: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			p, err := Calibrate(ctx, res, s, nil, srv.URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range res.Steps {
				t.Logf("step %6.1f/s %-75q succeeded %6.1f/s, failed %5.1f%%", st.Offered, st.Mix, st.Goodput, 100*failedShare(st))
			}
			for _, cand := range res.Candidates {
				t.Logf("%-20s %.3f  %s", cand.Name, cand.Score, cand.Structure)
			}
			if y, err := MarshalProfile(p); err == nil {
				t.Logf("profile:\n%s", y)
			}
			judgeSurge(t, srv.URL, surgeOf(t, s, res.Knee.ArrivalsPerS), p, res)
		})
	}
}

// judgeSurge plays surge live against url and predicts it on p (the same
// seed), and fails where they differ by more than compareRuns allows plus
// the live figure's own sampling error (a 95% interval: the error share's
// binomial one, the p95's order statistics).
func judgeSurge(t *testing.T, url string, surge *scenarios.Scenario, p *profile.Profile, res *Result) {
	t.Helper()
	ctx := context.Background()
	time.Sleep(5 * time.Second) // the search's last step drained
	live, err := replay.Run(ctx, replay.Config{Target: url, Scenario: surge, Seed: 2, Bucket: time.Second, Drain: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The live figures must be the service's, not the generator's queue
	// (as a search's step judges it: one send late is a hiccup).
	if generatorBehind(live) {
		t.Errorf("the live surge was the generator's limit: its sends late by p99 %v", live.Generator.Late.Percentile(99))
	}
	for _, ev := range live.Events {
		if ev.Kind == "connection-cap" {
			t.Errorf("the live surge was the generator's limit at %v: %s", ev.At, ev.Detail)
		}
	}
	cfg := sim.Config{Scenario: surge, Profile: p, Seed: 2, Bucket: time.Second, Drain: 30 * time.Second}
	pred, _, err := sim.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	logBand(t, cfg, live)
	logSeeds(t, cfg, live)
	for i, r := range [2]*results.Run{live, pred} {
		for _, rec := range reports.Recoveries(surge, r) {
			t.Logf("%s: recovered %v after %v (left %v)", [2]string{"live", "predicted"}[i], rec.Recovered, rec.After, rec.Left)
		}
	}
	for _, m := range append(compareRuns(t, live, pred, addNoise(sampling(live), shareNoise(res, p, live)), surge.Behaviour.Timeout), compareRecovery(t, surge, live, pred)...) {
		t.Error(m)
	}
}

// logSeeds plays cfg's prediction with ten seeds after its own and logs
// whether want's figures fall within their range: the day's own chance,
// beside the band's capacity.
func logSeeds(t *testing.T, cfg sim.Config, want *results.Run) {
	t.Helper()
	lo, hi := map[string]float64{}, map[string]float64{}
	var abLo, abHi int64 = math.MaxInt64, 0
	for i := range 10 {
		c := cfg
		c.Seed = cfg.Seed + 1 + uint64(i)
		r, _, err := sim.Run(context.Background(), c)
		if err != nil {
			t.Logf("seeds: %v", err)
			return
		}
		for name, e := range r.Endpoints {
			x := errorShare(e.Total)
			if v, ok := lo[name]; !ok || x < v {
				lo[name] = x
			}
			hi[name] = math.Max(hi[name], x)
		}
		abLo, abHi = min(abLo, r.Users.Abandoned), max(abHi, r.Users.Abandoned)
	}
	for _, name := range want.EndpointNames() {
		w := errorShare(want.Endpoints[name].Total)
		t.Logf("seeds %d-%d: %s errors %.1f%%-%.1f%% (true %.1f%%: within %v)", cfg.Seed+1, cfg.Seed+10, name, 100*lo[name], 100*hi[name], 100*w, lo[name] <= w && w <= hi[name])
	}
	t.Logf("seeds: abandoned %d-%d (true %d: within %v)", abLo, abHi, want.Users.Abandoned, abLo <= want.Users.Abandoned && want.Users.Abandoned <= abHi)
}

// logBand plays cfg's prediction at both ends of its profile's capacity
// uncertainty (reports.PlayBand) and logs whether want's figures fall
// within them: the band's coverage, for the resolve note.
func logBand(t *testing.T, cfg sim.Config, want *results.Run) {
	t.Helper()
	band, err := reports.PlayBand(context.Background(), cfg)
	if err != nil || band == nil {
		t.Logf("no band (%v)", err)
		return
	}
	in := func(x, a, b float64) bool { return math.Min(a, b) <= x && x <= math.Max(a, b) }
	for _, name := range want.EndpointNames() {
		w, lo, hi := errorShare(want.Endpoints[name].Total), band.Low.Endpoints[name].ErrorShare, band.High.Endpoints[name].ErrorShare
		t.Logf("band +-%.1f%%: %s errors %.1f%% at -, %.1f%% at + (true %.1f%%: within %v)", 100*band.Uncertainty, name, 100*lo, 100*hi, 100*w, in(w, lo, hi))
	}
	wa := float64(want.Users.Abandoned)
	t.Logf("band: abandoned %d at -, %d at + (true %d: within %v)", band.Low.Abandoned, band.High.Abandoned, want.Users.Abandoned,
		in(wa, float64(band.Low.Abandoned), float64(band.High.Abandoned)))
}

// sampling is each request's 95% sampling error of its error share
// (binomial) and of its p95 (relative, from the order statistics around
// it), measured live.
func sampling(live *results.Run) map[string][2]float64 {
	out := map[string][2]float64{}
	for name, e := range live.Endpoints {
		n := float64(e.Total.Answered())
		if n == 0 {
			continue
		}
		share := errorShare(e.Total)
		k := float64(e.Total.Succeeded)
		var rel float64
		if k > 0 && p95(e.Total) > 0 {
			// The p95's rank moves by 1.96 sqrt(k p (1-p)) samples; read
			// the latencies that far from it.
			d := 1.96 * math.Sqrt(k*0.95*0.05) / k * 100
			lo, hi := e.Total.Latency.Percentile(math.Max(0, 95-d)).Seconds(), e.Total.Latency.Percentile(math.Min(100, 95+d)).Seconds()
			rel = (hi - lo) / 2 / p95(e.Total)
		}
		out[name] = [2]float64{1.96 * math.Sqrt(share*(1-share)/n), rel}
	}
	return out
}
