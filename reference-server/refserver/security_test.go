package refserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// clone deep-copies a decoded JSON value.
func clone(t *testing.T, v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// tamperToken changes one claim of a token's payload and keeps the old MAC.
func tamperToken(t *testing.T, tok, key string, val any) string {
	body, mac, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	json.Unmarshal(raw, &claims)
	claims[key] = val
	raw, _ = json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + mac
}

func TestSecurityRejectionsAdmitNobody(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	cred := ts.issue("honest", "kakao")
	other := startServer(t, loadProfile(t, "testdata/fast.yaml")) // another system, other keys
	foreign := other.issue("stranger", "kakao")

	forged := clone(t, cred)
	forged["signature"] = foreign["signature"]
	tampered := clone(t, cred)
	tampered["credential"].(map[string]any)["doses"] = 9
	noSig := clone(t, cred)
	noSig["signature"] = "not base64!"

	used := ts.qr("kakao", cred)
	ts.mustCall("POST", "/v1/checkins", map[string]any{"token": used, "venue_id": "v"}, 201)
	expiring := ts.qr("kakao", cred)
	fresh := ts.qr("kakao", cred)

	naverCred := ts.issue("honest-naver", "naver")
	qrCases := []struct {
		name     string
		platform string
		wallet   map[string]any
		credID   string
		session  string
		status   int
		code     string
	}{
		{"another's wallet with one's own session and credential id", "kakao", foreign, credID(cred), ts.session(cred), 422, "conflicting_fields"},
		{"another's wallet from this system with one's own session and credential id", "kakao", naverCred, credID(cred), ts.session(cred), 422, "conflicting_fields"},
		{"fetch: one's credential id with another's wallet", "naver", cred, credID(naverCred), ts.session(naverCred), 422, "conflicting_fields"},
		{"fetch: another's credential id with one's own session", "naver", nil, credID(cred), ts.session(naverCred), 403, "not_the_holder"},
		{"a wallet without its id", "kakao", map[string]any{"credential": map[string]any{}}, "", ts.session(cred), 422, "missing_field"},
		{"forged signature", "kakao", forged, "", ts.session(cred), 403, "forged_credential"},
		{"tampered payload", "kakao", tampered, "", ts.session(cred), 403, "forged_credential"},
		{"signature not base64", "kakao", noSig, "", ts.session(cred), 422, "bad_signature"},
		{"credential from another system", "kakao", foreign, "", other.session(foreign), 401, "unknown_session"},
		{"another's credential with one's own session", "kakao", foreign, "", ts.session(cred), 403, "not_the_holder"},
		{"one's credential with a session from another system", "kakao", cred, "", other.session(foreign), 401, "unknown_session"},
	}
	for _, c := range qrCases {
		t.Run("qr/"+c.name, func(t *testing.T) {
			body := map[string]any{"platform": c.platform, "session": c.session}
			if c.wallet != nil {
				body["wallet"] = c.wallet
			}
			if c.credID != "" {
				body["credential_id"] = c.credID
			}
			status, out := ts.call("POST", "/v1/qr", body)
			if status != c.status || errCode(out) != c.code {
				t.Errorf("status %d code %q, want %d %q (%v)", status, errCode(out), c.status, c.code, out)
			}
			if msg, _ := out["error"].(map[string]any)["message"].(string); msg == "" {
				t.Error("no reason given")
			}
		})
	}

	status, out := ts.call("POST", "/v1/checkins", map[string]any{"token": used, "venue_id": "v2"})
	if status != 409 || errCode(out) != "qr_reused" {
		t.Errorf("replayed token: status %d %v, want 409 qr_reused", status, out)
	}
	ts.clock.Advance(16 * time.Second)
	checkinCases := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"expired token", expiring, 403, "qr_expired"},
		{"tampered token (other credential)", tamperToken(t, fresh, "cid", credID(foreign)), 403, "qr_invalid"},
		{"tampered token (later expiry)", tamperToken(t, expiring, "exp", time.Now().Add(time.Hour).UnixMilli()), 403, "qr_invalid"},
		{"token from another system", other.qr("kakao", foreign), 403, "qr_invalid"},
		{"garbage token", "abc.def", 403, "qr_invalid"},
	}
	for _, c := range checkinCases {
		t.Run("checkin/"+c.name, func(t *testing.T) {
			status, out := ts.call("POST", "/v1/checkins", map[string]any{"token": c.token, "venue_id": "v"})
			if status != c.status || errCode(out) != c.code {
				t.Errorf("status %d code %q, want %d %q (%v)", status, errCode(out), c.status, c.code, out)
			}
		})
	}

	t.Run("certificate/unknown identity token", func(t *testing.T) {
		for _, tok := range []string{"made-up", tamperToken(t, identityTokenFor(t, ts, "u"), "uid", "someone-else")} {
			status, out := ts.call("POST", "/v1/certificates", map[string]any{"identity_token": tok, "platform": "kakao"})
			if status != 401 || errCode(out) != "unknown_identity_token" || errField(out) != "identity_token" {
				t.Errorf("status %d %v, want 401 unknown_identity_token", status, out)
			}
		}
	})
	t.Run("certificate/expired identity token", func(t *testing.T) {
		tok := identityTokenFor(t, ts, "late")
		ts.clock.Advance(11 * time.Minute)
		status, out := ts.call("POST", "/v1/certificates", map[string]any{"identity_token": tok, "platform": "kakao"})
		if status != 401 || errCode(out) != "identity_token_expired" {
			t.Errorf("status %d %v, want 401 identity_token_expired", status, out)
		}
	})
	t.Run("identity/wrong sms code", func(t *testing.T) {
		req := ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": "w", "platform": "kakao"}, 201)
		code := "000000"
		if req["sms_code"] == code {
			code = "111111"
		}
		out := ts.mustCall("POST", "/v1/identity/requests/"+req["request_id"].(string)+"/confirm", map[string]string{"code": code}, 401)
		if errCode(out) != "wrong_code" {
			t.Errorf("%v, want wrong_code", out)
		}
	})

	_, visits, _, err := ts.Store().Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if visits != 1 {
		t.Errorf("%d visits stored, want only the 1 honest check-in", visits)
	}
}

func identityTokenFor(t *testing.T, ts *testServer, user string) string {
	req := ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": user, "platform": "kakao"}, 201)
	return ts.mustCall("POST", "/v1/identity/requests/"+req["request_id"].(string)+"/confirm", map[string]any{"code": req["sms_code"]}, 200)["identity_token"].(string)
}
