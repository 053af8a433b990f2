// Package results holds what a run (or a simulated run) measured, and the
// run directory's results format.
//
// A Run has, per request name (endpoint), a Series for the whole run and one
// per time bucket: how many steps were offered (first attempts), attempted
// (every send, retries included) and succeeded, errors by kind, and two HDR
// histograms of latency in microseconds (1 us to 1 h): the corrected one,
// measured from each request's intended send time (so a stalled server's
// queueing is not hidden: coordinated omission), and the uncorrected one,
// from the actual send. Histograms merge exactly, so shards of a run and
// the engine's per-worker recorders add up to the whole.
//
// On disk a Run is results.json, a JSON object with "format":
// "surge-results" and an integer "version" (this package writes Version);
// histograms are base64 HDR V2 compressed encodings, readable by any HDR
// library. A Run is not safe for concurrent use: give each goroutine its
// own and Merge them.
package results
