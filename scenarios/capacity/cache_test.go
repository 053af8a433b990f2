package capacity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/spec"
)

// TestTwoModesSplitsACachesAnswers: answers drawn as a cache's (a share of
// hits, the rest misses that looked in the cache and then waited on the
// store), with the hits' and the store's times of several shapes and a
// floor under every answer: over 2,000 answers the split finds the hit
// share within its own 95% sampling error and 2.5 points (the shape of a
// mode it does not model: hits uniform over a millisecond read 2 points
// low against the sample's own share), and the
// store's mean within the 95% sampling error of the misses' mean and 5%.
func TestTwoModesSplitsACachesAnswers(t *testing.T) {
	for _, c := range []struct {
		hit         float64
		floor       time.Duration
		fast, store spec.Dist
	}{
		{0.8, 0, spec.Exp(time.Millisecond), spec.Exp(20 * time.Millisecond)},
		{0.5, 0, spec.Exp(2 * time.Millisecond), spec.Exp(10 * time.Millisecond)},
		{0.9, 0, spec.Exp(500 * time.Microsecond), spec.Exp(15 * time.Millisecond)},
		{0.8, 800 * time.Microsecond, spec.Exp(time.Millisecond), spec.Exp(20 * time.Millisecond)},
		{0.5, 500 * time.Microsecond, spec.Exp(time.Millisecond), spec.Exp(10 * time.Millisecond)},
		{0.7, 300 * time.Microsecond, spec.Uniform(500*time.Microsecond, 1500*time.Microsecond), spec.Lognormal(15*time.Millisecond, 30*time.Millisecond)},
	} {
		t.Run(fmt.Sprintf("%.0f%% hits, %v floor, %v then %v", 100*c.hit, c.floor, c.fast, c.store), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 9))
			h := results.NewHistogram(3)
			for range 2000 {
				d := c.floor + c.fast.Sample(rng)
				if rng.Float64() >= c.hit {
					d += c.store.Sample(rng)
				}
				h.Record(d)
			}
			m, ok := twoModes(h)
			if !ok {
				t.Fatal("no two modes found")
			}
			t.Logf("hit %.3f +- %.3f, fast %v, miss %v, apart %v", m.hit, m.hitErr, m.fast, m.miss, m.apart)
			if math.Abs(m.hit-c.hit) > m.hitErr+0.025 {
				t.Errorf("hit share %.3f, want %.2f +- %.3f", m.hit, c.hit, m.hitErr+0.025)
			}
			misses := 2000 * (1 - c.hit)
			cv := math.Sqrt(c.store.SCV() + c.fast.SCV()*math.Pow(c.fast.Mean().Seconds()/c.store.Mean().Seconds(), 2))
			if got, want := m.miss.Mean().Seconds(), c.store.Mean().Seconds(); math.Abs(got-want)/want > 1.96*cv/math.Sqrt(misses)+0.05 {
				t.Errorf("a miss's store time %v, want %v +- %.1f%%", m.miss.Mean(), c.store.Mean(), 100*(1.96*cv/math.Sqrt(misses)+0.05))
			}
		})
	}
}
