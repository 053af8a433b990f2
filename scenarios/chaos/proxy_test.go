package chaos

import (
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/spec"
)

func pct(v float64) *scenarios.Percent { p := scenarios.Percent(v); return &p }

func proxied(t *testing.T, rules []Rule, now func() time.Time) (*httptest.Server, *Proxy) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	p, err := NewProxy(u, rules, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	return front, p
}

func get(t *testing.T, url string) (int, time.Duration) {
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return 0, time.Since(start)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func TestErrorShareAndScope(t *testing.T) {
	front, p := proxied(t, []Rule{{Name: "flaky", Kind: KindError, Status: 502, Probability: pct(0.3), Path: "/v1/qr"}}, nil)
	const n = 1000
	failed := 0
	for range n {
		if st, _ := get(t, front.URL+"/v1/qr"); st == 502 {
			failed++
		} else if st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	// Binomial(1000, 0.3): sd 14.5; 4 sd either side.
	if math.Abs(float64(failed)-300) > 58 {
		t.Errorf("%d of %d failed, want about 30%%", failed, n)
	}
	for range 50 {
		if st, _ := get(t, front.URL+"/v1/checkins"); st != 200 {
			t.Fatalf("a request outside the fault's path failed: %d", st)
		}
	}
	if p.Touched()["flaky"] != n {
		t.Errorf("touched %v", p.Touched())
	}
}

func TestLatencyRaisesTheMedian(t *testing.T) {
	base, _ := proxied(t, nil, nil)
	slow, _ := proxied(t, []Rule{{Name: "slow", Kind: KindLatency, Latency: ptr(spec.Const(200 * time.Millisecond))}}, nil)
	median := func(u string) time.Duration {
		var ds []time.Duration
		for range 15 {
			_, d := get(t, u)
			ds = append(ds, d)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	b, s := median(base.URL), median(slow.URL)
	if d := s - b; d < 195*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("p50 rose by %v (from %v to %v), want about 200ms", d, b, s)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWindowsAndKinds(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(0, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	front, _ := proxied(t, []Rule{
		{Name: "down", After: 10 * time.Second, For: 5 * time.Second, Kind: KindOutage},
		{Name: "gone", After: 20 * time.Second, For: 5 * time.Second, Kind: KindReset},
	}, now)
	expect := func(want int) {
		t.Helper()
		if st, _ := get(t, front.URL+"/"); st != want {
			t.Errorf("at %v: status %d, want %d", clock.Sub(time.Unix(0, 0)), st, want)
		}
	}
	expect(200)
	advance(10 * time.Second)
	expect(503)
	advance(5 * time.Second)
	expect(200)
	advance(5 * time.Second)
	expect(0) // reset: no answer at all
	advance(5 * time.Second)
	expect(200)
}

func TestUnreachableUpstreamIsAnError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	u, _ := url.Parse("http://" + ln.Addr().String())
	ln.Close()
	p, _ := NewProxy(u, nil, 1, nil)
	front := httptest.NewServer(p)
	defer front.Close()
	resp, err := http.Get(front.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(b), "upstream_unreachable") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	if _, err := NewProxy(nil, nil, 1, nil); err == nil {
		t.Error("a proxy without a target started")
	}
}

func TestFaultsFileErrors(t *testing.T) {
	var f File
	_, err := spec.Decode("f.yaml", []byte("faults:\n  - {name: a, kind: meteor}\n  - {name: b, kind: latency}\n  - {name: c, kind: error, probability: 130%, after: -1s}\n"), &f)
	for _, want := range []string{`f.yaml:2: faults[0].kind: unknown fault kind "meteor"`, "f.yaml:3: faults[1].latency: a latency fault needs latency",
		"f.yaml:4: faults[2].after: must not be negative", "f.yaml:4: faults[2].probability: must be within 0% and 100%"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in\n%v", want, err)
		}
	}
}

func TestBandwidthLimitsTheAnswer(t *testing.T) {
	body := strings.Repeat("x", 8192)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	p, _ := NewProxy(u, []Rule{{Name: "thin", Kind: KindBandwidth, Bandwidth: 16384}}, 1, nil) // 16 KiB/s: 8 KiB takes ~0.5 s
	front := httptest.NewServer(p)
	defer front.Close()
	start := time.Now()
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); len(got) != len(body) || d < 450*time.Millisecond {
		t.Errorf("%d bytes in %v, want all 8192 in about 0.5s", len(got), d)
	}
}
