package refserver

import (
	"context"
	"strings"
	"testing"
)

// TestDiskFullIs503AndHealthzSaysSo: a store that cannot grow (SQLite's
// max_page_count, as a full disk answers SQLITE_FULL) answers 503
// store_unavailable, /healthz says the store cannot write, and every
// certificate answered 201 is stored and in the anchor chain; with room
// again, the server is healthy and has them all.
func TestDiskFullIsA503AndHealthzSaysSo(t *testing.T) {
	p := loadProfile(t, "testdata/fast.yaml")
	db := t.TempDir() + "/pass.db"
	first := startServer(t, p, func(c *Config) { c.DBPath = db })
	first.issue("before", "kakao")
	first.Close()

	// max_page_count(1) holds the file at the size it has: the pages free
	// in it take a few rows more, then every write is refused
	ts := startServer(t, p, func(c *Config) { c.DBPath = db; c.storePragmas = "&_pragma=max_page_count(1)" })
	var acked []string
	full := false
	for i := 0; i < 500 && !full; i++ {
		req := ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": "u" + string(rune('a'+i%26)) + string(rune('a'+i/26)), "platform": "kakao"}, 201)
		status, out := ts.call("POST", "/v1/identity/requests/"+req["request_id"].(string)+"/confirm", map[string]any{"code": req["sms_code"]})
		if status == 200 {
			status, out = ts.call("POST", "/v1/certificates", map[string]any{"identity_token": out["identity_token"], "platform": "kakao"})
		}
		switch status {
		case 201:
			acked = append(acked, credID(out["wallet"].(map[string]any)))
		case 503:
			if errCode(out) != "store_unavailable" {
				t.Fatalf("503 %v, want store_unavailable", out)
			}
			full = true
		default:
			t.Fatalf("status %d %v while the store filled", status, out)
		}
	}
	if !full {
		t.Fatal("500 certificates and the store never filled: max_page_count did not hold")
	}
	// a write that fits (a delete, as the token expiry's) says nothing
	// of a certificate's room: the store stays degraded for certificates
	if err := ts.store.forgetExpiredTokens(context.Background(), 0); err != nil {
		t.Fatalf("a delete on a full store: %v", err)
	}
	status, health := ts.call("GET", "/healthz", nil)
	if store, _ := health["store"].(string); status != 503 || health["status"] != "degraded" || !strings.Contains(store, "certificate: ") {
		t.Errorf("/healthz on a full store: %d %v, want 503 degraded naming the certificates' writes", status, health)
	}
	ts.Close()

	again := startServer(t, p, func(c *Config) { c.DBPath = db })
	again.mustCall("GET", "/healthz", nil, 200)
	ctx := context.Background()
	for _, id := range acked {
		if ok, err := again.store.HasCertificate(ctx, id); err != nil || !ok {
			t.Errorf("certificate %s answered 201 is not stored (%v)", id, err)
		}
	}
	if _, pending, err := again.store.CheckChain(ctx); err != nil || pending != 0 {
		t.Errorf("anchor chain after the disk was full: %d pending, %v", pending, err)
	}
	t.Logf("%d certificates stored before the store filled", len(acked))
}
