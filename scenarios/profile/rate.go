package profile

// RateWindow counts arrivals per whole second, the way both worlds measure
// a stage's arrival rate for the slow_under_load fault: the reference
// server with the wall clock's seconds, the simulator with virtual ones.
// It is not safe for concurrent use; callers hold their own lock.
type RateWindow struct {
	sec       int64
	now, prev float64
}

// Add counts one arrival during second sec.
func (w *RateWindow) Add(sec int64) {
	switch {
	case sec == w.sec:
	case sec == w.sec+1:
		w.prev, w.now = w.now, 0
	default:
		w.prev, w.now = 0, 0
	}
	w.sec = sec
	w.now++
}

// Rate is the arrivals per second over about the last second at second
// sec: the previous whole second, or the current one once it has seen more.
func (w *RateWindow) Rate(sec int64) float64 {
	switch sec {
	case w.sec:
		return max(w.prev, w.now)
	case w.sec + 1:
		return w.now
	}
	return 0
}

// TokenBucket is a stage's rate limit (Stage.RateLimit), the same in both
// worlds: it holds up to Burst tokens, gains Rate a second, and a visit
// that finds less than one token is refused (429) without waiting. The
// zero value admits everything. It is not safe for concurrent use; callers
// hold their own lock.
type TokenBucket struct {
	rate, burst float64
	tokens      float64
	last        float64 // seconds, when tokens was last brought up to date
	started     bool
}

// NewTokenBucket is a full bucket of burst tokens filling at rate a second.
func NewTokenBucket(rate float64, burst int) TokenBucket {
	return TokenBucket{rate: rate, burst: float64(max(burst, 1))}
}

// Take takes a token at time t (seconds, any origin, never going back) and
// says whether there was one.
func (b *TokenBucket) Take(t float64) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.started {
		b.tokens, b.last, b.started = b.burst, t, true
	}
	b.tokens = min(b.burst, b.tokens+(t-b.last)*b.rate)
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
