package refserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/profile"
)

// clock is an injectable clock for token expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2021, 12, 13, 11, 40, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func loadProfile(t testing.TB, path string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testServer is a reference server behind a real HTTP listener on loopback.
type testServer struct {
	*Server
	URL   string
	clock *clock
	t     testing.TB
	admin string // the admin token the helpers send to /admin paths

	mu       sync.Mutex
	sessions map[string]string // credential id -> its holder's session, from issue
}

func startServer(t testing.TB, p *profile.Profile, mutate ...func(*Config)) *testServer {
	t.Helper()
	clk := newClock()
	cfg := Config{Profile: p, Seed: 7, Now: clk.Now, DBPath: t.TempDir() + "/pass.db", AdminToken: testAdminToken}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &testServer{Server: srv, URL: hs.URL, clock: clk, t: t, admin: cfg.AdminToken, sessions: map[string]string{}}
}

// testAdminToken is the admin token of a test's server (unless it sets another).
const testAdminToken = "test-admin-token"

// call sends body (a value to encode, or raw []byte / string) and decodes the JSON answer.
func (ts *testServer) call(method, path string, body any) (int, map[string]any) {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/admin") && ts.admin != "" {
		req.Header.Set("Authorization", "Bearer "+ts.admin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(raw, &out); err != nil {
			ts.t.Fatalf("%s %s: bad JSON answer %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out
}

func (ts *testServer) mustCall(method, path string, body any, want int) map[string]any {
	ts.t.Helper()
	got, out := ts.call(method, path, body)
	if got != want {
		ts.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, want, out)
	}
	return out
}

// issue runs the first-time issuance journey and returns the signed
// credential as JSON; the holder's session is kept for qr and qrBody.
func (ts *testServer) issue(user, platform string) map[string]any {
	ts.t.Helper()
	req := ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": user, "platform": platform}, 201)
	tok := ts.mustCall("POST", "/v1/identity/requests/"+req["request_id"].(string)+"/confirm", map[string]any{"code": req["sms_code"]}, 200)
	out := ts.mustCall("POST", "/v1/certificates", map[string]any{"identity_token": tok["identity_token"], "platform": platform}, 201)
	cred, _ := out["wallet"].(map[string]any)
	session, _ := out["session"].(string)
	if cred == nil || session == "" {
		ts.t.Fatalf("POST /v1/certificates: answer %v lacks wallet or session", out)
	}
	ts.mu.Lock()
	ts.sessions[credID(cred)] = session
	ts.mu.Unlock()
	return cred
}

// session is the holder's session of a credential issue returned.
func (ts *testServer) session(cred map[string]any) string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.sessions[credID(cred)]
}

// qrBody is the holder's QR request: wallet platforms present cred, fetch
// platforms its id; either way with the holder's session.
func (ts *testServer) qrBody(platform string, cred map[string]any) map[string]any {
	body := map[string]any{"platform": platform, "session": ts.session(cred)}
	if ts.Profile().Platforms[platform].Proof == profile.ProofWallet {
		body["wallet"] = cred
	} else {
		body["credential_id"] = credID(cred)
	}
	return body
}

// qr mints a QR token for cred's holder.
func (ts *testServer) qr(platform string, cred map[string]any) string {
	ts.t.Helper()
	return ts.mustCall("POST", "/v1/qr", ts.qrBody(platform, cred), 201)["token"].(string)
}

func credID(cred map[string]any) string { return cred["credential"].(map[string]any)["id"].(string) }

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func errField(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func itoa(i int) string { return strconv.Itoa(i) }

func parseProfile(t testing.TB, yaml string) *profile.Profile {
	t.Helper()
	p, err := profile.Parse("inline.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
