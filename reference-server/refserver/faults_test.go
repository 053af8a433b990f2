package refserver

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

func TestFaultErrorRateIsScopedToItsStage(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	cred := ts.issue("u", "kakao")
	f := ts.mustCall("POST", "/admin/faults", `{"kind": "error", "stage": "relay.kakao", "probability": 0.3, "status": 502}`, 201)

	const n = 400
	failed := 0
	for range n {
		status, out := ts.call("POST", "/v1/qr", ts.qrBody("kakao", cred))
		switch {
		case status == 502 && errCode(out) == "injected_error":
			failed++
		case status != 201:
			t.Fatalf("unexpected %d %v", status, out)
		}
		// naver's path (relay.naver, kdca, registry) is outside the fault's scope
		ts.mustCall("POST", "/v1/qr", ts.qrBody("naver", cred), 201)
	}
	// Binomial(400, 0.3): mean 120, sd 9.2; 4.5 sd either side.
	if failed < 79 || failed > 161 {
		t.Errorf("%d of %d failed, want about 30%%", failed, n)
	}
	ts.mustCall("DELETE", "/admin/faults/"+f["id"].(string), nil, 204)
	ts.mustCall("DELETE", "/admin/faults/"+f["id"].(string), nil, 404)
	for range 20 {
		ts.mustCall("POST", "/v1/qr", ts.qrBody("kakao", cred), 201)
	}
}

func TestFaultOutageLatencyStallCapacity(t *testing.T) {
	p := loadProfile(t, "testdata/fast.yaml")
	st := p.Stages["relay.kakao"]
	st.QueueTimeout = 50 * time.Millisecond
	p.Stages["relay.kakao"] = st
	ts := startServer(t, p)
	cred := ts.issue("u", "kakao")
	qr := ts.qrBody("kakao", cred)

	t.Run("outage", func(t *testing.T) {
		ts.mustCall("POST", "/admin/faults", `{"kind": "outage", "stage": "kdca"}`, 201)
		out := ts.mustCall("POST", "/v1/qr", ts.qrBody("naver", cred), 503)
		if errCode(out) != "stage_outage" {
			t.Errorf("%v, want stage_outage", out)
		}
		ts.mustCall("POST", "/v1/qr", qr, 201) // the wallet path does not touch kdca
		ts.mustCall("DELETE", "/admin/faults", nil, 200)
		ts.mustCall("POST", "/v1/qr", ts.qrBody("naver", cred), 201)
	})
	t.Run("latency", func(t *testing.T) {
		ts.mustCall("POST", "/admin/faults", `{"kind": "latency", "stage": "relay.kakao", "latency": "150ms"}`, 201)
		start := time.Now()
		ts.mustCall("POST", "/v1/qr", qr, 201)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("request took %v under a 150ms latency fault", d)
		}
		ts.mustCall("DELETE", "/admin/faults", nil, 200)
	})
	t.Run("stall ends by itself", func(t *testing.T) {
		ts.mustCall("POST", "/admin/faults", `{"kind": "stall", "stage": "relay.kakao", "for": "200ms"}`, 201)
		start := time.Now()
		ts.mustCall("POST", "/v1/qr", qr, 201)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("request passed a 200ms stall in %v", d)
		}
		if got := ts.mustCall("GET", "/admin/faults", nil, 200)["faults"].([]any); len(got) != 0 {
			t.Errorf("faults after their window: %v", got)
		}
	})
	t.Run("capacity", func(t *testing.T) {
		ts.mustCall("POST", "/admin/faults", `{"kind": "capacity", "stage": "relay.kakao", "workers": 0}`, 201)
		if !strings.Contains(scrape(t, ts.URL), `surge_stage_workers{stage="relay.kakao"} 0`) {
			t.Error("metrics do not show the reduced worker count")
		}
		out := ts.mustCall("POST", "/v1/qr", qr, 503)
		if errCode(out) != "queue_timeout" {
			t.Errorf("%v, want queue_timeout", out)
		}
		ts.mustCall("DELETE", "/admin/faults", nil, 200)
		if !strings.Contains(scrape(t, ts.URL), `surge_stage_workers{stage="relay.kakao"} 32`) {
			t.Error("metrics do not show the restored worker count")
		}
		ts.mustCall("POST", "/v1/qr", qr, 201)
	})
}

