// Package refserver is surge's reference system under test: a working model
// of the Korean vaccine-pass backend of December 2021 (platform relays,
// identity verification, the KDCA certificate API, the vaccination registry,
// DID signing and key anchoring, the venue visit log), run from a
// capacity.Profile.
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
package refserver
