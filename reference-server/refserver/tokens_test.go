package refserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// identityRequest opens an identity request and returns its id and code.
func (ts *testServer) identityRequest(user, platform string) (id, code string) {
	ts.t.Helper()
	out := ts.mustCall("POST", "/v1/identity/requests", map[string]string{"user_id": user, "platform": platform}, 201)
	return out["request_id"].(string), out["sms_code"].(string)
}

// wrongCode is a six-digit code that is not code.
func wrongCode(code string, i int) string {
	for n := i; ; n++ {
		if c := fmt.Sprintf("%06d", (n*7919+1)%1_000_000); c != code {
			return c
		}
	}
}

func TestSMSCodesCannotBeGuessedByVolume(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	id, code := ts.identityRequest("victim", "kakao")
	confirm := func(id, code string) (int, map[string]any) {
		return ts.call("POST", "/v1/identity/requests/"+id+"/confirm", map[string]string{"code": code})
	}
	for i := 1; i < guessesPerRequest; i++ {
		status, out := confirm(id, wrongCode(code, i))
		if status != 401 || errCode(out) != "wrong_code" {
			t.Fatalf("wrong code %d: %d %v, want 401 wrong_code", i, status, out)
		}
		if msg := out["error"].(map[string]any)["message"].(string); !strings.Contains(msg, fmt.Sprintf("%d tries left", guessesPerRequest-i)) {
			t.Errorf("wrong code %d: message %q does not say %d tries left", i, msg, guessesPerRequest-i)
		}
	}
	if status, out := confirm(id, wrongCode(code, guessesPerRequest)); status != 409 || errCode(out) != "identity_request_locked" {
		t.Fatalf("the %dth wrong code: %d %v, want 409 identity_request_locked", guessesPerRequest, status, out)
	}
	// locked for good: the right code no longer confirms it
	if status, out := confirm(id, code); status != 409 || errCode(out) != "identity_request_used" {
		t.Errorf("the right code after the lock: %d %v, want 409", status, out)
	}

	// Request after request for the same user: the per-user budget ends it.
	wrong := guessesPerRequest
	for wrong < guessesPerUser {
		id, code := ts.identityRequest("victim", "kakao")
		status, out := confirm(id, wrongCode(code, wrong))
		wrong++
		if status != 401 && status != 409 {
			t.Fatalf("wrong code %d: %d %v", wrong, status, out)
		}
	}
	id, code = ts.identityRequest("victim", "kakao")
	status, out := confirm(id, code)
	if status != 429 || errCode(out) != "too_many_wrong_codes" {
		t.Fatalf("after %d wrong codes in the hour, even the right one: %d %v, want 429 too_many_wrong_codes", wrong, status, out)
	}
	// another user is not held up by the victim's attacker
	other, otherCode := ts.identityRequest("bystander", "kakao")
	ts.mustCall("POST", "/v1/identity/requests/"+other+"/confirm", map[string]string{"code": otherCode}, 200)
	// an hour on, the victim may confirm again
	ts.clock.Advance(guessWindow + 1)
	id, code = ts.identityRequest("victim", "kakao")
	ts.mustCall("POST", "/v1/identity/requests/"+id+"/confirm", map[string]string{"code": code}, 200)
}

func TestIdentityTokensAreSingleUseAndBound(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	id, code := ts.identityRequest("kim", "naver")
	tok := ts.mustCall("POST", "/v1/identity/requests/"+id+"/confirm", map[string]string{"code": code}, 200)["identity_token"]
	if status, out := ts.call("POST", "/v1/identity/requests/"+id+"/confirm", map[string]string{"code": code}); status != 409 || errCode(out) != "identity_request_used" {
		t.Errorf("confirming twice: %d %v, want 409 identity_request_used", status, out)
	}
	// the token was checked on naver: it issues nothing on kakao
	if status, out := ts.call("POST", "/v1/certificates", map[string]any{"identity_token": tok, "platform": "kakao"}); status != 403 || errCode(out) != "platform_mismatch" {
		t.Errorf("identity token on another platform: %d %v, want 403 platform_mismatch", status, out)
	}
	ts.mustCall("POST", "/v1/certificates", map[string]any{"identity_token": tok, "platform": "naver"}, 201)
	if status, out := ts.call("POST", "/v1/certificates", map[string]any{"identity_token": tok, "platform": "naver"}); status != 409 || errCode(out) != "identity_token_used" {
		t.Errorf("a second certificate from one identity token: %d %v, want 409 identity_token_used", status, out)
	}
	nc, _, _, err := ts.store.Counts(context.Background())
	if err != nil || nc != 1 {
		t.Errorf("certificates stored: %d (%v), want 1", nc, err)
	}
	anchored, pending, err := ts.store.CheckChain(context.Background())
	if err != nil || anchored+pending != 1 {
		t.Errorf("anchor chain: %d anchored, %d pending, %v; want the one certificate", anchored, pending, err)
	}
}

