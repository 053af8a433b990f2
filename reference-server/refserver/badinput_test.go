package refserver

import (
	"strings"
	"testing"
)

func TestBadInputNamesTheFieldAndServerStaysUp(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	cred := ts.issue("u", "kakao")
	cases := []struct {
		name, path string
		body       any
		status     int
		code       string
		field      string
	}{
		{"malformed JSON", "/v1/qr", `{"platform": "kakao",`, 400, "bad_json", ""},
		{"not an object", "/v1/qr", `[1, 2]`, 400, "bad_type", ""},
		{"empty body", "/v1/checkins", ``, 400, "bad_json", ""},
		{"trailing data", "/v1/checkins", `{"token": "a", "venue_id": "v"} {}`, 400, "bad_json", ""},
		{"a stray bracket after the object", "/v1/checkins", `{"token": "a", "venue_id": "v"}]`, 400, "bad_json", ""},
		{"a stray brace after the object", "/v1/qr", `{"platform": "kakao"}}`, 400, "bad_json", ""},
		{"wrong type", "/v1/qr", `{"platform": 42}`, 400, "bad_type", "platform"},
		{"wrong nested type", "/v1/qr", `{"platform": "kakao", "wallet": {"credential": {"doses": "two"}}}`, 400, "bad_type", "wallet.credential.doses"},
		{"unknown field", "/v1/checkins", `{"token": "a", "venue_id": "v", "admin": true}`, 400, "unknown_field", "admin"},
		{"missing field", "/v1/checkins", `{"venue_id": "v"}`, 422, "missing_field", "token"},
		{"missing venue", "/v1/checkins", `{"token": "x"}`, 422, "missing_field", "venue_id"},
		{"missing user", "/v1/identity/requests", `{"platform": "kakao"}`, 422, "missing_field", "user_id"},
		{"overlong user", "/v1/identity/requests", map[string]string{"user_id": strings.Repeat("u", 200), "platform": "kakao"}, 422, "invalid_field", "user_id"},
		{"unknown platform", "/v1/identity/requests", `{"user_id": "u", "platform": "myspace"}`, 422, "invalid_field", "platform"},
		{"unknown platform on qr", "/v1/qr", map[string]any{"platform": "cyworld", "wallet": cred, "session": ts.session(cred)}, 422, "invalid_field", "platform"},
		{"wallet missing on wallet platform", "/v1/qr", `{"platform": "kakao", "credential_id": "x"}`, 422, "missing_field", "wallet"},
		{"credential id missing on fetch platform", "/v1/qr", `{"platform": "naver"}`, 422, "missing_field", "credential_id"},
		{"a session for another credential", "/v1/qr", map[string]any{"platform": "naver", "credential_id": "nope", "session": ts.session(cred)}, 403, "not_the_holder", "session"},
		{"no session", "/v1/qr", map[string]any{"platform": "naver", "credential_id": credID(cred)}, 422, "missing_field", "session"},
		{"a session from nowhere", "/v1/qr", map[string]any{"platform": "naver", "credential_id": credID(cred), "session": "forged"}, 401, "unknown_session", "session"},
		{"body over the limit", "/v1/identity/requests", `{"user_id": "` + strings.Repeat("x", maxBody) + `", "platform": "kakao"}`, 413, "body_too_large", ""},
		{"unknown identity request", "/v1/identity/requests/zzz/confirm", `{"code": "123456"}`, 404, "unknown_identity_request", "id"},
		{"missing code", "/v1/identity/requests/zzz/confirm", `{}`, 422, "missing_field", "code"},
		{"no such endpoint", "/v1/nothing", `{}`, 404, "not_found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := ts.call("POST", c.path, c.body)
			if status != c.status || errCode(out) != c.code || errField(out) != c.field {
				t.Errorf("status %d code %q field %q, want %d %q %q (%v)", status, errCode(out), errField(out), c.status, c.code, c.field, out)
			}
			if msg, _ := out["error"].(map[string]any)["message"].(string); c.field != "" && !strings.Contains(msg, c.field[strings.LastIndexByte(c.field, '.')+1:]) {
				t.Errorf("message %q does not name the field %q", msg, c.field)
			}
		})
	}
	ts.mustCall("GET", "/healthz", nil, 200)
	ts.mustCall("POST", "/v1/checkins", map[string]any{"token": ts.qr("kakao", cred), "venue_id": "v"}, 201)
}
