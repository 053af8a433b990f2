package chaos

import (
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/fault"
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
	front, p := proxied(t, []Rule{{Name: "flaky", Path: "/v1/qr", Params: fault.Params{Kind: fault.Error, Status: 502, Probability: pct(0.3)}}}, nil)
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
	slow, _ := proxied(t, []Rule{{Name: "slow", Params: fault.Params{Kind: fault.Latency, Latency: ptr(spec.Const(200 * time.Millisecond))}}}, nil)
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
		{Name: "down", After: 10 * time.Second, For: 5 * time.Second, Params: fault.Params{Kind: fault.Outage}},
		{Name: "gone", After: 20 * time.Second, For: 5 * time.Second, Params: fault.Params{Kind: fault.Reset}},
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
	p, _ := NewProxy(u, []Rule{{Name: "thin", Params: fault.Params{Kind: fault.Bandwidth, Bandwidth: 16384}}}, 1, nil) // 16 KiB/s: 8 KiB takes ~0.5 s
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

// TestProxyHardening: the admin API is not forwarded unless asked; a
// hanging upstream is a 504 within the upstream timeout; connections to
// the upstream are kept under concurrency.
func TestProxyHardening(t *testing.T) {
	var conns atomic.Int64
	release := make(chan struct{})
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-release
		}
		io.WriteString(w, "up "+r.URL.Path)
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	defer close(release)
	u, _ := url.Parse(up.URL)
	p, err := NewProxy(u, nil, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetUpstreamTimeout(300 * time.Millisecond)
	front := httptest.NewServer(p)
	defer front.Close()
	for _, path := range []string{"/admin/faults", "/admin", "//admin/credentials", "/x/../admin/faults"} {
		resp, err := http.Post(front.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "admin_not_forwarded") {
			t.Errorf("%s through the proxy: %d %s, want 403 admin_not_forwarded", path, resp.StatusCode, body)
		}
	}
	p.ForwardAdmin = true
	if resp, err := http.Get(front.URL + "/admin/faults"); err != nil || resp.StatusCode != 200 {
		t.Errorf("with ForwardAdmin: %v %v", resp, err)
	}
	p.ForwardAdmin = false
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(front.URL + "/hang")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "upstream_timeout") || time.Since(start) > 5*time.Second {
		t.Errorf("a hanging upstream: %d %s after %v, want 504 upstream_timeout at once", resp.StatusCode, body, time.Since(start))
	}
	before := conns.Load()
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for range 50 {
		wg.Go(func() {
			for range 10 {
				if resp, err := client.Get(front.URL + "/ok"); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load() - before; n > 60 {
		t.Errorf("500 requests at a concurrency of 50 opened %d upstream connections, want them kept (at most ~50)", n)
	}
}

func TestFaultsFileRefusesFaultsThatCannotAct(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{"faults:\n  - {name: a, kind: error, path: v1}\n", `faults[0].path: a path prefix starts with /, have "v1"`},
		{"faults:\n  - {name: a, kind: latency, latency: -5ms}\n", "faults[0].latency"},
		{"faults:\n  - {name: a, kind: outage}\n  - {name: a, kind: reset}\n", `faults[1].name: fault "a" is defined twice`},
	} {
		path := filepath.Join(dir, "f.yaml")
		os.WriteFile(path, []byte(c.body), 0o644)
		if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.body, err, c.want)
		}
	}
}
