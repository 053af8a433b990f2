package refserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRateLimitedStageAnswers429: a stage with a rate limit (rate_limit,
// burst) admits its burst at once, refuses the next at once with 429
// rate_limited and Retry-After, counts them as shed for the rate limit,
// and admits again as its tokens come back: the simulator's token bucket,
// live.
func TestRateLimitedStageAnswers429(t *testing.T) {
	p := loadProfile(t, "testdata/fast.yaml")
	st := p.Stages["identity"]
	st.RateLimit, st.Burst, st.RetryAfter = 0.5, 3, 2*time.Second // a token every 2 s
	p.Stages["identity"] = st
	ts := startServer(t, p)
	admitted, refused := 0, 0
	start := time.Now()
	for i := range 10 {
		status, out := ts.call("POST", "/v1/identity/requests", map[string]string{"user_id": fmt.Sprintf("u%d", i), "platform": "kakao"})
		switch status {
		case 201:
			admitted++
		case 429:
			refused++
			if errCode(out) != "rate_limited" {
				t.Errorf("429 %v, want rate_limited", out)
			}
		default:
			t.Fatalf("status %d %v", status, out)
		}
	}
	// the burst of 3, and a token more for each 2 s the ten took
	took := time.Since(start)
	if most := 3 + int(took.Seconds()*0.5); admitted < 3 || admitted > most || refused != 10-admitted {
		t.Errorf("%d admitted, %d refused of 10 in %v, want 3 to %d", admitted, refused, took, most)
	}
	resp, err := http.Post(ts.URL+"/v1/identity/requests", "application/json", strings.NewReader(`{"user_id": "late", "platform": "kakao"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 429 {
		refused++
		if resp.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q, want 2", resp.Header.Get("Retry-After"))
		}
	} else if time.Since(start) < 2*time.Second {
		t.Errorf("at once after the burst: %d, want 429", resp.StatusCode)
	}
	if got := testutil.ToFloat64(ts.met.shed.WithLabelValues("identity", "rate_limited")); got != float64(refused) {
		t.Errorf("surge_stage_shed_total{reason=rate_limited} %v, want %d", got, refused)
	}
	time.Sleep(2100 * time.Millisecond) // a token comes back
	ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": "again", "platform": "kakao"}, 201)
}
