package main

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oneRequest is a scenario of one GET against a target, with its SLO.
func oneRequest(t *testing.T, target, slo string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mine.yaml")
	src := `name: mine
target: {url: ` + target + `}
scale: 1
arrivals: {start: "12:00", bucket: 10m, total: 24000, profile: [100%], process: poisson}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /hit}}
journeys: {j: [{request: hit}]}
behaviour: {timeout: 2s}
`
	if slo != "" {
		src += "slo: [" + slo + "]\n"
	}
	os.WriteFile(path, []byte(src), 0o644)
	return path
}

// TestCapacityBadInput: what cannot be searched is exit 1 at once, naming
// why; a target that fails everything at the first step has no capacity
// (exit 2).
func TestCapacityBadInput(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer failing.Close()
	fast := []string{"--min-step", "2s", "--warmup", "1s", "--quiet"}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable", []string{"capacity", oneRequest(t, closed, "hit p99 <= 1s")}, 1, "unreachable"},
		{"no clause", []string{"capacity", oneRequest(t, ok.URL, "")}, 1, "no SLO clause"},
		{"max below the first step", []string{"capacity", oneRequest(t, ok.URL, "hit p99 <= 1s"), "--start", "20", "--max", "5"}, 1, "below the first step"},
		{"bad max", []string{"capacity", oneRequest(t, ok.URL, "hit p99 <= 1s"), "--max", "-3"}, 1, "--max -3"},
		{"bad precision", []string{"capacity", oneRequest(t, ok.URL, "hit p99 <= 1s"), "--precision", "0%"}, 1, "--precision"},
		{"sweep in sim", []string{"capacity", "../../scenarios/lunch.yaml", "--sim", "--concurrency", "1,2"}, 1, "--concurrency"},
		{"sweep with no levels", []string{"capacity", oneRequest(t, ok.URL, "hit p99 <= 1s"), "--sweep-only"}, 1, "--sweep-only: give the sweep's levels with --concurrency"},
		{"fails everything", append([]string{"capacity", oneRequest(t, failing.URL, "hit p99 <= 1s"), "--out", t.TempDir()}, fast...), 2, "no capacity at 10 arrivals/s"},
	} {
		start := time.Now()
		code, out, errs := runSurge(c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) || time.Since(start) > 30*time.Second {
			t.Errorf("%s: exit %d after %v, want %d with %q\n%s\n%s", c.name, code, time.Since(start), c.code, c.want, out, errs)
		}
	}
}

// TestCapacitySimJSON: the search on a profile in the simulator prints one
// JSON object with the keys scripts read, and writes the directory.
func TestCapacitySimJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cap")
	code, out, errs := runSurge("capacity", "../../scenarios/lunch.yaml", "--sim", "--profile", "as-built", "--json", "--quiet", "--out", dir)
	var doc struct {
		Knee struct {
			ArrivalsPerS float64 `json:"arrivals_per_s"`
			RequestsPerS float64 `json:"requests_per_s"`
		}
		Headroom   float64
		Bottleneck string
		Steps      []json.RawMessage
		Ended      string
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	if doc.Knee.ArrivalsPerS <= 16.8 || doc.Knee.RequestsPerS <= doc.Knee.ArrivalsPerS || doc.Headroom <= 1 || doc.Bottleneck != "kdca" || len(doc.Steps) < 5 || doc.Ended != "found" {
		t.Errorf("lunch on as-built: %+v; want a knee above the 16.8/s peak (lunch runs at ~55%% of kdca), kdca the bottleneck", doc)
	}
	for _, f := range []string{"capacity.json", "report.html", "scenario.yaml", "steps"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the directory lacks %s", f)
		}
	}
	// a headroom gate: lunch's knee is about 1.6x its peak
	path := filepath.Join(t.TempDir(), "lunch-gated.yaml")
	raw, _ := os.ReadFile("../../scenarios/lunch.yaml")
	os.WriteFile(path, []byte(strings.Replace(string(raw), "slo:", "slo:\n  - headroom >= 2", 1)), 0o644)
	if code, out, errs := runSurge("capacity", path, "--sim", "--profile", "as-built", "--quiet", "--out", t.TempDir()); code != 2 || !strings.Contains(errs, "NO-GO: headroom >= 2") {
		t.Errorf("headroom >= 2: exit %d, want 2\n%s\n%s", code, out, errs)
	}
}

// TestCapacityInterruptedKeepsItsSteps: Ctrl-C in the middle of a search
// writes the directory with the steps so far, and exits 1.
func TestCapacityInterruptedKeepsItsSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("a search of seconds")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "cap")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := execute(ctx, []string{"capacity", oneRequest(t, srv.URL, "hit p99 <= 1s"), "--min-step", "2s", "--warmup", "1s", "--out", dir, "--quiet"}, &out, &errb)
	b, err := os.ReadFile(filepath.Join(dir, "capacity.json"))
	var doc struct {
		Ended string
		Steps []struct{ Dir string }
	}
	if code != 1 || err != nil || json.Unmarshal(b, &doc) != nil || doc.Ended != "interrupted" || len(doc.Steps) == 0 {
		t.Fatalf("exit %d, %v, %+v\n%s\n%s", code, err, doc, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, doc.Steps[0].Dir, "results.json")); err != nil {
		t.Errorf("the first step's run directory: %v", err)
	}
}

// TestCapacitySweepOnly: --sweep-only runs the closed-loop sweep alone (no
// knee search, no steps) against a server of 4 workers of 10 ms: the
// throughput climbs to its 400/s and stays, and the USL fit says so.
func TestCapacitySweepOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("a sweep of seconds")
	}
	srv := fourWorkers(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	code, out, errs := runSurge("capacity", oneRequest(t, srv.URL, "hit p99 <= 1s"), "--sweep-only", "--concurrency", "1,2,4,8,16", "--sweep-step", "2s", "--json", "--out", dir)
	var u struct {
		Points               []struct{ Load, Throughput float64 }
		Lambda, Sigma, Kappa float64
	}
	if err := json.Unmarshal([]byte(out), &u); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	if len(u.Points) != 5 || u.Points[0].Throughput < 60 || u.Points[0].Throughput > 105 || u.Points[4].Throughput < 250 || u.Points[4].Throughput > 420 {
		t.Errorf("points %+v: want about 95/s at 1 user, about 380/s at 16", u.Points)
	}
	// the fit describes what was measured: at one user and at sixteen
	fit := func(n float64) float64 { return u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1)) }
	for _, i := range []int{0, 4} {
		if p := u.Points[min(i, len(u.Points)-1)]; math.Abs(fit(p.Load)-p.Throughput) > 0.25*p.Throughput {
			t.Errorf("the USL fit (lambda %.4g, sigma %.4g, kappa %.4g) says %.4g/s at %v users; %.4g/s were measured", u.Lambda, u.Sigma, u.Kappa, fit(p.Load), p.Load, p.Throughput)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "usl.json")); err != nil {
		t.Error("no usl.json in the sweep's directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "capacity.json")); err == nil {
		t.Error("the sweep alone wrote a knee search's capacity.json")
	}
}

// fourWorkers is a server of 4 workers that take 10 ms each (400/s at
// most), closed at the test's end.
func fourWorkers(t *testing.T) *httptest.Server {
	workers := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		workers <- struct{}{}
		time.Sleep(10 * time.Millisecond)
		<-workers
	}))
	t.Cleanup(srv.Close)
	return srv
}
