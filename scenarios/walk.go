package scenarios

import (
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// Walker is one user's journey as a sequence of decisions, independent of
// time and transport: the live engine drives it with real requests and
// sleeps, the simulator with events on a virtual clock, so a prediction and
// a measurement follow the very same behaviour. Times are offsets from the
// user's arrival. A Walker draws only from the source it is given.
type Walker struct {
	// The fields every answer reads come first: a simulator holds tens of
	// thousands of walkers, and the fewer cache lines one answer touches,
	// the faster it runs (a simulator's user with its walker is three).
	s        *Scenario
	rng      rand.Rand // over the source Reset was given
	steps    []Step
	i        int32
	attempt  int32
	at       time.Duration // the walker's clock: the last answer, plus planned pauses
	deadline time.Duration // patience; 0: none
	Platform string
	// wanted are the requests attempted at least once, by their bit (Step.bit);
	// more, those with none, by name.
	wanted uint64
	Counts UserCounts
	back   uint8 // whether the user came back later (BackNone, ...)
	// leftImpatient: it left to come back because its patience ran out
	leftImpatient bool
	more          *[]string
}

// Whether a user came back later (the come_back decision), in order.
const (
	BackNone      uint8 = iota
	BackAway            // it left, to come back
	BackGone            // it left, and the day ended before it would come back
	BackReturned        // it came back
	BackCompleted       // it came back and completed its journey
)

// LeftFrom is the request a user who just left (Action.Away) gave up on,
// or OutOfPatience.
func (w *Walker) LeftFrom() string {
	if w.leftImpatient || int(w.i) >= len(w.steps) {
		return OutOfPatience
	}
	return w.steps[w.i].Request
}

// OutOfPatience is LeftFrom for a user whose patience ran out.
const OutOfPatience = "out of patience"

// Back says whether the user came back (BackNone, BackAway, ...).
func (w *Walker) Back() uint8 { return w.back }

// UserCounts are what became of a user (see results.Users).
type UserCounts struct {
	Completed, Abandoned, Manual, Impatient, Switched, Reinstall, KeptTrying int32
}

// Action is what the user does next: at At (an offset from its arrival) it
// sends Step, or, when Step is nil, its journey is over.
type Action struct {
	At    time.Duration
	Step  *Step
	First bool // the user's first attempt at this request (the demand)
	// Reset says the user reinstalled: every variable but the user and the
	// venue is gone, and Journey changed.
	Reset bool
	// Away says the user left at At to come back later: the engine asks
	// arrival.Plan.Back for its next action.
	Away bool
}

// NewWalker starts a user on a journey; its patience is drawn now.
func NewWalker(s *Scenario, journey, platform string, rng *rand.Rand) *Walker {
	w := &Walker{}
	w.Reset(s, journey, platform, rng)
	return w
}

// Reset makes w a new user's walker, as NewWalker does, reusing its memory
// (a simulator plays millions of users through a few thousand walkers).
func (w *Walker) Reset(s *Scenario, journey, platform string, rng *rand.Rand) {
	*w = Walker{s: s, rng: *rng, Platform: platform, steps: s.Journeys[journey], more: w.more}
	if w.more != nil {
		*w.more = (*w.more)[:0]
	}
	if p := s.Behaviour.Patience; p != nil {
		w.deadline = max(p.Sample(&w.rng), time.Nanosecond)
	}
}

// Journey is the journey the user is on (it changes on a reinstall).
func (w *Walker) Journey() string {
	for name, steps := range w.s.Journeys {
		if len(steps) > 0 && len(w.steps) > 0 && &steps[0] == &w.steps[0] {
			return name
		}
	}
	return ""
}

// Start is the user's first action.
func (w *Walker) Start() Action { return w.next(false) }

// After reports the answer to the last sent step (kind "" for success) at
// offset now, and returns the next action.
func (w *Walker) After(kind string, now time.Duration) Action {
	w.at = now
	st := &w.steps[w.i]
	if kind == "" {
		w.i, w.attempt = w.i+1, 0
		return w.next(false)
	}
	if i, ok := w.restart(st, kind); ok {
		w.i, w.attempt = i, 0
		return w.next(false)
	}
	if int(w.attempt) < w.attempts(st) && w.retried(kind) {
		w.at += w.s.Behaviour.Retry.Backoff.Sample(&w.rng)
		return w.next(false)
	}
	b := w.s.Behaviour
	switch w.giveUp() {
	case GiveUpSwitch:
		w.Counts.Switched++
		w.Platform = w.switchTo()
		w.i, w.attempt = 0, 0
	case GiveUpKeepTrying:
		w.Counts.KeptTrying++
		w.attempt = 0
		w.at += draw(b.KeepTryingAfter, &w.rng)
	case GiveUpReinstall:
		w.Counts.Reinstall++
		w.steps = w.s.Journeys[b.ReinstallJourney]
		w.i, w.attempt = 0, 0
		w.at += draw(b.ReinstallTime, &w.rng)
		return w.next(true)
	case GiveUpManual:
		w.Counts.Manual++
		return Action{At: w.at}
	case GiveUpComeBack:
		if w.back != BackNone { // a user comes back once: the second time it leaves for good
			w.Counts.Abandoned++
			return Action{At: w.at}
		}
		w.back = BackAway
		return Action{At: w.at, Away: true}
	default:
		w.Counts.Abandoned++
		return Action{At: w.at}
	}
	return w.next(false)
}

// ComeBackAt is the clock at which the user, who left at clock left, comes
// back (Scenario.ComeBackAt, drawn from the walker's source); false: not
// within the day.
func (w *Walker) ComeBackAt(left Clock) (Clock, bool) { return w.s.ComeBackAt(left, &w.rng) }

// Return is the first action of the user coming back at offset at: the
// step that failed (or the one its restart_from names for come_back), with
// fresh attempts and fresh patience.
func (w *Walker) Return(at time.Duration) Action {
	w.back, w.at, w.attempt = BackReturned, at, 0
	if int(w.i) < len(w.steps) {
		if i, ok := w.restart(&w.steps[w.i], GiveUpComeBack); ok { // restart_from: {come_back: ...}
			w.i = i
		}
	}
	if p := w.s.Behaviour.Patience; p != nil {
		w.deadline = at + max(p.Sample(&w.rng), time.Nanosecond)
	}
	return w.next(false)
}

// Gone ends the journey of a user who left and will not come back today:
// it has abandoned.
func (w *Walker) Gone() Action {
	w.back = BackGone
	w.Counts.Abandoned++
	return Action{At: w.at}
}

// next walks think steps to the next request, or ends the journey; a
// pause that runs past the user's patience ends it at the deadline.
func (w *Walker) next(reset bool) Action {
	for int(w.i) < len(w.steps) && w.steps[w.i].Think != nil {
		w.at += w.steps[w.i].Think.Sample(&w.rng)
		w.i++
	}
	if w.deadline > 0 && w.at > w.deadline {
		// Running out of patience is giving up too: as many come back later.
		if share := w.s.Behaviour.GiveUp[GiveUpComeBack]; share > 0 && w.back == BackNone && w.rng.Float64() < float64(share) {
			w.back, w.leftImpatient = BackAway, true
			return Action{At: w.deadline, Away: true}
		}
		w.Counts.Impatient++
		return Action{At: w.deadline}
	}
	if int(w.i) == len(w.steps) {
		w.Counts.Completed++
		if w.back == BackReturned {
			w.back = BackCompleted
		}
		return Action{At: w.at}
	}
	st := &w.steps[w.i]
	w.attempt++
	// A retry of this step (attempt 2 on) was wanted at its attempt 1.
	first := w.attempt == 1 && w.want(st)
	return Action{At: w.at, Step: st, First: first, Reset: reset}
}

// want notes that the user attempts st's request; true the first time.
func (w *Walker) want(st *Step) bool {
	if st.bit != 0 {
		had := w.wanted&st.bit != 0
		w.wanted |= st.bit
		return !had
	}
	if w.more == nil {
		w.more = new([]string)
	}
	if slices.Contains(*w.more, st.Request) {
		return false
	}
	*w.more = append(*w.more, st.Request)
	return true
}

func draw(d *spec.Dist, r *rand.Rand) time.Duration {
	if d == nil {
		return 0
	}
	return d.Sample(r)
}

func (w *Walker) attempts(st *Step) int {
	if st.Attempts > 0 {
		return st.Attempts
	}
	return max(1, w.s.Behaviour.Retry.Attempts)
}

func (w *Walker) retried(kind string) bool {
	return Retries(w.s.Behaviour.Retry.On, kind)
}

// restart is the step a failure of kind at st sends the user back to, if any.
func (w *Walker) restart(st *Step, kind string) (int32, bool) {
	if st.restart == nil && len(st.RestartFrom) > 0 { // (a scenario made in code: see tabulate)
		to, ok := st.RestartFrom[kind]
		if !ok {
			return 0, false
		}
		return int32(slices.IndexFunc(w.steps[:w.i], func(s Step) bool { return s.Request == to })), true
	}
	for _, r := range st.restart {
		if r.kind == kind {
			return r.to, true
		}
	}
	return 0, false
}

// giveUp draws the user's decision (abandon when the scenario gives none).
func (w *Walker) giveUp() string {
	if t := w.s.giveUp; t != nil {
		x := w.rng.Float64()
		for _, d := range t {
			if x < d.upTo {
				return d.decision
			}
		}
		return t[len(t)-1].decision
	}
	g := w.s.Behaviour.GiveUp
	if len(g) == 0 {
		return GiveUpAbandon
	}
	x, acc, last := w.rng.Float64(), 0.0, ""
	for _, k := range giveUpOrder { // the decisions validation allows, sorted: no sort per call
		share, ok := g[k]
		if !ok {
			continue
		}
		acc, last = acc+float64(share), k
		if x < acc {
			return k
		}
	}
	return last
}

// giveUpOrder is every give-up decision, in sorted order.
var giveUpOrder = []string{GiveUpAbandon, GiveUpComeBack, GiveUpKeepTrying, GiveUpManual, GiveUpReinstall, GiveUpSwitch}

// switchTo is the platform a switching user moves to.
func (w *Walker) switchTo() string {
	sw := w.s.Behaviour.SwitchTo
	if to, ok := sw[w.Platform]; ok {
		return to
	}
	if to, ok := sw["*"]; ok && to != w.Platform {
		return to
	}
	var others []string
	for p := range w.s.Platforms {
		if p != w.Platform {
			others = append(others, p)
		}
	}
	sort.Strings(others)
	if len(others) == 0 {
		return w.Platform
	}
	return others[w.rng.IntN(len(others))]
}
