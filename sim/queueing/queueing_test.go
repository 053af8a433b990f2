package queueing

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func near(t *testing.T, what string, have, want, tol float64) {
	t.Helper()
	if math.Abs(have-want) > tol {
		t.Errorf("%s = %.6g, want %.6g (+- %g)", what, have, want, tol)
	}
}

// erlang.com's calculator manual ("How much traffic can a trunk group
// handle?"): 15 lines at 1% blocking carry 8.108 erlangs. The printed 4
// digits of traffic pin the blocking to 1% at 3 significant digits.
func TestErlangBPublishedTable(t *testing.T) {
	near(t, "B(15, 8.108)", ErlangB(15, 8.108), 0.01, 0.00005)
	near(t, "B(15, 8.1085)", ErlangB(15, 8.1085), 0.01, 0.00005)
	if ErlangB(15, 8.2) <= 0.01 || ErlangB(15, 8.0) >= 0.01 {
		t.Error("B(15, a) does not cross 1% between 8.0 and 8.2 erlangs")
	}
	// The closed form for one server: B(1, a) = a / (1 + a).
	near(t, "B(1, 0.5)", ErlangB(1, 0.5), 0.5/1.5, 1e-15)
}

// Textbook identities (Kleinrock, Queueing Systems vol. 1): M/M/1 waits
// with probability rho and has W = 1/(mu - lambda); M/M/2 waits with
// probability 2 rho^2 / (1 + rho).
func TestErlangCIdentities(t *testing.T) {
	for _, rho := range []float64{0.1, 0.5, 0.9, 0.95} {
		c1, _ := ErlangC(1, rho)
		near(t, fmt.Sprintf("C(1, %v)", rho), c1, rho, 1e-12)
		c2, _ := ErlangC(2, 2*rho)
		near(t, fmt.Sprintf("C(2, %v)", 2*rho), c2, 2*rho*rho/(1+rho), 1e-12)

		s := 10 * ms
		q := MMc{Lambda: rho / s.Seconds(), S: s, C: 1}
		w, _ := q.MeanResponse()
		near(t, "M/M/1 W", w.Seconds(), 1/(1/s.Seconds()-q.Lambda), 1e-9)
		// M/M/1 response time is exponential with rate mu - lambda: its p99 is ln(100)/(mu - lambda).
		p99, _ := q.ResponseQuantile(0.99)
		near(t, "M/M/1 response p99", p99.Seconds(), math.Log(100)/(1/s.Seconds()-q.Lambda), 2e-9)
	}
	if _, err := ErlangC(4, 4); !errors.Is(err, ErrUnstable) {
		t.Errorf("C(4, 4): %v, want ErrUnstable", err)
	}
}

func TestMMcDistributions(t *testing.T) {
	q := MMc{Lambda: 350, S: 20 * ms, C: 8} // a = 7, rho = 0.875
	pw, _ := q.PWait()
	wq, _ := q.MeanWait()
	near(t, "Wq = C/(c mu - lambda)", wq.Seconds(), pw/(400-350), 1e-9)
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999} {
		r, _ := q.ResponseQuantile(p)
		cdf, _ := q.ResponseCDF(r)
		near(t, fmt.Sprintf("CDF(p%v)", p*100), cdf, p, 1e-6)
		w, _ := q.WaitQuantile(p)
		if wcdf, _ := q.WaitCDF(w); p > 1-pw {
			near(t, fmt.Sprintf("wait CDF(p%v)", p*100), wcdf, p, 1e-6)
		} else if w != 0 {
			t.Errorf("wait p%v = %v, want 0 below 1-C", p*100, w)
		}
	}
	l, _ := q.MeanQueue()
	near(t, "Little Lq", l, 350*wq.Seconds(), 1e-9)
	// theta = mu exactly (c*mu - lambda = mu) takes the (1 + mu t) branch.
	edge := MMc{Lambda: 50, S: 20 * ms, C: 2}
	cdf, _ := edge.ResponseCDF(40 * ms)
	near(t, "edge CDF", cdf, 1-((1-1.0/3)*math.Exp(-2)+1.0/3*3*math.Exp(-2)), 1e-9)
	if _, err := (MMc{Lambda: 400, S: 20 * ms, C: 8}).PWait(); !errors.Is(err, ErrUnstable) {
		t.Errorf("rho = 1: %v", err)
	}
}

