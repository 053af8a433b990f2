package replay

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// Pausing users never wake before their time, whichever of the waker and
// their timer wakes them, and every one wakes.
func TestPausesEndOnTime(t *testing.T) {
	w, stop := running(newWaker(DefaultSendSlack))
	defer stop()
	var wg sync.WaitGroup
	const users, pauses = 200, 5
	early := make(chan time.Duration, users*pauses)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := &user{e: &engine{waker: w}}
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range pauses {
				// from due already to twice the hand-over ahead
				at := time.Now().Add(time.Duration(r.Int64N(int64(2*handover))) - handover/4)
				if !u.pause(context.Background(), at) {
					t.Error("a pause without a deadline ended as cancelled")
				}
				if now := time.Now(); now.Before(at) {
					early <- at.Sub(now)
				}
			}
		}()
	}
	wg.Wait()
	close(early)
	for d := range early {
		t.Errorf("a user woke %v before its time", d)
	}
}

// A wake-up left over from a pause its timer ended (the waker was slow)
// does not end the user's next pause early.
func TestStaleWakeUpIsIgnored(t *testing.T) {
	if timerSlack == 0 {
		t.Skip("no precise nap on this platform: a pause is its timer alone")
	}
	w := newWaker(0) // not running yet: slow
	u := &user{e: &engine{waker: w}}
	first := time.Now().Add(timerSlack / 2)
	if !u.pause(context.Background(), first) || time.Now().Before(first) {
		t.Fatal("the first pause did not end on its timer at its time")
	}
	if len(w.due) != 1 {
		t.Fatalf("the waker holds %d wake-ups, want the first pause's", len(w.due))
	}
	// The waker wakes up while the second pause waits on it, and delivers
	// the first pause's wake-up, long due, at once.
	second := time.Now().Add(timerSlack)
	var stop func()
	started := make(chan struct{})
	go func() {
		time.Sleep(timerSlack / 8)
		_, stop = running(w)
		close(started)
	}()
	defer func() { <-started; stop() }()
	if !u.pause(context.Background(), second) {
		t.Fatal("the second pause ended as cancelled")
	}
	if now := time.Now(); now.Before(second) {
		t.Fatalf("the second pause ended %v early, on the first pause's wake-up", second.Sub(now))
	}
}

// A pause ends when its context does, and one whose context has ended
// does not start; the waker still stops with a wake-up pending.
func TestPauseCancelled(t *testing.T) {
	w, stop := running(newWaker(DefaultSendSlack))
	u := &user{e: &engine{waker: w}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- u.pause(ctx, time.Now().Add(time.Hour)) }()
	time.Sleep(5 * time.Millisecond)
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Error("an hour's pause ended as if its time had come, after its context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an hour's pause did not end with its context")
	}
	if u.pause(ctx, time.Now().Add(timerSlack/2)) {
		t.Error("a pause with its context ended did not say so")
	}
	w.add(wakeUp{at: time.Now().Add(timerSlack), seq: 1, ch: make(chan uint64, 1)})
	closed := make(chan struct{})
	go func() { stop(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the waker did not stop")
	}
}

// running runs w on its own goroutine, as in the drain; stop ends it.
func running(w *waker) (*waker, func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); w.run(quit) }()
	return w, func() { close(quit); <-done }
}

// The waker wakes the users due, none early, and says when next to: at the
// next user's time, or a slack past it when another is due by then.
func TestWakerWakesDueUsersAndBatches(t *testing.T) {
	t0 := time.Now()
	us := time.Microsecond
	w := newWaker(250 * us)
	chans := map[string]chan uint64{}
	add := func(name string, at time.Duration) {
		chans[name] = make(chan uint64, 1)
		w.add(wakeUp{at: t0.Add(at), seq: 7, ch: chans[name]})
	}
	add("a", 1000*us)
	add("b", 0)
	add("c", 1100*us) // within the slack of a
	add("d", 5000*us)
	if next, ok := w.wake(t0.Add(-us)); !ok || !next.Equal(t0) {
		t.Fatalf("next wake-up %v (ok %v), want b's time", next.Sub(t0), ok)
	}
	for name, ch := range chans {
		if len(ch) > 0 {
			t.Errorf("%s woken before anyone was due", name)
		}
	}
	next, ok := w.wake(t0.Add(10 * us))
	if !ok || !next.Equal(t0.Add(1250*us)) {
		t.Errorf("next wake-up %v, want a's time plus the slack (c is due within it)", next.Sub(t0))
	}
	if len(chans["b"]) != 1 || <-chans["b"] != 7 {
		t.Error("b, due, was not woken with its pause's number")
	}
	for _, name := range []string{"a", "c", "d"} {
		if len(chans[name]) > 0 {
			t.Errorf("%s woken before its time", name)
		}
	}
	if next, _ := w.wake(t0.Add(1250 * us)); !next.Equal(t0.Add(5000 * us)) {
		t.Errorf("next wake-up %v, want d's time (alone: no slack)", next.Sub(t0))
	}
	if len(chans["a"]) != 1 || len(chans["c"]) != 1 || len(chans["d"]) != 0 {
		t.Error("a and c were not woken together, or d was woken early")
	}
	if _, ok := w.wake(t0.Add(time.Second)); ok || len(chans["d"]) != 1 {
		t.Error("the waker kept a user past its time")
	}
}
