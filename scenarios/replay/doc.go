// Package replay plays a scenario for real against an HTTP service: the open
// model (users arrive on the scenario's curve whatever the service does),
// each user running its journey with think times, timeouts, retries,
// patience and give-up decisions, all drawn from sources seeded by the run
// seed and the user's arrival number.
//
// Latency is measured from each request's intended send time: the user's
// scheduled arrival for a journey's first request, the end of the think time
// or backoff before later ones. A request that waits for one of the bounded
// connections, or that the generator sends late, is therefore charged the
// wait (coordinated omission corrected); the uncorrected time, from the
// actual send, is kept beside it, and how late each send went out is
// recorded as the generator's own health.
//
// Run is safe to call concurrently; one call owns its goroutines and stops
// them all before it returns.
package replay
