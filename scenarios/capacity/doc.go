// Package capacity is the search behind surge capacity. It finds a
// service's capacity under a scenario's SLOs: the knee, the most
// arrivals a second of the scenario's own mix (its cohorts, platforms,
// journeys and behaviour, as at its forecast peak) at which every SLO
// clause holds. It plays the mix at steady rates, open model,
// ramping geometrically to the first breach and then bisecting, each step
// long enough for the tail its clauses name and with its warm-up cut off;
// the steps run live against a target (scenarios/replay) or on a capacity
// profile in the simulator (sim), by the same search. It also measures
// throughput at fixed concurrencies for the Universal Scalability Law, and
// fits a capacity profile of the target from the steps (calibrate.go), so
// that surge sim and surge plan predict the service it measured.
//
// A Search is one search: not safe for concurrent use; it returns when
// its context is done, its budget is spent or the knee is found.
package capacity