func TestFaultSpecErrorsNameTheField(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	for body, field := range map[string]string{
		`{"kind": "meteor", "stage": "kdca"}`:                     "kind",
		`{"stage": "kdca"}`:                                       "kind",
		`{"kind": "outage", "stage": "mainframe"}`:                "stage",
		`{"kind": "error", "stage": "kdca", "probability": 1.5}`:  "probability",
		`{"kind": "error", "stage": "kdca", "status": 200}`:       "status",
		`{"kind": "latency", "stage": "kdca"}`:                    "latency",
		`{"kind": "capacity", "stage": "kdca"}`:                   "workers",
		`{"kind": "outage", "stage": "kdca", "for": "-3s"}`:       "for",
		`{"kind": "latency", "stage": "kdca", "latency": "fast"}`: "",
	} {
		status, out := ts.call("POST", "/admin/faults", body)
		if status/100 != 4 || errField(out) != field {
			t.Errorf("%s: %d %v, want 4xx on field %q", body, status, out, field)
		}
	}
}

// TestAdminAPIAccess: the admin API takes its bearer token and nothing
// else: a loopback client without it is refused (a proxy on the same host
// makes every client loopback), and with no token set the API is off.
func TestAdminAPIAccess(t *testing.T) {
	off := startServer(t, loadProfile(t, "testdata/fast.yaml"), func(c *Config) { c.AdminToken = "" })
	if status, out := off.call("GET", "/admin/faults", nil); status != http.StatusForbidden || errCode(out) != "admin_disabled" {
		t.Errorf("with no token set, a loopback admin call: %d %v, want 403 admin_disabled", status, out)
	}
	if status, _ := off.call("POST", "/admin/credentials", map[string]int{"count": 1}); status != http.StatusForbidden {
		t.Errorf("seeding credentials with the admin API off: %d, want 403", status)
	}

	locked := startServer(t, loadProfile(t, "testdata/fast.yaml"), func(c *Config) { c.AdminToken = "s3cret" })
	locked.admin = ""
	locked.mustCall("GET", "/admin/faults", nil, 401)
	locked.admin = "s3cret-but-longer"
	locked.mustCall("GET", "/admin/faults", nil, 401)
	req, _ := http.NewRequest("GET", locked.URL+"/admin/faults", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with the bearer token: %d, want 200", resp.StatusCode)
	}
}

func scrape(t *testing.T, url string) string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSlowUnderLoadFault(t *testing.T) {
	p := loadProfile(t, "testdata/fast.yaml")
	st := p.Stages["relay.kakao"]
	st.Service = spec.Const(20 * time.Millisecond)
	p.Stages["relay.kakao"] = st
	ts := startServer(t, p)
	cred := ts.issue("u", "kakao")
	qr := ts.qrBody("kakao", cred)
	ts.mustCall("POST", "/admin/faults", `{"kind": "slow_under_load", "stage": "relay.kakao", "above": 5, "factor": 10}`, 201)
	timeOne := func() time.Duration {
		start := time.Now()
		ts.mustCall("POST", "/v1/qr", qr, 201)
		return time.Since(start)
	}
	if d := timeOne(); d > 150*time.Millisecond { // a quiet stage: 1 arrival, below 5/s
		t.Errorf("below the threshold a visit took %v, want ~20ms", d)
	}
	var wg sync.WaitGroup
	for range 10 { // a burst of 10 at once: the rate over the last second is above 5/s
		wg.Add(1)
		go func() { defer wg.Done(); ts.call("POST", "/v1/qr", qr) }()
	}
	wg.Wait()
	if d := timeOne(); d < 200*time.Millisecond {
		t.Errorf("above the threshold a visit took %v, want ~200ms (10 x 20ms)", d)
	}
	if status, out := ts.call("POST", "/admin/faults", `{"kind": "slow_under_load", "stage": "kdca", "above": 5, "factor": 0.5}`); status != 422 || errField(out) != "factor" {
		t.Errorf("bad slow_under_load: %d %v", status, out)
	}
}
