package replay

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// TestAnsweredBeforeTheOldestOut: the ring reads the start of the oldest
// second with an attempt out, a second behind the clock when none is,
// and refuses a run longer than itself.
func TestAnsweredBeforeTheOldestOut(t *testing.T) {
	var f inFlight
	for _, tc := range []struct {
		name string
		now  time.Duration
		out  []time.Duration
		want time.Duration
		ok   bool
	}{
		{"none out: a second behind, truncated", 12500 * time.Millisecond, nil, 11 * time.Second, true},
		{"one out from 7.3 s", 12500 * time.Millisecond, []time.Duration{7300 * time.Millisecond, 9 * time.Second}, 7 * time.Second, true},
		{"out this very second", 12500 * time.Millisecond, []time.Duration{12 * time.Second}, 11 * time.Second, true},
		{"before the first second", 300 * time.Millisecond, nil, 0, true},
		{"longer than the ring", inFlightRing * time.Second, nil, 0, false},
	} {
		for _, at := range tc.out {
			f.add(at, 1)
		}
		got, ok := f.answeredBefore(tc.now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: answered before %v (ok %v), want %v (%v)", tc.name, got, ok, tc.want, tc.ok)
		}
		for _, at := range tc.out {
			f.add(at, -1)
		}
	}
}

// TestLiveAnsweredTrailsTheAnswersStillOut: against a service taking 1.5 s
// an answer, a run read while it runs holds, before Live.Answered, every
// answer it will ever hold there (nothing lands later in those buckets),
// and Answered keeps up with the clock, 1.5 s and a bucket behind.
func TestLiveAnsweredTrailsTheAnswersStillOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
	}))
	defer srv.Close()
	s := scenario(t, `arrivals: {start: "12:00", bucket: 8s, total: 80, profile: [100%], process: uniform}
requests: {slow: {method: GET, path: /slow}}
journeys: {j: [{request: slow, timeout: 5s}]}`)
	type seen struct {
		elapsed, answered time.Duration
		draining          bool
		counts            []int64 // answers by second, before answered
	}
	var (
		mu    sync.Mutex
		looks []seen
	)
	live := &Live{}
	run := play(t, s, srv.URL, func(c *Config) {
		c.Live, c.Bucket = live, time.Second
		c.Progress = func(p Progress) {
			answered, ok := live.Answered()
			if !ok {
				return
			}
			l := seen{elapsed: p.Elapsed, answered: answered, draining: p.Draining}
			live.View(func(run *results.Run, _ int64) { l.counts = perSecond(run, answered) })
			mu.Lock()
			looks = append(looks, l)
			mu.Unlock()
		}
	})
	final := perSecond(run, run.Meta.Elapsed)
	var total int64
	for _, n := range final {
		total += n
	}
	if total != 80 {
		t.Fatalf("%d answers in the run, want 80: %v", total, final)
	}
	steady := 0
	for _, l := range looks {
		for i, n := range l.counts {
			if n != final[i] {
				t.Errorf("at %v (answered before %v): second %d held %d answers, and %d at the end", l.elapsed, l.answered, i, n, final[i])
			}
		}
		if l.answered > l.elapsed-time.Second {
			t.Errorf("at %v: answered before %v, past a second behind the clock", l.elapsed, l.answered)
		}
		if !l.draining && l.elapsed >= 4*time.Second {
			steady++
			if l.answered < l.elapsed-3500*time.Millisecond {
				t.Errorf("at %v: answered before only %v, where answers take 1.5 s", l.elapsed, l.answered)
			}
		}
	}
	if steady < 2 {
		t.Errorf("looked %d times in the steady part, want 2 or more: %+v", steady, looks)
	}
}

// perSecond counts run's answers by the second of their intended send,
// before end.
func perSecond(run *results.Run, end time.Duration) []int64 {
	var counts []int64
	for b := time.Duration(0); b+time.Second <= end; b += time.Second {
		var n int64
		for _, e := range run.Slice(b, b+time.Second).Endpoints {
			n += e.Total.Attempted
		}
		counts = append(counts, n)
	}
	return counts
}

// BenchmarkInFlight: what counting an attempt out and back in costs, from
// every core at once on the same second (the worst case: one cache line).
func BenchmarkInFlight(b *testing.B) {
	var f inFlight
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.add(time.Second, 1)
			f.add(time.Second, -1)
		}
	})
}
