package refserver

import (
	"context"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/profile"
)

func TestFirstTimeJourneyThenReturningCheckins(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))

	// First time, on a fetch-proof platform: identity, issuance, QR, check-in.
	cred := ts.issue("user-1", "naver")
	c := cred["credential"].(map[string]any)
	if c["issuer"] != "KDCA" || c["doses"].(float64) < 2 || c["holder"] == "user-1" {
		t.Errorf("credential = %v: want issuer KDCA, >= 2 doses, and a hashed holder", c)
	}
	out := ts.mustCall("POST", "/v1/checkins", map[string]any{"token": ts.qr("naver", cred), "venue_id": "restaurant-9"}, 201)
	if out["admitted"] != true || out["venue_id"] != "restaurant-9" || out["holder"] != c["holder"] {
		t.Errorf("check-in = %v", out)
	}

	// Returning visitor: the same credential from the kakao wallet, twice, fresh QR each time.
	for range 2 {
		ts.mustCall("POST", "/v1/checkins", map[string]any{"token": ts.qr("kakao", cred), "venue_id": "cafe-2"}, 201)
	}

	certs, visits, anchors, err := ts.Store().Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if certs != 1 || visits != 3 || anchors != 1 {
		t.Errorf("stored certificates, visits, anchors = %d, %d, %d; want 1, 3, 1", certs, visits, anchors)
	}
}

func TestQRTokenExpiresAfter15sAndIsOneTime(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	cred := ts.issue("user-2", "kakao")

	tok := ts.qr("kakao", cred)
	ts.clock.Advance(14*time.Second + 999*time.Millisecond)
	ts.mustCall("POST", "/v1/checkins", map[string]any{"token": tok, "venue_id": "v"}, 201)
	out := ts.mustCall("POST", "/v1/checkins", map[string]any{"token": tok, "venue_id": "v"}, 409)
	if errCode(out) != "qr_reused" {
		t.Errorf("second use of a QR: code %q, want qr_reused", errCode(out))
	}

	late := ts.qr("kakao", cred)
	ts.clock.Advance(15 * time.Second)
	out = ts.mustCall("POST", "/v1/checkins", map[string]any{"token": late, "venue_id": "v"}, 403)
	if errCode(out) != "qr_expired" || errField(out) != "token" {
		t.Errorf("QR scanned at 15s: %v, want qr_expired on field token", out)
	}
}

func TestIdentityRateLimitPerUser(t *testing.T) {
	p := loadProfile(t, "testdata/fast.yaml")
	p.Rules = append(p.Rules, profile.Rule{Name: "identity-rate-limit", Limit: "identity.request", Requests: 1, Per: 10 * time.Minute,
		Answer: profile.RuleAnswer{Status: 429, Code: "rate_limited"}})
	ts := startServer(t, p)
	body := map[string]string{"user_id": "u", "platform": "kakao"}
	ts.mustCall("POST", "/v1/identity/requests", body, 201)
	ts.mustCall("POST", "/v1/identity/requests", body, 429)
	ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": "someone-else", "platform": "kakao"}, 201)
	ts.clock.Advance(10 * time.Minute)
	ts.mustCall("POST", "/v1/identity/requests", body, 201)
}

func TestSeededCredentialsCheckIn(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	out := ts.mustCall("POST", "/admin/credentials", map[string]int{"count": 3}, 201)
	creds := out["credentials"].([]any)
	if len(creds) != 3 {
		t.Fatalf("%d credentials", len(creds))
	}
	for _, c := range creds { // each seeded item is what issuance answers: the wallet and its holder's session
		item := c.(map[string]any)
		cred, _ := item["wallet"].(map[string]any)
		session, _ := item["session"].(string)
		if cred == nil || session == "" {
			t.Fatalf("seeded item %v lacks wallet or session", item)
		}
		ts.mu.Lock()
		ts.sessions[credID(cred)] = session
		ts.mu.Unlock()
		ts.mustCall("POST", "/v1/checkins", map[string]any{"token": ts.qr("naver", cred), "venue_id": "v"}, 201)
	}
	ts.mustCall("POST", "/admin/credentials", map[string]int{"count": 0}, 422)
}
