package refserver

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPoolFIFOAndQueueBound(t *testing.T) {
	p := newPool(1, 2, false)
	ctx := context.Background()
	if err := p.acquire(ctx, 0); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 2)
	for i := range 2 {
		go func() {
			if err := p.acquire(ctx, 0); err != nil {
				t.Error(err)
				return
			}
			order <- i
			p.release()
		}()
		waitFor(t, func() bool { _, _, q := p.state(); return q == i+1 })
	}
	if err := p.acquire(ctx, 0); !errors.Is(err, errPoolFull) {
		t.Fatalf("third waiter on a queue of 2: %v, want errPoolFull", err)
	}
	p.release()
	if a, b := <-order, <-order; a != 0 || b != 1 {
		t.Errorf("served %d then %d, want FIFO 0 then 1", a, b)
	}
}

func TestPoolTimeoutAndCancelFreeTheirPlace(t *testing.T) {
	p := newPool(1, 1, false)
	p.acquire(context.Background(), 0)
	if err := p.acquire(context.Background(), 10*time.Millisecond); !errors.Is(err, errPoolTimeout) {
		t.Fatalf("got %v, want errPoolTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { waitFor(t, func() bool { _, _, q := p.state(); return q == 1 }); cancel() }()
	if err := p.acquire(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if l, b, q := p.state(); l != 1 || b != 1 || q != 0 {
		t.Errorf("state = %d/%d/%d, want 1 worker, 1 busy, 0 queued", l, b, q)
	}
}

func TestPoolWaitPolicyWaitsForRoom(t *testing.T) {
	p := newPool(1, 1, true)
	ctx := context.Background()
	p.acquire(ctx, 0)
	go p.acquire(ctx, 0) // fills the queue
	waitFor(t, func() bool { _, _, q := p.state(); return q == 1 })
	done := make(chan error, 1)
	go func() { done <- p.acquire(ctx, time.Second) }()
	p.release() // the queued one runs; the waiting one gets the queue place, then the worker
	p.release()
	if err := <-done; err != nil {
		t.Fatalf("waiting for room: %v", err)
	}
	if _, b, q := p.state(); b != 1 || q != 0 {
		t.Errorf("busy %d queued %d, want the waiter holding the one worker", b, q)
	}
	go p.acquire(ctx, 0) // fills the queue again
	waitFor(t, func() bool { _, _, q := p.state(); return q == 1 })
	if err := p.acquire(ctx, 10*time.Millisecond); !errors.Is(err, errPoolTimeout) {
		t.Fatalf("no room within the timeout: %v, want errPoolTimeout", err)
	}
}

func TestPoolSetLimit(t *testing.T) {
	p := newPool(2, 10, false)
	ctx := context.Background()
	p.acquire(ctx, 0)
	p.acquire(ctx, 0)
	p.setLimit(0) // a capacity drop: in-flight work finishes, nothing new starts
	got := make(chan error, 1)
	go func() { got <- p.acquire(ctx, 0) }()
	waitFor(t, func() bool { _, _, q := p.state(); return q == 1 })
	p.release()
	p.release()
	if _, b, q := p.state(); b != 0 || q != 1 {
		t.Fatalf("after releases under limit 0: busy %d queued %d, want 0 and 1", b, q)
	}
	p.setLimit(3)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPoolAccruesBusyTimeAsItIsSpent: a visit that holds its worker for
// 3 s is credited a second of busy time in each second it holds it, not
// 3 s when it ends (which made a stage of long visits read 366% busy), and
// busy time never exceeds the capacity time, even while a capacity fault
// holds the limit below the work in flight.
func TestPoolAccruesBusyTimeAsItIsSpent(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPool(2, 4, false)
	p.now, p.last = func() time.Time { return now }, now
	ctx := context.Background()
	p.acquire(ctx, 0) // one long visit
	var lastBusy, lastCap float64
	step := func(d time.Duration) (busy, capacity float64) {
		now = now.Add(d)
		b, c := p.accrued()
		busy, capacity = b-lastBusy, c-lastCap
		lastBusy, lastCap = b, c
		return
	}
	for i := range 3 {
		if b, c := step(time.Second); b != 1 || c != 2 {
			t.Errorf("second %d: busy %v of %v worker-seconds, want 1 of 2", i, b, c)
		}
	}
	p.acquire(ctx, 0)
	p.setLimit(1) // a capacity fault: two in flight, one worker
	if b, c := step(time.Second); b != 2 || c != 2 || b > c {
		t.Errorf("over the limit: busy %v of %v, want 2 of 2 (utilisation at most 1)", b, c)
	}
	p.release()
	p.release()
	if b, c := step(time.Second); b != 0 || c != 1 {
		t.Errorf("idle: busy %v of %v, want 0 of 1", b, c)
	}
}
