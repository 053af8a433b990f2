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

// guesses counts wrong SMS codes per identity request and per user. Its
// memory is bounded by the requests alive (a request's count goes when it
// expires) and the users who guessed wrong in the last hour.
type guesses struct {
	mu     sync.Mutex
	now    func() time.Time
	byReq  map[string]*reqGuesses
	byUser *userLimiter
	sweep  time.Time
}

type reqGuesses struct {
	wrong   int
	expires int64 // unix ms: the request's own expiry
}

func newGuesses(now func() time.Time) *guesses {
	return &guesses{now: now, byReq: map[string]*reqGuesses{}, byUser: newUserLimiter(guessesPerUser, guessWindow, now)}
}

// check refuses a confirmation when the user has used up their guesses.
func (g *guesses) check(req identityClaims) error {
	if wait := g.byUser.full(req.User); wait > 0 {
		return &apiError{Status: http.StatusTooManyRequests, Code: "too_many_wrong_codes", Field: "code", RetryAfter: wait,
			Message: "too many wrong SMS codes for this user; try again later"}
	}
	return nil
}

// wrong records a wrong code for req and says so; the perRequest-th locks
// the request for good.
func (g *guesses) wrong(ctx context.Context, st *Store, req identityClaims) error {
	g.byUser.allow(req.User)
	g.mu.Lock()
	now := g.now()
	if now.Sub(g.sweep) > time.Minute {
		for n, r := range g.byReq {
			if expired(r.expires, now) {
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
	r.wrong++
	left := guessesPerRequest - r.wrong
	g.mu.Unlock()
	if left > 0 {
		return &apiError{Status: http.StatusUnauthorized, Code: "wrong_code", Field: "code",
			Message: "the SMS code does not match (" + strconv.Itoa(left) + " tries left for this request)"}
	}
	if err := st.useTokenAlone(ctx, usedToken{nonce: kindIDReq + ":" + req.Nonce, expires: req.Expires}); err != nil && err != errDuplicate {
		return err
	}
	return &apiError{Status: http.StatusConflict, Code: "identity_request_locked", Field: "id",
		Message: "too many wrong SMS codes: the identity request is locked; start again"}
}
