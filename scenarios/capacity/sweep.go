package capacity

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/surgekit/surge/sim/queueing"
)

// Sweep runs the closed-loop sweep alone (cfg.Concurrency) and fits it.
func Sweep(ctx context.Context, cfg Config) (*USLResult, error) {
	if len(cfg.Concurrency) == 0 {
		return nil, fmt.Errorf("capacity: a sweep needs concurrency levels")
	}
	q, err := newSearch(cfg)
	if err != nil {
		return nil, err
	}
	q.sweep(ctx)
	return q.res.USL, nil
}

// sweep measures throughput at each fixed concurrency (a closed loop: each
// of N users sends its next request when its last is answered, think times
// taken out) and fits the Universal Scalability Law to it:
//
//	X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1))
//
// X is the successful answers a second, over each level's steady part.
func (q *search) sweep(ctx context.Context) {
	if len(q.cfg.Concurrency) == 0 || ctx.Err() != nil {
		return
	}
	u := &USLResult{}
	q.res.USL = u
	warm := min(5*time.Second, q.cfg.SweepStep/2)
	closed := Closed(q.s)
	for _, n := range q.cfg.Concurrency {
		if !q.fits(q.cfg.SweepStep) {
			u.Note = fmt.Sprintf("the budget ended the sweep before %d users", n)
			break
		}
		run, err := q.cfg.Runner.Closed(ctx, closed, q.cfg.Seed, n, warm+q.cfg.SweepStep)
		if err != nil {
			u.Note = err.Error()
			break
		}
		sl := run.Slice(warm, warm+q.cfg.SweepStep)
		var ok int64
		for _, e := range sl.Endpoints {
			ok += e.Total.Succeeded
		}
		u.Points = append(u.Points, queueing.Point{Load: float64(n), Throughput: float64(ok) / q.cfg.SweepStep.Seconds()})
		if err := q.cfg.Runner.Cooldown(ctx); err != nil || ctx.Err() != nil {
			break
		}
	}
	if len(u.Points) < 3 {
		u.Note = "fewer than three concurrency levels measured: no fit. " + u.Note
		return
	}
	fit, err := queueing.FitUSL(u.Points)
	if err != nil {
		u.Note = err.Error()
		return
	}
	u.Sigma, u.Kappa, u.Lambda = fit.Sigma, fit.Kappa, fit.Lambda
	if n, ok := fit.Peak(); ok {
		u.PeakLoad, u.PeakThroughput = n, fit.Throughput(n)
	} else {
		u.NoPeak, u.Limit = true, fit.Limit()
		if math.IsInf(u.Limit, 1) {
			u.Limit = 0
		}
	}
}