func TestPollaczekKhinchine(t *testing.T) {
	// M/D/1 waits half as long as M/M/1 at the same load.
	md1, _ := MD1MeanWait(40, 20*ms)
	mm1, _ := MMc{Lambda: 40, S: 20 * ms, C: 1}.MeanWait()
	near(t, "M/D/1 / M/M/1", md1.Seconds()/mm1.Seconds(), 0.5, 1e-6)
	mg1, _ := MG1MeanWait(40, 20*ms, 1)
	near(t, "M/G/1 with scv 1 = M/M/1", mg1.Seconds(), mm1.Seconds(), 1e-9)
	if _, err := MG1MeanWait(60, 20*ms, 0); !errors.Is(err, ErrUnstable) {
		t.Errorf("rho 1.2: %v", err)
	}
}

func TestSize(t *testing.T) {
	slo := func(s ...string) []SLO {
		var out []SLO
		for _, x := range s {
			o, err := ParseSLO(x)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o)
		}
		return out
	}
	// 1500/s x 20 ms = 30 erlangs.
	got, err := Size(1500, 20*ms, slo("p99<=100ms"), false)
	if err != nil || !got.Feasible {
		t.Fatalf("%+v %v", got, err)
	}
	if got.AtN["p99<=100ms"] > 0.1 || got.AtNMinus["p99<=100ms"] <= 0.1 {
		t.Errorf("c = %d is not the least: at N %v, at N-1 %v", got.Servers, got.AtN, got.AtNMinus)
	}
	many, _ := Size(1500, 20*ms, slo("p99<=100ms", "utilization<=75%", "P(wait<=50ms)>=99%"), false)
	if many.Servers < 40 || many.Servers < got.Servers {
		t.Errorf("with utilization <= 75%% want >= 40 servers, have %d", many.Servers)
	}
	bad, _ := Size(1500, 20*ms, slo("p99<=50ms"), false) // exp(20ms) has p99 92 ms on its own
	if bad.Feasible || !strings.Contains(bad.Reason, "service time's own p99 (92.103404ms)") {
		t.Errorf("%+v", bad)
	}
	// Loss system: erlang.com's 15 lines carry 8.108 erlangs at 1%.
	loss, _ := Size(8.108, time.Second, slo("blocking<=1%"), true)
	if loss.Servers != 15 {
		t.Errorf("Erlang B sizing: %d lines, want 15", loss.Servers)
	}
	for _, s := range []string{"p100<=1s", "wait.p99<=fast", "P(wait)<=5", "throughput>=9000"} {
		if _, err := ParseSLO(s); err == nil {
			t.Errorf("ParseSLO(%q) accepted", s)
		}
	}
	// One grammar: the scenario's clause notation reads the same; a
	// clause naming a request says why it is not a sizing's.
	for form, same := range map[string]string{"p99 <= 100ms": "p99<=100ms", "p99 < 100ms": "p99<=100ms", "P(wait < 50ms) >= 90%": "P(wait<=50ms)>=90%"} {
		if a, b := slo(form)[0], slo(same)[0]; a != b {
			t.Errorf("ParseSLO(%q) = %+v, ParseSLO(%q) = %+v", form, a, same, b)
		}
	}
	if _, err := ParseSLO("qr p99 <= 2s"); err == nil || !strings.Contains(err.Error(), `names a request (qr)`) || !strings.Contains(err.Error(), `"p99 <= 2s"`) {
		t.Errorf("a clause naming a request: %v", err)
	}
	if a, b := WaitPercentile(0.99, 5*ms), slo("wait.p99<=5ms")[0]; a != b {
		t.Errorf("WaitPercentile %+v, parsed %+v", a, b)
	}
	if a, b := Utilization(0.85), slo("utilization<=85%")[0]; a != b {
		t.Errorf("Utilization %+v, parsed %+v", a, b)
	}
	if _, err := Size(-1, 20*ms, slo("p99<=1s"), false); err == nil {
		t.Error("negative rate accepted")
	}
}

