package queueing_test

import (
	"fmt"
	"time"

	"github.com/surgekit/surge/sim/queueing"
)

// Erlang C: 10 servers offered 8 erlangs wait this often; Size finds the
// fewest servers for 800 requests per second of 10 ms each under a p99.
func ExampleSize() {
	pw, _ := queueing.ErlangC(10, 8)
	fmt.Printf("P(wait) with 10 servers at 8 erlangs: %.4f\n", pw)
	slo, err := queueing.ParseSLO("p99<=50ms")
	if err != nil {
		panic(err)
	}
	z, err := queueing.Size(800, 10*time.Millisecond, []queueing.SLO{slo}, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(z.Servers, "servers", z.Model, z.AtN)
	// Output:
	// P(wait) with 10 servers at 8 erlangs: 0.4092
	// 10 servers M/M/c (Erlang C) map[p99<=50ms:0.049461114]
}
