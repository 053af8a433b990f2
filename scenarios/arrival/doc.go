// Package arrival turns a scenario's arrivals into a rate curve on the
// played timeline and a seeded schedule of arrivals on it.
//
// The played timeline is the scenario's clock after compression: a piece of
// the window outside compression.realtime plays for 1/factor of its length
// at its real rate, so rates are kept and counts shrink. Every stream (the
// main arrivals and each extra_arrivals entry) has a rate r(t) in people per
// second of played time, scaled by the scenario's scale. With a burst,
//
//	r(t) = base * (1 + (F-1) * sin(2*pi*tau(t)/P))
//
// where tau is the scenario-clock time of played time t, F the burst
// factor and P its period. Arrivals are a time change of a unit-rate
// process: the k-th arrival of a stream comes at Lambda^-1(S_k), where
// Lambda(t) is the integral of r up to t and S_k = k (process: uniform, a
// deterministic schedule whose counts match the curve exactly) or a sum of
// k Exp(1) draws (process: poisson, a non-homogeneous Poisson process).
// With parties, the process places parties at r/mean and each brings
// 1 + Poisson(mean-1) people, at most max.
//
// A Schedule draws from its own seeded sources only: the same scenario and
// seed give the same arrivals, cohorts, platforms and party sizes.
package arrival
