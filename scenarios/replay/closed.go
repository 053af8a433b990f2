package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/results"
)

// RunClosed plays the scenario's mix as a closed system: users users at
// once, each starting its next journey when the last ends (its journeys
// drawn from the scenario's arrivals, in their order), for d; then the
// users in their journey may finish for cfg.Drain. It is how the
// Universal Scalability Law is measured: the throughput X(N) at a fixed
// concurrency N. There is no intended time a user waits past (a closed
// user sends when it is ready), so latency is the answer's, and the
// scenario's arrival times are not used: only its mix. Give it a scenario
// whose arrivals outnumber what users can play in d.
func RunClosed(ctx context.Context, cfg Config, users int, d time.Duration) (*results.Run, error) {
	if users < 1 {
		return nil, fmt.Errorf("replay: a closed run needs at least one user, have %d", users)
	}
	cfg.MaxUsers = max(cfg.MaxUsers, users)
	if cfg.Bucket <= 0 {
		cfg.Bucket = results.BucketFor(d)
	}
	e, plan, done, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer done()
	e.run.Meta.Planned = d
	e.waker = newWaker(e.cfg.SendSlack)
	stopMonitor, monitorDone := make(chan struct{}), make(chan struct{})
	abort := make(chan results.Abort, 1)
	go func() { defer close(monitorDone); e.monitor(plan, stopMonitor, abort) }()
	wakerDone := make(chan struct{})
	journeysDone := make(chan struct{})
	go func() { defer close(wakerDone); e.waker.run(journeysDone) }()

	play, stopPlay := context.WithTimeout(ctx, d)
	defer stopPlay()
	cut, cutUsers := context.WithCancel(context.Background())
	defer cutUsers()
	finished := e.closedLoop(play, cut, plan.Schedule(e.cfg.Seed), users)
	<-play.Done()
	e.draining.Store(true)
	select {
	case <-finished:
	case <-time.After(e.cfg.Drain):
		e.event("cut", fmt.Sprintf("%d users still in their journey after the %v drain", e.active.Load(), e.cfg.Drain))
		cutUsers()
		e.load.Cut()
		<-finished
	}
	close(journeysDone)
	<-wakerDone
	close(stopMonitor)
	<-monitorDone
	e.run.Meta.Elapsed = time.Since(e.start)
	e.run.Generator.MaxInFlight = e.mostActive.Load()
	e.run.Generator.MaxHeld = e.mostHeld.Load()
	e.run.Meta.Ended, e.run.Meta.Complete = "done", ctx.Err() == nil
	if ctx.Err() != nil {
		e.run.Meta.Ended = "interrupted"
	}
	return e.run, nil
}

// closedLoop runs users loops, each starting the schedule's next journey as
// soon as its last one ends, until play ends; the channel closes when every
// loop has returned.
func (e *engine) closedLoop(play, cut context.Context, sched *arrival.Schedule, users int) <-chan struct{} {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range users {
		wg.Go(func() {
			for play.Err() == nil {
				mu.Lock()
				a, ok := sched.Next()
				mu.Unlock()
				if !ok {
					return
				}
				now := time.Now()
				a.At, a.Party = now.Sub(e.start), 1
				e.arrived()
				e.serve(cut, a, 0, now)
				e.active.Add(-1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	return finished
}
