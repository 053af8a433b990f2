package spec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseDist(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		in   string
		want Dist
	}{
		{"20ms", Const(20 * ms)},
		{"0", Const(0)},
		{"const(1.5s)", Const(1500 * ms)},
		{"det(3ms)", Const(3 * ms)},
		{"exp(20ms)", Exp(20 * ms)},
		{"exp:20ms", Exp(20 * ms)},
		{"uniform(2s, 8s)", Uniform(2*time.Second, 8*time.Second)},
		{"uniform(lo=2s, hi=8s)", Uniform(2*time.Second, 8*time.Second)},
		{"lognormal(median=5m, p90=15m)", Lognormal(5*time.Minute, 15*time.Minute)},
	}
	for _, c := range cases {
		have, err := ParseDist(c.in)
		if err != nil || have != c.want {
			t.Errorf("ParseDist(%q) = %v, %v; want %v", c.in, have, err, c.want)
		}
		back, err := ParseDist(have.String())
		if err != nil || math.Abs(back.a-have.a) > 1e-9 || math.Abs(back.b-have.b) > 1e-9 || back.kind != have.kind {
			t.Errorf("round trip of %q via %q = %v, %v", c.in, have.String(), back, err)
		}
	}
	for _, bad := range []string{"", "fast", "exp()", "exp(0s)", "uniform(8s, 2s)", "uniform(1s)", "gamma(1s)",
		"lognormal(median=5m, p90=1m)", "uniform(lo=1s, mid=2s)", "exp(-1s)", "uniform(1ms"} {
		if _, err := ParseDist(bad); err == nil {
			t.Errorf("ParseDist(%q) accepted", bad)
		}
	}
}

// TestDistMoments checks each distribution's sample mean and quantiles
// against its closed forms: the mean within 4 standard errors, the median
// by the share of draws under it (binomial, 4 sd).
func TestDistMoments(t *testing.T) {
	const n = 200_000
	for _, d := range []Dist{Const(7 * time.Millisecond), Exp(20 * time.Millisecond), Uniform(2*time.Second, 8*time.Second),
		Lognormal(5*time.Minute, 15*time.Minute)} {
		t.Run(d.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var sum, sum2 float64
			median := d.Quantile(0.5)
			under := 0
			for range n {
				x := d.Sample(r)
				s := x.Seconds()
				sum += s
				sum2 += s * s
				if x < median {
					under++
				}
			}
			mean := sum / n
			sd := math.Sqrt(sum2/n - mean*mean)
			if want := d.Mean().Seconds(); math.Abs(mean-want) > 4*sd/math.Sqrt(n)+1e-12 {
				t.Errorf("sample mean %.6g, want %.6g", mean, want)
			}
			if want := math.Sqrt(d.SCV()) * d.Mean().Seconds(); math.Abs(sd-want) > 0.02*want+1e-6 {
				t.Errorf("sample sd %.6g, want %.6g (from SCV)", sd, want)
			}
			if d.SCV() > 0 {
				if p := float64(under) / n; math.Abs(p-0.5) > 4*math.Sqrt(0.25/n) {
					t.Errorf("%.4f of draws under the median %v", p, median)
				}
			}
		})
	}
}

func TestQuantileClosedForms(t *testing.T) {
	ln := Lognormal(5*time.Minute, 15*time.Minute)
	if q := ln.Quantile(0.9); (q - 15*time.Minute).Abs() > time.Millisecond {
		t.Errorf("lognormal p90 = %v, want 15m", q)
	}
	if q := Exp(time.Second).Quantile(0.99); (q - 4605170186*time.Nanosecond).Abs() > time.Microsecond {
		t.Errorf("exp(1s) p99 = %v, want ln(100) s", q)
	}
}

func ExampleParseDist() {
	d, _ := ParseDist("uniform(2s, 8s)")
	fmt.Println(d, d.Mean(), d.Quantile(0.9))
	// Output: uniform(2s, 8s) 5s 7.4s
}

func TestRoundIsMathRound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := []float64{0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.49999999999999994, -0.49999999999999994, 4503599627370495.5, 4503599627370497, -4503599627370497, 1e300, math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}
	for range 100000 {
		xs = append(xs, r.NormFloat64()*1e9, r.Float64()*10, math.Floor(r.Float64()*1e6)+0.5)
	}
	for _, x := range xs {
		if got, want := round(x), math.Round(x); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("round(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestCDFInvertsQuantile(t *testing.T) {
	for _, s := range []string{"exp(20ms)", "uniform(80ms, 240ms)", "lognormal(median=5m, p90=15m)"} {
		d, err := ParseDist(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []float64{0.1, 0.5, 0.9, 0.99} {
			if got := d.CDF(d.Quantile(p)); math.Abs(got-p) > 1e-6 {
				t.Errorf("%s: CDF(Quantile(%v)) = %v", s, p, got)
			}
		}
	}
	if c := Const(time.Second); c.CDF(999*time.Millisecond) != 0 || c.CDF(time.Second) != 1 {
		t.Error("const CDF")
	}
}
