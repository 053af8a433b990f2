package capacity

import (
	"context"
	"fmt"
)

// identifyFactor is how far past its share of the knee a cohort plays
// alone. At the peak's mix a pool shared by every request and one pool per
// request sized in proportion behave alike; alone, a cohort that had its
// own pool overloads it at 1.5 times its share of the knee, while one that
// shares a pool with the others finds it mostly free. The identification
// steps show which (and the calibration simulates both against them).
const identifyFactor = 1.5

// identify plays, after the knee is found, each cohort of the peak's mix
// alone at identifyFactor times its arrivals at the knee, within the
// budget. It needs two cohorts or more, and a knee.
func (q *search) identify(ctx context.Context) {
	k := q.res.Knee.ArrivalsPerS
	if q.cfg.NoIdentify || k <= 0 || ctx.Err() != nil || q.res.Ended == "generator" || q.res.Ended == "interrupted" {
		return
	}
	var cohorts []int
	for i, share := range q.mix.Cohorts {
		if share > 0 && q.mix.Main > 0 {
			cohorts = append(cohorts, i)
		}
	}
	if len(cohorts) < 2 {
		return
	}
	for _, i := range cohorts {
		m := alone(q.mix, i)
		rate := identifyFactor * k * q.mix.Main * q.mix.Cohorts[i]
		if !q.fits(q.cfg.MinStep) || ctx.Err() != nil {
			return
		}
		label := fmt.Sprintf("only %s, at %.3gx its share of the knee", q.s.Cohorts[i].Name, identifyFactor)
		if _, _, err := q.play(ctx, m, label, rate, q.cfg.MinStep); err != nil {
			return
		}
	}
}

// alone is mix m with only cohort i arriving (on the main stream).
func alone(m Mix, i int) Mix {
	out := Mix{Peak: m.Peak, At: m.At, Main: 1, Extra: make([]float64, len(m.Extra)), Cohorts: make([]float64, len(m.Cohorts))}
	out.Cohorts[i] = 1
	return out
}