func TestQRIsMintedForTheHoldersOwnCredentialOnly(t *testing.T) {
	ts := startServer(t, loadProfile(t, "testdata/fast.yaml"))
	mine := ts.issue("me", "naver")
	theirs := ts.issue("them", "naver")
	// knowing another's credential id (fetch platform) mints nothing
	body := map[string]any{"platform": "naver", "credential_id": credID(theirs), "session": ts.session(mine)}
	if status, out := ts.call("POST", "/v1/qr", body); status != 403 || errCode(out) != "not_the_holder" {
		t.Errorf("QR for another's credential id: %d %v, want 403 not_the_holder", status, out)
	}
	// a session altered by one character is no session
	s := ts.session(mine)
	flip := byte('A')
	if s[0] == 'A' {
		flip = 'B'
	}
	bad := string(flip) + s[1:] // the first character: all six of its bits count
	if status, out := ts.call("POST", "/v1/qr", map[string]any{"platform": "naver", "credential_id": credID(mine), "session": bad}); status != 401 || errCode(out) != "unknown_session" {
		t.Errorf("altered session: %d %v, want 401 unknown_session", status, out)
	}
	ts.mustCall("POST", "/v1/checkins", map[string]any{"token": ts.qr("naver", mine), "venue_id": "v"}, 201)
}

// TestSMSGuessBudgetHoldsUnderConcurrency: an attacker sends 1,500 wrong
// codes, 100 at a time, over 30 identity requests for one user, while the
// identity stage takes its time: no more codes are checked than the
// budget (guessesPerUser wrong codes an hour, guessesPerRequest a request),
// counted both from the answers that say a code was checked and from the
// identity stage's own count of visits.
func TestSMSGuessBudgetHoldsUnderConcurrency(t *testing.T) {
	p := parseProfile(t, strings.Replace(readTestdata(t, "testdata/fast.yaml"),
		"identity: {workers: 32, queue: 256, service: 0s}", "identity: {workers: 16, queue: 4096, service: 20ms}", 1))
	ts := startServer(t, p)
	type req struct{ id, code string }
	var reqs []req
	for range 30 {
		id, code := ts.identityRequest("victim", "kakao")
		reqs = append(reqs, req{id, code})
	}
	visits := func() float64 { return testutil.ToFloat64(ts.met.served.WithLabelValues("identity")) }
	before := visits()
	const guesses, parallel = 1500, 100
	answers := make(chan string, guesses)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := reqs[i%len(reqs)]
			_, out := ts.call("POST", "/v1/identity/requests/"+r.id+"/confirm", map[string]string{"code": wrongCode(r.code, i)})
			answers <- errCode(out)
		}()
	}
	wg.Wait()
	close(answers)
	kinds := map[string]int{}
	for a := range answers {
		kinds[a]++
	}
	checked := kinds["wrong_code"] + kinds["identity_request_locked"]
	if checked > guessesPerUser || checked == 0 {
		t.Errorf("%d codes checked and found wrong (answers %v), want at most %d and some", checked, kinds, guessesPerUser)
	}
	if n := visits() - before; n > guessesPerUser {
		t.Errorf("the identity stage checked %v codes, want at most %d (answers %v)", n, guessesPerUser, kinds)
	}
	// the budget is spent: even the right code waits for the hour
	r := reqs[len(reqs)-1]
	if status, out := ts.call("POST", "/v1/identity/requests/"+r.id+"/confirm", map[string]string{"code": r.code}); status != 429 {
		t.Errorf("the right code after the budget is spent: %d %v, want 429", status, out)
	}
}

func readTestdata(t *testing.T, path string) string {
	t.Helper()
	s, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
