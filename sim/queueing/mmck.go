package queueing

import (
	"fmt"
	"time"
)

// MMcK is an M/M/c queue with room for K waiting (M/M/c/c+K): Poisson
// arrivals at Lambda per second, exponential service with mean S, C
// servers, and an arrival that finds every server busy and K waiting is
// turned away. It is stable at any load.
//
// With a = lambda*S, the share of time n are in the system is
//
//	p(n) = p(0) a^n / n!                 n <= c
//	p(n) = p(0) a^n / (c! c^(n-c))       c < n <= c+K
//
// and, Poisson arrivals seeing time averages, an arrival is turned away
// with probability p(c+K); one admitted with n in the system waits, on
// average, (n-c+1)/(c*mu) when n >= c.
type MMcK struct {
	Lambda float64
	S      time.Duration
	C, K   int
}

// states are p(0..c+K).
func (q MMcK) states() ([]float64, error) {
	if q.Lambda < 0 || q.S <= 0 || q.C < 1 || q.K < 0 {
		return nil, fmt.Errorf("queueing: need lambda >= 0, S > 0, c >= 1, K >= 0; have %v, %v, %d, %d", q.Lambda, q.S, q.C, q.K)
	}
	a := q.Lambda * q.S.Seconds()
	p := make([]float64, q.C+q.K+1)
	p[0] = 1
	sum := 1.0
	for n := 1; n < len(p); n++ {
		p[n] = p[n-1] * a / float64(min(n, q.C))
		sum += p[n]
	}
	for n := range p {
		p[n] /= sum
	}
	return p, nil
}

// Blocking is the share of arrivals turned away: p(c+K).
func (q MMcK) Blocking() (float64, error) {
	p, err := q.states()
	if err != nil {
		return 0, err
	}
	return p[len(p)-1], nil
}

// AdmittedWait is the mean wait in the queue of the arrivals admitted.
func (q MMcK) AdmittedWait() (time.Duration, error) {
	p, err := q.states()
	if err != nil {
		return 0, err
	}
	var w, admitted float64
	cmu := float64(q.C) / q.S.Seconds()
	for n := 0; n < len(p)-1; n++ {
		admitted += p[n]
		if n >= q.C {
			w += p[n] * float64(n-q.C+1) / cmu
		}
	}
	if admitted == 0 {
		return 0, nil
	}
	return time.Duration(w / admitted * float64(time.Second)), nil
}
