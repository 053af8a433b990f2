package refserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// documented are the statuses the API answers (README: the endpoint
// table and the error shape); 500 is not among them.
var documented = map[int]bool{200: true, 201: true, 204: true, 400: true, 401: true, 403: true, 404: true, 405: true,
	409: true, 410: true, 413: true, 415: true, 422: true, 429: true, 503: true, 504: true}

// FuzzAPI sends arbitrary methods, paths and bodies to the server in
// process: every answer is JSON (the error shape when it is an error) with
// a documented status, and the server stays up.
func FuzzAPI(f *testing.F) {
	srv, err := New(Config{Profile: loadProfile(f, "testdata/fast.yaml"), DBPath: f.TempDir() + "/pass.db", AdminToken: testAdminToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	seeds := []struct{ method, path, body string }{
		{"POST", "/v1/identity/requests", `{"user_id": "u", "platform": "kakao"}`},
		{"POST", "/v1/identity/requests/abc/confirm", `{"code": "123456"}`},
		{"POST", "/v1/certificates", `{"identity_token": "x.y", "platform": "naver"}`},
		{"POST", "/v1/qr", `{"platform": "kakao", "session": "a.b", "wallet": {"credential": {"id": "c"}, "signature": "AAAA"}}`},
		{"POST", "/v1/qr", `{"platform": "naver", "session": "a.b", "credential_id": "../../etc"}`},
		{"POST", "/v1/checkins", `{"token": "abc.def", "venue_id": "v"}`},
		{"POST", "/v1/checkins", `{"token": 1e999}`},
		{"GET", "/v1/qr", ``},
		{"DELETE", "/admin/faults/1", ``},
		{"POST", "/admin/faults", `{"kind": "latency", "stage": "kdca", "latency": "exp(1ms)", "for": "1s"}`},
		{"POST", "/admin/credentials", `{"count": 99999999999}`},
		{"GET", "/healthz", ``},
		{"PUT", "/v1/certificates", `[]`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body, false)
		f.Add(s.method, s.path, s.body, true)
	}
	f.Fuzz(func(t *testing.T, method, path, body string, admin bool) {
		if u, err := url.ParseRequestURI(path); !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " #?%") || err != nil || u.Path != path {
			return // not a request line a client can send
		}
		req := httptest.NewRequest(method, "http://x"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if admin {
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if path == "/metrics" && method == "GET" {
			return // Prometheus' text format
		}
		if !documented[rec.Code] {
			t.Fatalf("%s %s %q: status %d is not documented: %s", method, path, body, rec.Code, rec.Body.Bytes())
		}
		if rec.Code == http.StatusNoContent {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q, want application/json: %q", method, path, ct, rec.Body.Bytes())
		}
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s %s: answer is not one JSON object: %v: %q", method, path, err, rec.Body.Bytes())
		}
		if rec.Code >= 400 {
			e, _ := v["error"].(map[string]any)
			if code, _ := e["code"].(string); code == "" || e["message"] == nil {
				t.Fatalf("%s %s: %d without the error shape: %q", method, path, rec.Code, rec.Body.Bytes())
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
