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
//
// # The performance contract
//
// A national run is tens of millions of events in seconds; these rules
// keep it so, and the build or a test fails where one is broken. Numbers
// are in ci/bench/RESULTS.md (the simulator's sections).
//
//   - Size assertions (pool.go, flow.go): request and visit are exactly two
//     64-byte cache lines and user exactly userLines lines; the zero-length
//     array declarations fail the build otherwise. They protect the slabs
//     (every element starts on a line, so touching one costs one or two
//     misses) and prefetchUser, which loads exactly those lines. After
//     adding a field: keep the hot fields (those the event loop reads per
//     event) in the first line, and either fit the padding or move a cold
//     field out; re-run BenchmarkNational and compare with RESULTS.md.
//   - Pointer identity with generations (events.go, pool.go): an event
//     carries a raw pointer to its visit or request and the generation it
//     was scheduled for; slab elements are reused, and an event whose
//     generation differs is stale and dropped (TestSimNothingReusedWhileOnTheClock).
//     Never keep a pointer to a pooled element past its release without
//     its generation.
//   - The tabulated walker path (scenarios.Scenario.tabulate,
//     scenarios/walk.go): per-step restart targets and cumulative give-up
//     shares are computed once at parse; a scenario made in code without
//     them takes the map path, which must decide the same
//     (TestWalkerGiveUpTable runs both).
//   - Profile-guided optimisation: cmd/surge/default.pgo is a CPU profile of
//     the national dinner run; regenerate it (surge sim --cpuprofile) after
//     changing the event loop, or the compiler optimises for the old one.
//   - The garbage collector: surge sim sets GOGC to 400 while it runs: the
//     run allocates many short-lived objects and memory is plentiful, so
//     fewer collections buy about a fifth of the time.
//   - Nothing here reads the wall clock or an unseeded source: the same
//     inputs give byte-identical results (every shipped scenario's
//     results.json hash is the check after a change).
package sim
