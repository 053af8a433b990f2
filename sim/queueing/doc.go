// Package queueing holds closed-form queueing results as pure functions:
// Erlang B and C, the M/M/c waiting and response-time distributions (exact
// CDFs and percentiles), M/D/1 and M/G/1 means (Pollaczek-Khinchine),
// Little's law, server sizing against SLOs, and the Universal Scalability
// Law with a bounded least-squares fit.
//
// Notation: arrival rate lambda (per second), mean service time S, service
// rate mu = 1/S, servers c, offered load a = lambda*S (erlangs), utilisation
// rho = a/c. Steady-state results need rho < 1; functions that need it
// return ErrUnstable otherwise. Everything here is safe for concurrent use.
package queueing
