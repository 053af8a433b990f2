package replay

import (
	"context"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// A user who gives up with come_back leaves its journey, and its slot (a
// user away for hours holds no --max-users place and no connection), and
// comes back at the time arrival.Plan.Back gives, as the simulator's do:
// it waits on its own goroutine and takes a slot again, keeping its
// variables, cookies and credential.

// away sends u, which left at last.At, off to come back later; false when
// it will not come back today (its journey is over).
func (e *engine) away(u *user, last scenarios.Action) bool {
	next, back := e.plan.Back(&u.walk, u.arrived, last.At)
	e.mu.Lock()
	e.run.Leave(u.arrived+last.At, u.walk.LeftFrom())
	e.mu.Unlock()
	if !back {
		u.count()
		return false
	}
	e.userWG.Add(1)
	go e.comeBack(u, next)
	return true
}

// comeBack waits until u's return and plays it from a slot of the pool.
func (e *engine) comeBack(u *user, next scenarios.Action) {
	ctx := e.usersCtx
	if !u.pause(ctx, e.start.Add(u.arrived+next.At)) {
		u.out.Unfinished++
		e.done(u)
		return
	}
	e.mu.Lock()
	e.run.Count(u.arrived+next.At, results.Users{Returned: 1})
	e.mu.Unlock()
	e.active.Add(1)
	if !e.pool.tryRun(userJob{back: u, next: next}) && !e.pool.wait(ctx, userJob{back: u, next: next}) {
		e.active.Add(-1)
		u.out.Unfinished++
		e.done(u)
	}
}

// resume plays a user's return (on a pool goroutine).
func (e *engine) resume(ctx context.Context, u *user, next scenarios.Action) {
	e.settle(u, u.run(ctx, e.start.Add(u.arrived), next))
}

// done counts a user that came back and was cut by the run's end.
func (e *engine) done(u *user) {
	defer e.userWG.Done()
	e.mu.Lock()
	e.run.Count(u.arrived, u.out)
	e.mu.Unlock()
	e.users.Put(u)
}
