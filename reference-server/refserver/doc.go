// Package refserver is surge's reference system under test: a working model
// of the Korean vaccine-pass backend of December 2021 (platform relays,
// identity verification, the KDCA certificate API, the vaccination registry,
// DID signing and key anchoring, the venue visit log), run from a
// profile.Profile.
//
// Each stage of the profile is a bounded worker pool with a bounded FIFO
// queue; a request holds a worker for a service time drawn (from a seeded
// source) from the stage's distribution, and sheds with 503 and Retry-After
// when the stage is full. Where the real work is cheap it is real: ed25519
// signatures on credentials, HMAC-signed one-time QR tokens that expire,
// and issued certificates and visit logs in an embedded SQLite database in
// WAL mode, committed (fsync'd) before any 2xx is sent.
//
// A Server is safe for concurrent use; its Handler serves the public API,
// /metrics, /healthz and the fault admin API.
//
// # Threat model
//
// The server is driven by load generators and may be reached through
// proxies (surge's chaos proxy among them), so where a request comes from
// proves nothing: loopback is not an identity. What it trusts:
//
//   - The admin API (faults, seeded credentials) takes the bearer token of
//     Config.AdminToken from anyone, compared in constant time; without a
//     token configured it is off. The token is never logged or answered.
//
//   - An identity request is bound to its user and platform, its SMS code
//     is checked in constant time, and it is confirmed once; five wrong
//     codes lock it and twenty in an hour lock the user, so a six-digit
//     code cannot be guessed by volume. A confirmation takes its guess
//     from both budgets before it waits for the identity stage and gives
//     it back only if the code was right, so guesses sent at once cannot
//     pass a budget none of them has been counted in yet.
//
//   - An identity token is bound to its user and the platform it was
//     checked on, expires, and issues one certificate only.
//
//   - A certificate is answered with the holder's session, sealed (HMAC) to
//     the credential and its holder; a QR is minted only for the session's
//     own credential, named in one field (the wallet on a wallet platform,
//     credential_id on a fetch-proof one; a second field naming another
//     credential is refused), so neither a leaked credential id nor
//     another's wallet mints anybody's QR.
//
//   - A QR token is sealed to its credential and platform, expires after
//     its TTL and admits once (its id is recorded durably).
//
//   - A 2xx means the write is committed: a certificate, the token it used
//     and its place in the key-anchor chain commit in one transaction, or
//     the certificate is recorded pending and anchored on restart and by
//     the upkeep loop (Store.CheckChain verifies the chain).
//
//   - The edge (Edge, HTTPServer) follows each connection's HTTP/1.1
//     framing and refuses, then closes, a request with both
//     Content-Length and Transfer-Encoding, a repeated Content-Length or a
//     folded header, so nothing smuggled behind a body a proxy framed
//     otherwise is served. Past its connection cap it serves /healthz and
//     /metrics from a reserve of its own and refuses the rest at once, so
//     slow clients cannot keep a health check out.
//
// Out of scope: TLS (put a terminating proxy in front), key rotation, and
// denial of service past the profile's own limits, which is what surge
// measures.
package refserver
