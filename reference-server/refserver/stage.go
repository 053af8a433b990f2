package refserver

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/spec"
)

// stage is one bounded worker pool of the profile, live.
type stage struct {
	name    string
	cfg     profile.Stage
	pool    *pool
	service spec.Dist

	rngMu sync.Mutex
	rng   *rand.Rand

	faults atomic.Pointer[[]*activeFault] // the faults that apply to this stage now
	m      *stageMetrics

	rateMu sync.Mutex
	window profile.RateWindow  // arrivals per second (slow_under_load)
	bucket profile.TokenBucket // its rate limit (rate_limit), if any
	epoch  time.Time           // the bucket's origin
}

// admit takes a token of the stage's rate limit, if it has one.
func (s *stage) admit() bool {
	if s.cfg.RateLimit <= 0 {
		return true
	}
	s.rateMu.Lock()
	defer s.rateMu.Unlock()
	return s.bucket.Take(time.Since(s.epoch).Seconds())
}

// arrived counts a visit for the stage's arrival rate.
func (s *stage) arrived() {
	s.rateMu.Lock()
	defer s.rateMu.Unlock()
	s.window.Add(time.Now().Unix())
}

// rate is the stage's arrivals per second over about the last second.
func (s *stage) rate() float64 {
	s.rateMu.Lock()
	defer s.rateMu.Unlock()
	return s.window.Rate(time.Now().Unix())
}

func newStage(name string, cfg profile.Stage, seed uint64, m *stageMetrics) *stage {
	h := fnv.New64a()
	h.Write([]byte(name))
	s := &stage{
		name:    name,
		cfg:     cfg,
		pool:    newPool(cfg.Workers, cfg.Queue, cfg.WhenFull == profile.WhenFullWait),
		service: cfg.Service,
		rng:     rand.New(rand.NewPCG(seed, h.Sum64())),
		m:       m,
		bucket:  cfg.Bucket(),
		epoch:   time.Now(),
	}
	s.faults.Store(&[]*activeFault{})
	return s
}

// draw samples d from the stage's source (shared by its workers).
func (s *stage) draw(d spec.Dist) time.Duration {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return d.Sample(s.rng)
}

// uniform draws from [0, 1) with the stage's source.
func (s *stage) uniform() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

// serve runs fn while holding one of the stage's workers, after a service
// time drawn from svc (the stage's, or the visiting step's own) and any
// active fault's effect. fn says how long of its time went to nested calls
// (the rest is the stage's own).
func (s *stage) serve(ctx context.Context, svc spec.Dist, fn func(context.Context) (time.Duration, error)) error {
	s.arrived()
	faults := *s.faults.Load()
	for _, f := range faults {
		if err := f.before(ctx, s); err != nil {
			s.m.shed(string(f.kind))
			return err
		}
	}
	if !s.admit() {
		s.m.shed("rate_limited")
		ra := s.cfg.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "stage " + s.name + " admits " + strconv.FormatFloat(s.cfg.RateLimit, 'g', -1, 64) + " requests a second", Stage: s.name, RetryAfter: ra}
	}
	queuedAt := time.Now()
	if err := s.pool.acquire(ctx, s.cfg.QueueTimeout); err != nil {
		return s.refusal(err)
	}
	start := time.Now()
	s.m.queueWait.Observe(start.Sub(queuedAt).Seconds())
	var called time.Duration
	defer func() {
		held := time.Since(start)
		s.m.held.Observe(held.Seconds())
		s.m.own.Observe((held - called).Seconds())
		s.pool.release()
	}()
	d := s.draw(svc)
	base := d
	for _, f := range faults {
		d += f.extra(s, base)
	}
	if err := sleep(ctx, d); err != nil {
		return err
	}
	var err error
	if called, err = fn(ctx); err != nil {
		return err
	}
	s.m.served.Inc()
	return nil
}

// refusal turns a failed acquire into the API error a client sees.
func (s *stage) refusal(err error) error {
	switch {
	case errors.Is(err, errPoolFull):
		s.m.shed("queue_full")
		return s.unavailable("stage_full", "stage "+s.name+" is full: request shed")
	case errors.Is(err, errPoolTimeout):
		s.m.shed("queue_timeout")
		return s.unavailable("queue_timeout", "stage "+s.name+": no worker free within "+s.cfg.QueueTimeout.String())
	}
	s.m.shed("cancelled")
	return err
}

func (s *stage) unavailable(code, msg string) *apiError {
	ra := s.cfg.RetryAfter
	if ra <= 0 {
		ra = time.Second
	}
	return &apiError{Status: http.StatusServiceUnavailable, Code: code, Message: msg, Stage: s.name, RetryAfter: ra}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
