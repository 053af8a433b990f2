package scenarios_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/surgekit/surge/scenarios"
)

// A Walker is one user's journey as decisions, whatever drives it (the
// live engine or the simulator): Start gives the first request, After each
// answer (by its error kind, "" for success) the next one.
func ExampleWalker() {
	s, err := scenarios.Load("lunch.yaml")
	if err != nil {
		panic(err)
	}
	w := scenarios.NewWalker(s, "returning", "kakao", rand.New(rand.NewPCG(1, 1)))
	a := w.Start()
	for _, kind := range []string{"", "expired_qr", "", ""} {
		if a.Step == nil {
			break
		}
		fmt.Printf("at %v: %s (first %v)\n", a.At.Round(time.Millisecond), a.Step.Request, a.First)
		a = w.After(kind, a.At+50*time.Millisecond)
	}
	fmt.Println("done:", a.Step == nil)
	// Output:
	// at 0s: qr (first true)
	// at 11.24s: checkin (first true)
	// at 11.29s: qr (first false)
	// at 21.799s: checkin (first false)
	// done: true
}
