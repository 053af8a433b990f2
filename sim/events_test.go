package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The queue hands events back in (t, seq) order while a clock pops and
// pushes as the simulator does: never before the last popped, with ties
// in t (zero delays) and bursts.
func TestQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	q := eventQueue{}
	var seq uint64
	var now float64
	var popped []event
	push := func(at float64) {
		if q.Len() > 0 && r.IntN(2) == 0 {
			q.peek() // the simulator looks before it pushes (to compare with the lanes)
		}
		q.push(event{t: at, key: seq << 8})
		seq++
	}
	for range 1000 {
		push(r.Float64())
	}
	for range 200_000 {
		if q.Len() == 0 || r.IntN(3) > 0 {
			switch r.IntN(6) {
			case 5:
				push(now + r.ExpFloat64()*200) // minutes ahead: past the calendar's horizon at times
			case 0:
				push(now) // a zero delay
			case 4:
				push(now + r.Float64()*1e-4) // within a few ticks (events.go)
			case 1:
				for range r.IntN(50) { // a burst at one instant
					push(now + 0.5)
				}
			default:
				push(now + r.ExpFloat64())
			}
			continue
		}
		e := q.pop()
		if e.t < now {
			t.Fatalf("popped t=%v after the clock reached %v", e.t, now)
		}
		now = e.t
		popped = append(popped, e)
	}
	for q.Len() > 0 {
		popped = append(popped, q.pop())
	}
	if !slices.IsSortedFunc(popped, func(a, b event) int {
		if less(a, b) {
			return -1
		}
		return 1
	}) {
		t.Fatal("events did not come out in (t, seq) order")
	}
	if uint64(len(popped)) != seq {
		t.Fatalf("pushed %d events, popped %d", seq, len(popped))
	}
}

// BenchmarkQueue is the hold model at the size of the national 1:1 run's
// queue (84k events pending): pop the earliest, push one a random delay later.
func BenchmarkQueue(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	q := eventQueue{}
	var seq uint64
	for range 84_000 {
		q.push(event{t: r.ExpFloat64(), key: seq << 8})
		seq++
	}
	for b.Loop() {
		e := q.pop()
		q.push(event{t: e.t + r.ExpFloat64(), key: seq << 8})
		seq++
	}
}

// A burst at one instant (a hundred thousand arrivals, a stall released)
// comes out in sequence order, and each event pushed while it drains,
// dated before the burst's end, comes out in its place.
func TestQueueBurst(t *testing.T) {
	q := eventQueue{}
	var seq uint64
	push := func(at float64) { q.push(event{t: at, key: seq << 8}); seq++ }
	push(0.5)
	q.pop() // the clock at 0.5
	for range 100_000 {
		push(1)
	}
	var popped []event
	for i := 0; q.Len() > 0; i++ {
		e := q.pop()
		popped = append(popped, e)
		if i%2 == 0 && e.t == 1 && i < 100_000 {
			push(1) // a zero delay: after the burst's others
		}
	}
	if !slices.IsSortedFunc(popped, cmpEvents) {
		t.Fatal("the burst did not come out in (t, seq) order")
	}
	if uint64(len(popped)) != seq-1 {
		t.Fatalf("popped %d of %d events", len(popped), seq-1)
	}
}
