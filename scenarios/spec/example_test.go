package spec_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/surgekit/surge/scenarios/spec"
)

// A think time or service time is written in the notation and read with
// ParseDist; its mean, a quantile and seeded draws follow.
func ExampleParseDist() {
	d, err := spec.ParseDist("lognormal(median=5m, p90=15m)")
	if err != nil {
		panic(err)
	}
	fmt.Println(d, "mean", d.Mean().Round(1e9), "p50", d.Quantile(0.5).Round(1e9))
	rng := rand.New(rand.NewPCG(1, 2))
	fmt.Println(d.Sample(rng).Round(1e9), d.Sample(rng).Round(1e9))
	_, err = spec.ParseDist("uniform(8s, 2s)")
	fmt.Println(err)
	// Output:
	// lognormal(median=5m0s, p90=15m0s) mean 7m13s p50 5m0s
	// 6m55s 5m20s
	// distribution "uniform(8s, 2s)": hi 2s is below lo 8s
}