func TestUSLFitRecoversParameters(t *testing.T) {
	truth := USL{Sigma: 0.05, Kappa: 0.0008, Lambda: 120}
	var pts []Point
	for _, n := range []float64{1, 2, 4, 8, 16, 32, 48, 64} {
		noise := 1 + 0.004*math.Sin(n) // deterministic +-0.4%
		pts = append(pts, Point{n, truth.Throughput(n) * noise})
	}
	fit, err := FitUSL(pts)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "sigma", fit.Sigma, truth.Sigma, 0.01)
	near(t, "kappa", fit.Kappa, truth.Kappa, 0.0002)
	near(t, "lambda", fit.Lambda, truth.Lambda, 3)
	peak, ok := fit.Peak()
	want, _ := truth.Peak()
	if !ok || math.Abs(peak-want)/want > 0.1 {
		t.Errorf("peak %v, want %v", peak, want)
	}
	if n, ok := truth.Solve(1000); !ok || truth.Throughput(float64(n)) < 1000 || truth.Throughput(float64(n-1)) >= 1000 {
		t.Errorf("Solve(1000) = %d %v", n, ok)
	}
	if _, ok := truth.Solve(truth.Limit() * 1.01); ok {
		t.Error("Solve above the limit succeeded")
	}
	linear := USL{Lambda: 10}
	if _, ok := linear.Peak(); ok || !math.IsInf(linear.Limit(), 1) {
		t.Error("kappa = sigma = 0 has no peak and no limit")
	}
}

func TestReadPoints(t *testing.T) {
	if pts, err := ReadPoints(strings.NewReader("load,throughput\n1,100\n2,190\n4,340\n")); err != nil || len(pts) != 3 {
		t.Errorf("%v %v", pts, err)
	}
	for in, want := range map[string]string{
		"load,throughput\n1,100\n2,190\n":          "at least 3 points",
		"load,throughput\n1,100\n2,x\n4,340\n":     `line 3: throughput "x" is not a number`,
		"n,x\n1,2\n":                               "line 1: want the header load,throughput",
		"load,throughput\n1,100,3\n2,190\n4,340\n": "wrong number of fields",
		"": "empty CSV",
	} {
		if _, err := ReadPoints(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func ExampleErlangC() {
	c, _ := ErlangC(2, 1) // two servers, one erlang: 2*0.5^2/(1+0.5)
	fmt.Printf("%.4f\n", c)
	// Output: 0.3333
}

func ExampleSize() {
	slo, _ := ParseSLO("p99<=100ms")
	s, _ := Size(1500, 20*time.Millisecond, []SLO{slo}, false)
	fmt.Println(s.Servers, s.Feasible)
	// Output: 33 true
}

func ExampleUSL_Peak() {
	u := USL{Sigma: 0.05, Kappa: 0.0008, Lambda: 120}
	n, _ := u.Peak()
	fmt.Printf("peak at %.1f, %.0f/s\n", n, u.Throughput(n))
	// Output: peak at 34.5, 1150/s
}

// MMcK against what it must be: with K = 0 it is Erlang B (blocking, no
// wait); with K large and rho < 1 it is M/M/c (Erlang C's wait, nothing
// turned away); and 2 servers of 10.33 ms with 8 waiting places at 232.5/s
// (the live shedding service of scenarios/capacity) turn away 19.6% and
// admit with a mean wait of 26.2 ms (computed by hand from p(n)).
func TestMMcK(t *testing.T) {
	b, _ := MMcK{Lambda: 30, S: 100 * time.Millisecond, C: 4}.Blocking()
	if want := ErlangB(4, 3); math.Abs(b-want) > 1e-12 {
		t.Errorf("K=0: blocking %v, want Erlang B %v", b, want)
	}
	if w, _ := (MMcK{Lambda: 30, S: 100 * time.Millisecond, C: 4}).AdmittedWait(); w != 0 {
		t.Errorf("K=0: wait %v, want none", w)
	}
	q := MMc{Lambda: 30, S: 100 * time.Millisecond, C: 4}
	want, _ := q.MeanWait()
	w, _ := MMcK{Lambda: 30, S: 100 * time.Millisecond, C: 4, K: 2000}.AdmittedWait()
	if math.Abs(w.Seconds()-want.Seconds()) > 1e-6 {
		t.Errorf("K large: wait %v, want M/M/c's %v", w, want)
	}
	live := MMcK{Lambda: 232.5, S: 10333 * time.Microsecond, C: 2, K: 8}
	b, _ = live.Blocking()
	w, _ = live.AdmittedWait()
	if math.Abs(b-0.196) > 0.001 || math.Abs(w.Seconds()-0.0262) > 0.0001 {
		t.Errorf("2 x 10.33 ms, 8 waiting, 232.5/s: blocking %.4f, wait %v; want 0.196 and 26.2ms", b, w)
	}
	if _, err := (MMcK{Lambda: 1, S: time.Second, C: 0}).Blocking(); err == nil {
		t.Error("no servers: no error")
	}
}
