package arrival

import (
	"container/heap"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/spec"
)

// Arrival is one party arriving.
type Arrival struct {
	At       time.Duration   // on the played timeline, from the run's start
	Clock    scenarios.Clock // on the scenario's clock
	Stream   int             // 0: the main arrivals; i: extra_arrivals[i-1]
	Cohort   string          // the cohort (main stream) or the stream's name
	Journey  string
	Platform string
	Party    int // people arriving together; 1 without parties
	Seq      uint64
	// People are the people who arrived before this arrival in the whole
	// schedule (every shard's): the arrival's people are numbered People,
	// People+1 ... across the run, whichever shard plays them.
	People uint64
}

// A user's random streams, one per purpose: a draw for one never moves
// another's. The simulator draws no venue and no credential, so were they
// drawn from the walker's stream a user would think, retry and give up
// differently in the two worlds; each purpose on its own stream, the same
// seed plays the same user in both.
const (
	StreamWalker   Stream = iota // its journey's decisions: patience, think times, retries, give-ups
	StreamIdentity               // who it is: its venue, its credential (live only)
	StreamFaults                 // the client-side faults: which of its requests one takes, how long it delays them
)

// Stream names a purpose a user draws random numbers for.
type Stream uint64

// UserSeed seeds the random stream of this arrival's person-th person for
// a purpose under the run's seed. The live engine and the simulator both
// seed a user's streams by it. The walker's stream is the one surge has
// always seeded (its simulated figures did not move when the others were
// split from it).
func (a Arrival) UserSeed(seed uint64, person int, stream Stream) (uint64, uint64) {
	return seed ^ 0x5eed5eed ^ uint64(stream)*0x9e3779b97f4a7c15, a.Seq<<8 | uint64(person)
}

// Schedule yields a plan's arrivals in time order. It is not safe for
// concurrent use.
type Schedule struct {
	p      *Plan
	queue  cursorHeap
	seq    uint64
	people uint64
	shard  uint64
	shards uint64
}

// cursor walks one stream's arrivals.
type cursor struct {
	k       int
	rng     *rand.Rand
	s       float64 // the unit-rate process so far
	seg     int
	next    float64 // played seconds of the next arrival
	poisson bool
}

// Schedule starts the arrivals drawn with seed. Every random draw of a
// stream comes from its own source, seeded by (seed, stream index).
func (p *Plan) Schedule(seed uint64) *Schedule { return p.Shard(seed, 0, 1) }

// Shard is the schedule of shard i of n: the arrivals whose sequence
// number is i modulo n, so n shards together play the whole schedule.
func (p *Plan) Shard(seed uint64, i, n int) *Schedule {
	sc := &Schedule{p: p, shard: uint64(i), shards: uint64(max(n, 1))}
	poisson := p.s.Arrivals.Process != scenarios.ProcessUniform
	for k := range p.streams {
		c := &cursor{k: k, rng: rand.New(rand.NewPCG(seed, uint64(k)+1)), poisson: poisson}
		if p.advance(c) {
			heap.Push(&sc.queue, c)
		}
	}
	return sc
}

// advance moves a cursor to its stream's next arrival; false when done.
func (p *Plan) advance(c *cursor) bool {
	if c.poisson {
		c.s += c.rng.ExpFloat64()
	} else if c.s == 0 {
		c.s = 0.5 // uniform: arrivals at the middle of each unit of Lambda
	} else {
		c.s++
	}
	target := c.s
	if pt := p.streams[c.k].party; pt != nil {
		target = c.s * pt.Mean // parties come at rate/mean: the party process is Lambda/mean
	}
	t, ok := p.invert(c.k, target, &c.seg)
	c.next = t
	return ok
}

// People counts the people of the whole schedule drawn with seed (every
// shard's).
func (p *Plan) People(seed uint64) uint64 {
	sc := p.Schedule(seed)
	for _, ok := sc.Next(); ok; _, ok = sc.Next() {
	}
	return sc.people
}

// Next returns the next arrival; false when the schedule is over.
func (sc *Schedule) Next() (Arrival, bool) {
	for sc.queue.Len() > 0 {
		c := sc.queue[0]
		a := sc.p.arrival(c)
		a.Seq, a.People = sc.seq, sc.people
		sc.seq++
		sc.people += uint64(a.Party)
		if sc.p.advance(c) {
			heap.Fix(&sc.queue, 0)
		} else {
			heap.Pop(&sc.queue)
		}
		if a.Seq%sc.shards == sc.shard {
			return a, true
		}
	}
	return Arrival{}, false
}

// arrival draws who arrives at a cursor's time.
func (p *Plan) arrival(c *cursor) Arrival {
	st := p.streams[c.k]
	at := spec.Seconds(c.next)
	a := Arrival{At: at, Clock: p.Clock(at), Stream: c.k, Party: 1}
	platforms := st.platforms
	if st.journey != "" {
		a.Cohort, a.Journey = st.name, st.journey
	} else {
		i := p.pickCohort(c.rng, a.Clock)
		co := p.s.Cohorts[i]
		a.Cohort, a.Journey = co.Name, co.Journey
		if p.cohorts[i].keys != nil {
			platforms = p.cohorts[i]
		}
	}
	a.Platform = platforms.pick(c.rng)
	if pt := st.party; pt != nil {
		a.Party = min(1+poisson(c.rng, pt.Mean-1), pt.Max)
	}
	return a
}

// pickCohort draws the index of a cohort by its share at the time.
func (p *Plan) pickCohort(r *rand.Rand, at scenarios.Clock) int {
	u, acc := r.Float64(), 0.0
	var total float64
	for _, c := range p.s.Cohorts {
		total += float64(c.ShareAt(at))
	}
	for i, c := range p.s.Cohorts {
		acc += float64(c.ShareAt(at)) / total
		if u < acc {
			return i
		}
	}
	return len(p.s.Cohorts) - 1
}

// shares are a map of shares as its keys in sorted order with their
// running totals, made once: drawing from them allocates and sorts nothing.
type shares struct {
	keys []string
	cum  []float64
}

func newShares(m map[string]scenarios.Percent) shares {
	var sh shares
	for _, k := range slices.Sorted(maps.Keys(m)) {
		total := float64(m[k])
		if n := len(sh.cum); n > 0 {
			total += sh.cum[n-1]
		}
		sh.keys, sh.cum = append(sh.keys, k), append(sh.cum, total)
	}
	return sh
}

// pick draws a key in proportion to its share.
func (sh shares) pick(r *rand.Rand) string {
	u := r.Float64() * sh.cum[len(sh.cum)-1]
	for i, c := range sh.cum {
		if u < c {
			return sh.keys[i]
		}
	}
	return sh.keys[len(sh.keys)-1]
}

// poisson draws a Poisson(mean) count (Knuth's method; party means are small).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	limit, prod, n := math.Exp(-mean), r.Float64(), 0
	for prod > limit {
		prod *= r.Float64()
		n++
	}
	return n
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	return h[i].next < h[j].next || h[i].next == h[j].next && h[i].k < h[j].k
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
