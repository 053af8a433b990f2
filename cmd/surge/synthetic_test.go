package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// lunchRequests are lunch.yaml's requests, the names synthetic runs record.
var lunchRequests = []string{"qr", "checkin", "identity.request", "identity.confirm", "certificate.issue", "reverify"}

// recordSynthetic records n answers into run, at times over the first
// span of the run, each of one of names: latencies lognormal about 50 ms
// over four decades (what makes histograms large, more than counts), one
// in fifty a timeout, each its own user who completes.
func recordSynthetic(run *results.Run, r *rand.Rand, names []string, n int, span time.Duration) {
	for range n {
		at := time.Duration(r.Int64N(int64(span)))
		lat := time.Duration(math.Exp(r.NormFloat64()*1.5) * float64(50*time.Millisecond))
		o := results.Outcome{At: at, Corrected: lat, Service: lat, First: true}
		if r.IntN(50) == 0 {
			o.Err = "timeout"
		}
		run.Record(names[r.IntN(len(names))], o)
		run.Count(at, results.Users{Arrived: 1, Completed: 1})
	}
}
