package replay

import (
	"context"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
)

// userPool runs users on reusable goroutines, at most max at once. A
// goroutine that finished a user takes the next one, so its grown stack is
// reused instead of growing a fresh one per arrival; idle ones leave after
// poolIdle. Jobs are values, handed over by copy: a closure per arrival
// was most of the generator's garbage.
type userPool struct {
	slots chan struct{} // a token per user running
	jobs  chan userJob  // handed to an idle goroutine
	done  chan struct{}
	run   func(userJob)
}

// userJob is one person of an arrival, or a user coming back (back, at
// its action next).
type userJob struct {
	a      arrival.Arrival
	person int
	back   *user
	next   scenarios.Action
}

const poolIdle = 5 * time.Second

func newUserPool(max int, run func(userJob)) *userPool {
	return &userPool{slots: make(chan struct{}, max), jobs: make(chan userJob), done: make(chan struct{}), run: run}
}

// tryRun starts job if a slot is free.
func (p *userPool) tryRun(job userJob) bool {
	select {
	case p.slots <- struct{}{}:
		p.start(job)
		return true
	default:
		return false
	}
}

// wait waits for a free slot (or ctx) and starts job.
func (p *userPool) wait(ctx context.Context, job userJob) bool {
	select {
	case p.slots <- struct{}{}:
		p.start(job)
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *userPool) start(job userJob) {
	select {
	case p.jobs <- job:
	default:
		go p.worker(job)
	}
}

func (p *userPool) worker(job userJob) {
	idle := time.NewTimer(poolIdle)
	defer idle.Stop()
	for {
		p.run(job)
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
