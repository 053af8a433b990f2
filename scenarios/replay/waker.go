package replay

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The end of a user's pause (a think time, a backoff) is the intended time
// of its next send, and a send is late by however late the user wakes. Go's
// timers wake up to a millisecond late when the process waits on the
// network: the poller waits in whole milliseconds. At lunch's thirty
// requests a second that made sends late by p99 1.1 ms, and at 4,500 a
// second with think times as well, while the dispatcher, which naps the last stretch
// of each wait, sent arrivals on time.
//
// So a pausing user sleeps on its timer until handover before its time
// and then hands itself to the waker. While arrivals last, the dispatcher
// wakes such users in the naps it takes anyway (one napping thread, not
// two: a nap costs about as much CPU as a request on this machine); during
// the drain, the waker's own goroutine does. The user's timer stays set for
// the time itself: if neither comes in time (the dispatcher waiting for a
// free user under --max-users), the timer wakes the user as before.

// waker holds the pausing users within handover of their times.
type waker struct {
	mu    sync.Mutex
	due   wakeHeap
	poke  chan struct{}
	slack time.Duration
	n     atomic.Int32 // len(due), read without the lock: usually none is due
}

// wakeUp is a user due at at; seq tells its pause from the user's earlier
// ones, whose wake-ups may still come after the user's timer woke it.
type wakeUp struct {
	at  time.Time
	seq uint64
	ch  chan uint64
}

// handover is how long before its time a pausing user's timer hands it
// to the waker. The timer wakes up to a millisecond late, so the user is
// with the waker at least timerSlack before its time, before any nap
// toward an earlier time has begun: a nap is at most timerSlack, and the
// waits before it are cut short when a user is handed over.
const handover = 2 * timerSlack

// newWaker is a waker whose wake-ups may go out up to slack late when
// others are due within the slack: one nap for them all, as the
// dispatcher's sends (Config.SendSlack).
func newWaker(slack time.Duration) *waker {
	return &waker{poke: make(chan struct{}, 1), slack: slack}
}

// wake wakes the users due by now and says when next to: at the next
// user's time, or up to slack past it when another is due by then.
func (w *waker) wake(now time.Time) (next time.Time, ok bool) {
	if w.n.Load() == 0 {
		return time.Time{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.due) > 0 && !w.due[0].at.After(now) {
		select {
		case w.due[0].ch <- w.due[0].seq:
		default: // its user woke on its timer and left an earlier wake-up unread: the timer will do
		}
		heap.Pop(&w.due)
		w.n.Add(-1)
	}
	if len(w.due) == 0 {
		return time.Time{}, false
	}
	next = w.due[0].at
	for _, c := range w.due[1:min(3, len(w.due))] { // the next earliest is a child of the root
		if c.at.Sub(next) <= w.slack {
			return next.Add(w.slack), true
		}
	}
	return next, true
}

// run wakes users on its own until stop is closed and none is left (the
// drain, once the dispatcher is done), as the dispatcher does: on a timer
// until timerSlack before the next, then a nap.
func (w *waker) run(stop <-chan struct{}) {
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	stopping := false
	for {
		now := time.Now()
		next, ok := w.wake(now)
		if !ok && stopping {
			return
		}
		var tick <-chan time.Time
		switch d := next.Sub(now); {
		case !ok:
		case d <= 0:
			continue
		case d <= timerSlack:
			nap(d) // the dispatcher is done: the only nap
			continue
		default:
			wait.Reset(d - timerSlack)
			tick = wait.C
		}
		select {
		case <-w.poke:
		case <-tick:
		case <-stop: // once the users left are woken
			stopping, stop = true, nil
		}
	}
}

// add hands the waker a user due at at.
func (w *waker) add(x wakeUp) {
	w.mu.Lock()
	heap.Push(&w.due, x)
	w.n.Add(1)
	w.mu.Unlock()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// wakeHeap is a min-heap of wake-ups by time (container/heap).
type wakeHeap []wakeUp

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeUp)) }
func (h *wakeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = wakeUp{}
	*h = old[:len(old)-1]
	return x
}

// pause is a user's wait until t: on its timer until handover before t,
// then on the waker. False if ctx ended first.
func (u *user) pause(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 || ctx.Err() != nil {
		return ctx.Err() == nil
	}
	w := u.e.waker
	if u.timer == nil {
		u.timer = time.NewTimer(time.Hour)
		u.woken = make(chan uint64, 1)
	}
	if d > handover {
		u.timer.Reset(d - handover)
		select {
		case <-u.timer.C:
		case <-ctx.Done():
			u.timer.Stop()
			return false
		}
		if d = time.Until(t); d <= 0 {
			return true
		}
	}
	u.timer.Reset(d) // in case the waker is slow
	select {
	case <-u.woken: // an earlier pause's, which the timer ended
	default:
	}
	u.seq++
	w.add(wakeUp{at: t, seq: u.seq, ch: u.woken})
	for {
		select {
		case seq := <-u.woken:
			if seq != u.seq {
				continue // an earlier pause's, which the timer ended
			}
			u.timer.Stop()
		case <-u.timer.C:
		case <-ctx.Done():
			u.timer.Stop()
			return false
		}
		return true
	}
}
