package refserver

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

var (
	errPoolFull    = errors.New("refserver: stage queue full")
	errPoolTimeout = errors.New("refserver: no worker within the queue timeout")
)

// pool is a FIFO counting semaphore: limit workers, at most maxQueue
// waiters. The limit can change while requests are in flight (a capacity
// fault); waiters are then admitted, or new arrivals held back, as needed.
//
// It accrues its busy time as it is spent: whenever busy or limit changes
// (and when read), the time since the last change is credited at the busy
// count of that stretch, so a reading of busy seconds never includes work
// still to be done, and never runs ahead of the capacity seconds (the
// integral of max(limit, busy)): utilisation over any stretch is at most 1.
type pool struct {
	mu       sync.Mutex
	limit    int
	busy     int
	maxQueue int
	wait     bool // when the queue is full: wait for room (true) or shed (false)
	waiters  list.List
	room     *sync.Cond // signalled when the queue gets a free place

	now               func() time.Time
	last              time.Time // when busy or limit last changed
	busySec, capacity float64   // worker-seconds spent busy, and available
}

func newPool(workers, maxQueue int, wait bool) *pool {
	p := &pool{limit: workers, maxQueue: maxQueue, wait: wait, now: time.Now}
	p.room = sync.NewCond(&p.mu)
	p.last = p.now()
	return p
}

// accrue credits the stretch since the last change (p.mu held); call it
// before busy or limit changes.
func (p *pool) accrue() {
	now := p.now()
	if dt := now.Sub(p.last).Seconds(); dt > 0 {
		p.busySec += float64(p.busy) * dt
		p.capacity += float64(max(p.limit, p.busy)) * dt
	}
	p.last = now
}

// accrued is the busy and the capacity worker-seconds up to now.
func (p *pool) accrued() (busy, capacity float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accrue()
	return p.busySec, p.capacity
}

// acquire takes a worker, queueing FIFO for up to timeout (0: no limit
// but ctx). It returns errPoolFull, errPoolTimeout or ctx's error.
func (p *pool) acquire(ctx context.Context, timeout time.Duration) error {
	p.mu.Lock()
	if p.busy < p.limit && p.waiters.Len() == 0 {
		p.accrue()
		p.busy++
		p.mu.Unlock()
		return nil
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	if p.waiters.Len() >= p.maxQueue {
		if !p.wait {
			p.mu.Unlock()
			return errPoolFull
		}
		if err := p.waitForRoom(ctx, deadline); err != nil {
			p.mu.Unlock()
			return err
		}
		if p.busy < p.limit && p.waiters.Len() == 0 {
			p.accrue()
			p.busy++
			p.mu.Unlock()
			return nil
		}
	}
	ready := make(chan struct{})
	elem := p.waiters.PushBack(ready)
	p.mu.Unlock()

	var err error
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-deadline:
		err = errPoolTimeout
	}
	p.mu.Lock()
	select {
	case <-ready: // granted while we were giving up: hand the worker on
		p.accrue()
		p.busy--
		p.grant()
	default:
		p.waiters.Remove(elem)
		p.room.Signal()
	}
	p.mu.Unlock()
	return err
}

// waitForRoom blocks (p.mu held) until the queue has a free place, ctx is
// done or the deadline passes. sync.Cond cannot select, so a helper
// goroutine turns cancellation into a broadcast.
func (p *pool) waitForRoom(ctx context.Context, deadline <-chan time.Time) error {
	stop := make(chan struct{})
	var gaveUp error
	go func() {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			gaveUp = ctx.Err()
		case <-deadline:
			p.mu.Lock()
			gaveUp = errPoolTimeout
		case <-stop:
			return
		}
		p.room.Broadcast()
		p.mu.Unlock()
	}()
	defer close(stop)
	for p.waiters.Len() >= p.maxQueue && gaveUp == nil {
		p.room.Wait()
	}
	return gaveUp
}

// release returns a worker and admits the next waiter if there is room.
func (p *pool) release() {
	p.mu.Lock()
	p.accrue()
	p.busy--
	p.grant()
	p.mu.Unlock()
}

// grant admits waiters, in order, while workers are free (p.mu held).
func (p *pool) grant() {
	for p.busy < p.limit && p.waiters.Len() > 0 {
		front := p.waiters.Front()
		p.waiters.Remove(front)
		p.accrue()
		p.busy++
		close(front.Value.(chan struct{}))
		p.room.Signal()
	}
}

// setLimit changes the number of workers; in-flight work is not cut short.
func (p *pool) setLimit(n int) {
	p.mu.Lock()
	p.accrue()
	p.limit = n
	p.grant()
	p.mu.Unlock()
}

// state reports workers, busy workers and queued requests.
func (p *pool) state() (limit, busy, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limit, p.busy, p.waiters.Len()
}
