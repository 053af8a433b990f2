package refserver

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// SMS codes are six digits: a million values. Guessing is bounded twice.
// A request takes perRequest wrong codes, then is locked (used up in the
// store, so it stays locked across a restart and no later right code
// confirms it). A user takes perUser wrong codes in any hour across all
// their requests, then every confirmation for them is refused with 429
// until the hour has passed: an attacker who opens request after request
// for one victim gets perUser guesses an hour, a 1 in 50,000 chance.
const (
	guessesPerRequest = 5
	guessesPerUser    = 20
	guessWindow       = time.Hour
)

// guesses counts wrong SMS codes per identity request and per user. A
// confirmation takes a guess from both budgets before its code is checked
// (the check waits its turn at the identity stage, seconds under load) and
// gives it back after, unless the code was wrong: checked and counted as
// one step, so a hundred confirmations at once for one user cannot all
// pass a budget that none has been counted in yet. Its memory is bounded
// by the requests alive (a request's count goes when it expires) and the
// users who guessed in the last hour.
type guesses struct {
	mu     sync.Mutex
	now    func() time.Time
	byReq  map[string]*reqGuesses
	byUser *userLimiter
	sweep  time.Time
}

type reqGuesses struct {
	wrong   int   // codes checked and wrong
	pending int   // codes taken from the budget, not yet checked
	expires int64 // unix ms: the request's own expiry
}

func newGuesses(now func() time.Time) *guesses {
	return &guesses{now: now, byReq: map[string]*reqGuesses{}, byUser: newUserLimiter(guessesPerUser, guessWindow, now)}
}

// guess is one confirmation's claim on the budgets, from reserve to wrong
// (the code did not match: the claim is spent) or release (it did, or it
// was never checked: the claim is given back).
type guess struct {
	g       *guesses
	req     identityClaims
	settled bool
}

// reserve takes a guess for req from the user's budget and the request's,
// or refuses: 429 when the user's wrong codes (with those being checked)
// fill the hour, 409 when the request is locked, 429 when as many of its
// codes are being checked as it has tries left.
func (g *guesses) reserve(req identityClaims) (*guess, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.request(req)
	switch {
	case r.wrong >= guessesPerRequest:
		return nil, &apiError{Status: http.StatusConflict, Code: "identity_request_used", Field: "id",
			Message: "the identity request was confirmed already (or locked after wrong codes); start again"}
	case r.wrong+r.pending >= guessesPerRequest:
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: "too_many_wrong_codes", Field: "code", RetryAfter: time.Second,
			Message: "as many codes are being checked for this identity request as it has tries left; try again in a moment"}
	}
	if wait := g.byUser.reserve(req.User); wait > 0 {
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: "too_many_wrong_codes", Field: "code", RetryAfter: wait,
			Message: "too many wrong SMS codes for this user; try again later"}
	}
	r.pending++
	return &guess{g: g, req: req}, nil
}

// request is req's count, made if new (g.mu held); now and then it
// forgets the counts of expired requests.
func (g *guesses) request(req identityClaims) *reqGuesses {
	now := g.now()
	if now.Sub(g.sweep) > time.Minute {
		for n, r := range g.byReq {
			if expired(r.expires, now) && r.pending == 0 {
				delete(g.byReq, n)
			}
		}
		g.sweep = now
	}
	r := g.byReq[req.Nonce]
	if r == nil {
		r = &reqGuesses{expires: req.Expires}
		g.byReq[req.Nonce] = r
	}
	return r
}

// settle ends the claim: a wrong code is counted in both budgets; it says
// how many tries the request has left.
func (c *guess) settle(wrong bool) (left int) {
	if c.settled {
		return 0
	}
	c.settled = true
	c.g.byUser.settle(c.req.User, wrong)
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	r := c.g.request(c.req)
	r.pending--
	if wrong {
		r.wrong++
	}
	return guessesPerRequest - r.wrong
}

// release gives the claim back if it was not spent (a right code, or one
// never checked); after wrong it does nothing.
func (c *guess) release() { c.settle(false) }

// wrong spends the claim on a wrong code and says so; the perRequest-th
// wrong code locks the request for good.
func (c *guess) wrong(ctx context.Context, st *Store) error {
	left := c.settle(true)
	if left > 0 {
		return &apiError{Status: http.StatusUnauthorized, Code: "wrong_code", Field: "code",
			Message: "the SMS code does not match (" + strconv.Itoa(left) + " tries left for this request)"}
	}
	if err := st.useTokenAlone(ctx, usedToken{nonce: kindIDReq + ":" + c.req.Nonce, expires: c.req.Expires}); err != nil && err != errDuplicate {
		return err
	}
	return &apiError{Status: http.StatusConflict, Code: "identity_request_locked", Field: "id",
		Message: "too many wrong SMS codes: the identity request is locked; start again"}
}
