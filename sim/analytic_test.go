package sim

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/sim/queueing"
)

// queueModel is one stage of c workers fed by Poisson arrivals at lambda
// for length; every request visits it once and nobody times out.
func queueModel(t testing.TB, lambda float64, c int, service string, length time.Duration) (*scenarios.Scenario, *profile.Profile) {
	s, err := scenarios.Parse("q.yaml", []byte(fmt.Sprintf(`name: q
scale: 1
arrivals: {start: "00:00", bucket: %v, total: %v, profile: [100%%], process: poisson}
platforms: {web: 100%%}
cohorts: [{name: a, share: 100%%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
behaviour: {timeout: 1h}
`, length, lambda*length.Seconds())))
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse("q-profile.yaml", []byte(fmt.Sprintf(`name: q
stages: {s: {workers: %d, queue: 100000000, service: "%s"}}
routes: {hit: [{stage: s}]}
`, c, service)))
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// batchMeans runs the model and returns the mean response time with the
// half-width of its 99% confidence interval (30 batches by send time,
// the first 10% of the run discarded as warm-up), and the stage's P(wait).
func batchMeans(t *testing.T, lambda float64, c int, service string, length time.Duration) (mean, half, pwait float64) {
	s, p := queueModel(t, lambda, c, service, length)
	const batches = 30
	warm := length / 10
	width := (length - warm) / batches
	var sum [batches]float64
	var n [batches]int
	_, stats, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 11, Drain: time.Minute,
		Observe: func(_ string, o results.Outcome) {
			sent, lat := o.At, o.Corrected
			if sent < warm || sent >= length {
				return
			}
			b := int((sent - warm) / width)
			sum[b] += lat.Seconds()
			n[b]++
		}})
	if err != nil {
		t.Fatal(err)
	}
	var ms []float64
	for b := range batches {
		ms = append(ms, sum[b]/float64(n[b]))
	}
	var m, v float64
	for _, x := range ms {
		m += x
	}
	m /= batches
	for _, x := range ms {
		v += (x - m) * (x - m)
	}
	sd := math.Sqrt(v / (batches - 1))
	const t995 = 2.756 // Student's t, 0.995 quantile, 29 degrees of freedom
	return m, t995 * sd / math.Sqrt(batches), stats.Stages["s"].PWait()
}

func TestSimulatorAgreesWithClosedForms(t *testing.T) {
	if testing.Short() {
		t.Skip("long simulations")
	}
	const S = 10 * time.Millisecond
	cases := []struct {
		c       int
		rho     float64
		service string
		length  time.Duration
	}{
		{1, 0.5, "exp(10ms)", 20 * time.Minute},
		{1, 0.8, "exp(10ms)", 40 * time.Minute},
		{1, 0.95, "exp(10ms)", 2 * time.Hour},
		{4, 0.5, "exp(10ms)", 10 * time.Minute},
		{4, 0.8, "exp(10ms)", 20 * time.Minute},
		{4, 0.95, "exp(10ms)", time.Hour},
		{1, 0.5, "10ms", 20 * time.Minute},
		{1, 0.9, "10ms", time.Hour},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("c=%d rho=%.2f %s", c.c, c.rho, c.service), func(t *testing.T) {
			lambda := c.rho * float64(c.c) / S.Seconds()
			mean, half, pwait := batchMeans(t, lambda, c.c, c.service, c.length)
			var want float64
			if c.service == "10ms" { // M/D/1: Pollaczek-Khinchine
				wq, _ := queueing.MD1MeanWait(lambda, S)
				want = (wq + S).Seconds()
			} else {
				w, _ := queueing.MMc{Lambda: lambda, S: S, C: c.c}.MeanResponse()
				want = w.Seconds()
				cw, _ := queueing.ErlangC(c.c, lambda*S.Seconds())
				if math.Abs(pwait-cw) > 0.01 {
					t.Errorf("P(wait) %.4f, Erlang C %.4f", pwait, cw)
				}
			}
			t.Logf("mean response %.3fms +- %.3fms (99%%), analytic %.3fms", mean*1e3, half*1e3, want*1e3)
			if math.Abs(mean-want) > half {
				t.Errorf("analytic %.4fms outside the simulation's 99%% interval %.4f +- %.4f ms", want*1e3, mean*1e3, half*1e3)
			}
		})
	}
}

func BenchmarkEventLoop(b *testing.B) {
	s, p := queueModel(b, 3200, 4, "exp(1ms)", 5*time.Minute) // rho 0.8, 960k arrivals
	for b.Loop() {
		_, st, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 1, Drain: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Events), "events/op")
	}
}

// BenchmarkNational simulates the first-download scenario at national scale
// (1:1, the scenario's 30x compression): ~144k users, ~6.9M events.
func BenchmarkNational(b *testing.B) {
	s, p := firstDownloadAsBuilt(b)
	s.Scale = 1
	for b.Loop() {
		_, st, err := Run(context.Background(), Config{Scenario: s, Profile: p, Seed: 1, Capacity: 50})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Events), "events/op")
	}
}
