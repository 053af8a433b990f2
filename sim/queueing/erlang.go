package queueing

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// ErrUnstable is returned when a steady state is asked of a system whose
// utilisation is 1 or more (its queue grows without bound).
var ErrUnstable = errors.New("queueing: unstable (utilisation >= 1): no steady state")

// ErlangB is the blocking probability of M/M/c/c (and M/G/c/c) with c
// servers offered a erlangs, by the stable recursion
//
//	B(0) = 1,  B(k) = a*B(k-1) / (k + a*B(k-1)).
func ErlangB(c int, a float64) float64 {
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// ErlangC is the probability that an arrival waits in M/M/c:
//
//	C(c, a) = c*B / (c - a*(1 - B)),  B = ErlangB(c, a),  a < c.
func ErlangC(c int, a float64) (float64, error) {
	if a >= float64(c) {
		return 1, ErrUnstable
	}
	b := ErlangB(c, a)
	return float64(c) * b / (float64(c) - a*(1-b)), nil
}

// MMc is an M/M/c queue: Poisson arrivals at Lambda per second, exponential
// service with mean S, C servers, an unbounded FIFO queue.
type MMc struct {
	Lambda float64
	S      time.Duration
	C      int
}

func (q MMc) mu() float64   { return 1 / q.S.Seconds() }
func (q MMc) load() float64 { return q.Lambda * q.S.Seconds() }

// Utilization is rho = lambda*S/c.
func (q MMc) Utilization() float64 { return q.load() / float64(q.C) }

// check validates the parameters and stability.
func (q MMc) check() error {
	if q.Lambda < 0 || q.S <= 0 || q.C < 1 {
		return fmt.Errorf("queueing: need lambda >= 0, S > 0, c >= 1; have %v, %v, %d", q.Lambda, q.S, q.C)
	}
	if q.Utilization() >= 1 {
		return fmt.Errorf("%w: rho = %.3f with c = %d", ErrUnstable, q.Utilization(), q.C)
	}
	return nil
}

// PWait is the probability an arrival waits: Erlang C.
func (q MMc) PWait() (float64, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	return ErlangC(q.C, q.load())
}

// theta is the rate of the conditional waiting time: c*mu - lambda.
func (q MMc) theta() float64 { return float64(q.C)*q.mu() - q.Lambda }

// MeanWait is Wq = C / (c*mu - lambda).
func (q MMc) MeanWait() (time.Duration, error) {
	pw, err := q.PWait()
	if err != nil {
		return 0, err
	}
	return spec.Seconds(pw / q.theta()), nil
}

// MeanResponse is W = Wq + S.
func (q MMc) MeanResponse() (time.Duration, error) {
	w, err := q.MeanWait()
	return w + q.S, err
}

// WaitCDF is P(Wq <= t) = 1 - C*exp(-(c*mu - lambda)*t).
func (q MMc) WaitCDF(t time.Duration) (float64, error) {
	pw, err := q.PWait()
	if err != nil {
		return 0, err
	}
	return 1 - pw*math.Exp(-q.theta()*t.Seconds()), nil
}

// WaitQuantile is the p-quantile of the waiting time: 0 when p <= 1-C,
// else ln(C/(1-p)) / (c*mu - lambda).
func (q MMc) WaitQuantile(p float64) (time.Duration, error) {
	pw, err := q.PWait()
	if err != nil {
		return 0, err
	}
	if p <= 1-pw {
		return 0, nil
	}
	return spec.Seconds(math.Log(pw/(1-p)) / q.theta()), nil
}

// ResponseCDF is P(T <= t) for T = Wq + S, exactly: with theta = c*mu - lambda,
//
//	P(T > t) = (1-C) e^(-mu t) + C (mu e^(-theta t) - theta e^(-mu t)) / (mu - theta)
//
// (the hypoexponential tail; (1 + mu t) e^(-mu t) in its place when theta = mu).
func (q MMc) ResponseCDF(t time.Duration) (float64, error) {
	pw, err := q.PWait()
	if err != nil {
		return 0, err
	}
	return 1 - q.responseTail(pw, t.Seconds()), nil
}

func (q MMc) responseTail(pw, t float64) float64 {
	mu, th := q.mu(), q.theta()
	var both float64
	if math.Abs(mu-th) < 1e-12*mu {
		both = (1 + mu*t) * math.Exp(-mu*t)
	} else {
		both = (mu*math.Exp(-th*t) - th*math.Exp(-mu*t)) / (mu - th)
	}
	return (1-pw)*math.Exp(-mu*t) + pw*both
}

// ResponseQuantile is the p-quantile of the response time, found by
// bisection on the exact CDF to 1 ns.
func (q MMc) ResponseQuantile(p float64) (time.Duration, error) {
	pw, err := q.PWait()
	if err != nil {
		return 0, err
	}
	if p <= 0 {
		return 0, nil
	}
	hi := q.S.Seconds()
	for q.responseTail(pw, hi) > 1-p {
		hi *= 2
	}
	lo := 0.0
	for hi-lo > 1e-9 {
		mid := (lo + hi) / 2
		if q.responseTail(pw, mid) > 1-p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return spec.Seconds(hi), nil
}

// MeanQueue is Lq = lambda * Wq (Little's law).
func (q MMc) MeanQueue() (float64, error) {
	w, err := q.MeanWait()
	return Little(q.Lambda, w), err
}

// Little is L = lambda * W.
func Little(lambda float64, w time.Duration) float64 { return lambda * w.Seconds() }

// MD1MeanWait is Wq = rho*S / (2(1 - rho)) for deterministic service.
func MD1MeanWait(lambda float64, s time.Duration) (time.Duration, error) {
	return MG1MeanWait(lambda, s, 0)
}

// MG1MeanWait is the Pollaczek-Khinchine mean wait of M/G/1, with scv the
// squared coefficient of variation of the service time:
//
//	Wq = rho * S * (1 + scv) / (2 (1 - rho)).
func MG1MeanWait(lambda float64, s time.Duration, scv float64) (time.Duration, error) {
	rho := lambda * s.Seconds()
	if rho >= 1 {
		return 0, fmt.Errorf("%w: rho = %.3f", ErrUnstable, rho)
	}
	return spec.Seconds(rho * s.Seconds() * (1 + scv) / (2 * (1 - rho))), nil
}
