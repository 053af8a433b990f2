// Package scenarios is surge's traffic language: a Scenario says who
// arrives when (volume, a per-bucket profile, burstiness, parties), who
// they are (cohorts and platforms, with shares that may change over the
// window), what each does (journeys of requests and think times, with data
// passed between steps), how they behave when the service fails them
// (timeouts, retries, patience, and what they do on giving up), and what
// must hold (SLO clauses and the gate).
//
// Files are decoded strictly: unknown keys, wrong types and impossible
// values are errors that name the file, line and key path. Quantities carry
// their units: durations are Go duration strings ("250ms"), rates have a
// period ("50/s"), shares are explicit percentages ("35%"), counts may use
// k and M ("4.2M"), the scale is a fraction ("1/50").
//
// A Scenario is read-only after Load and safe for concurrent use.
package scenarios
