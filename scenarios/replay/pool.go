package replay

import (
	"context"
	"time"
)

// userPool runs users on reusable goroutines, at most max at once. A
// goroutine that finished a user takes the next one, so its grown stack is
// reused instead of growing a fresh one per arrival; idle ones leave after
// poolIdle.
type userPool struct {
	slots chan struct{} // a token per user running
	jobs  chan func()   // handed to an idle goroutine
	done  chan struct{}
}

const poolIdle = 5 * time.Second

func newUserPool(max int) *userPool {
	return &userPool{slots: make(chan struct{}, max), jobs: make(chan func()), done: make(chan struct{})}
}

// tryRun starts job if a slot is free.
func (p *userPool) tryRun(job func()) bool {
	select {
	case p.slots <- struct{}{}:
		p.start(job)
		return true
	default:
		return false
	}
}

// run waits for a free slot (or ctx) and starts job.
func (p *userPool) run(ctx context.Context, job func()) bool {
	select {
	case p.slots <- struct{}{}:
		p.start(job)
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *userPool) start(job func()) {
	select {
	case p.jobs <- job:
	default:
		go p.worker(job)
	}
}

func (p *userPool) worker(job func()) {
	idle := time.NewTimer(poolIdle)
	defer idle.Stop()
	for {
		job()
		<-p.slots
		idle.Reset(poolIdle)
		select {
		case job = <-p.jobs:
		case <-idle.C:
			return
		case <-p.done:
			return
		}
	}
}

// close lets idle goroutines go (running users finish first).
func (p *userPool) close() { close(p.done) }
