package results_test

import (
	"fmt"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// Runs recorded by two shards (or two workers) merge exactly: counts add,
// and the histograms merge bucket by bucket, so the percentiles are those
// of one run that saw every answer.
func ExampleRun_Merge() {
	a := results.New(results.Meta{Bucket: time.Second, Shard: 0, Shards: 2})
	b := results.New(results.Meta{Bucket: time.Second, Shard: 1, Shards: 2})
	for i := range 100 {
		a.Record("qr", results.Outcome{At: time.Duration(i) * 10 * time.Millisecond, First: true, Corrected: 20 * time.Millisecond})
		b.Record("qr", results.Outcome{At: time.Duration(i) * 10 * time.Millisecond, First: true, Corrected: 200 * time.Millisecond})
	}
	a.Merge(b)
	qr := a.Endpoints["qr"].Total
	fmt.Println(qr.Attempted, "attempts; p50", qr.Latency.Percentile(50), "p99", qr.Latency.Percentile(99))
	// Output:
	// 200 attempts; p50 20.015ms p99 200.063ms
}
