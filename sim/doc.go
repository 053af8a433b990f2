// Package sim predicts a scenario against a capacity profile with a
// discrete-event simulation on a virtual clock: the same arrival schedule
// the live engine plays (same seed, same arrivals), the same user behaviour
// (scenarios.Walker), and the profile's stages as FIFO worker pools with
// bounded queues, shedding, queue timeouts, nested holding (a visit keeps
// its worker through its calls), async steps, client timeouts that cancel
// the server's work (as a disconnect does on the reference server), and the
// profile's rules that shape load (values that expire, per-user limits:
// data in the profile, such as the reference server's 15 s QR expiry).
// Its output is a results.Run like a live run's, so reports treat a
// prediction like a measurement.
//
// It never touches the network or the wall clock, and every draw comes
// from sources seeded by Config.Seed: the same inputs give the same output.
// Run is safe to call concurrently; one call is single-threaded.
package sim
