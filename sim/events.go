package sim

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"unsafe"
)

// event kinds
const (
	evArrival uint8 = iota
	evUser
	evServiceDone
	evQueueTimeout
	evDeadline
	evSample
	evFaultOn
	evFaultOff
	evStart // a request delayed on the client side goes out
)

// event is 32 bytes, so that the heap's four children of a node span two
// cache lines and an event carries all it needs: popping one touches no
// other memory than the heap until its handler runs. What it is about (a
// user, a visit or a request) is one pointer, typed by its kind.
type event struct {
	t   float64        // virtual seconds from the start
	key uint64         // seq<<8 | kind: the sequence number decides ties, and is unique
	p   unsafe.Pointer // *user (evUser), *visit (evServiceDone, evQueueTimeout), *request (evDeadline, evStart)
	gen uint32         // the generation of the visit or request it was scheduled for (pool.go); the fault for fault events
}

const maxSeq = 1 << 56

func (e event) kind() uint8              { return uint8(e.key) }
func (e event) user() *user              { return (*user)(e.p) }
func (e event) visit() *visit            { return (*visit)(e.p) }
func (e event) request() *request        { return (*request)(e.p) }
func (e event) fault() int               { return int(e.gen) }
func less(a, b event) bool               { return a.t < b.t || a.t == b.t && a.key < b.key }
func cmpEvents(a, b event) int           { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.key, b.key)) }
func userEvent(u *user) event            { return event{key: uint64(evUser), p: unsafe.Pointer(u)} }
func plainEvent(kind uint8) event        { return event{key: uint64(kind)} }
func faultEvent(kind uint8, i int) event { return event{key: uint64(kind), gen: uint32(i)} }

func visitEvent(kind uint8, v *visit) event {
	return event{key: uint64(kind), p: unsafe.Pointer(v), gen: v.gen}
}

func requestEvent(kind uint8, r *request) event {
	return event{key: uint64(kind), p: unsafe.Pointer(r), gen: r.gen}
}

// stale says the visit or request the event was for has ended and been reused.
func (e event) stale() bool {
	switch e.kind() {
	case evServiceDone, evQueueTimeout:
		return e.visit().gen != e.gen
	case evDeadline, evStart:
		return e.request().gen != e.gen
	}
	return false
}

// radix is a radix heap of events by tick (t in units of 2^-tickBits s):
// a priority queue for keys that never go below the last one taken out,
// which a clock's never do. An event sits in the bucket of the highest bit
// in which its tick differs from cur, the tick last taken out; the
// earliest tick is in the lowest bucket that holds an event, and taking it
// out moves that bucket's other events to lower ones. Pushing is an
// append, and an event moves down a few buckets in its life, in sequential
// passes over memory: a 4-ary heap of 100k events paid a cache miss per
// level per pop, twice the time at national scale (BenchmarkQueue).
//
// The key is a tick of about 15µs, not the float's bits: an event a few
// seconds ahead then differs from cur in about 19 bits, not 45, and moves
// fewer times down the buckets; events of one tick are ordered by
// eventQueue.
type radix struct {
	cur     uint64 // the tick last taken out: every event in the heap is later
	n       int
	full    uint64 // bit b-1: bucket b holds an event
	buckets [65][]event
	// least is each bucket's earliest tick, kept as events are put: taking
	// a bucket out reads it once, not once to find its earliest and again
	// to move the rest (a bucket of the seconds ahead is megabytes).
	least [65]uint64
}

// tickBits sets the tick, 2^-tickBits seconds. Ordering by tick, then by
// (t, seq) within a tick, is ordering by (t, seq).
const tickBits = 16

func tick(t float64) uint64 { return uint64(int64(t * (1 << tickBits))) } // (t >= 0; via int64, one instruction)

// put adds e, whose tick tk is after cur.
func (q *radix) put(e event, tk uint64) {
	b := bits.Len64(tk ^ q.cur)
	if q.full&(1<<(b-1)) == 0 {
		q.least[b] = tk
		q.full |= 1 << (b - 1)
	} else {
		q.least[b] = min(q.least[b], tk)
	}
	q.buckets[b] = append(q.buckets[b], e)
}

// min is the earliest tick in the heap; it must not be empty.
func (q *radix) min() uint64 { return q.least[bits.TrailingZeros64(q.full)+1] }

// take appends the events of the earliest tick to out, unsorted, and makes
// that tick cur; the heap must not be empty.
func (q *radix) take(out []event) []event {
	b := bits.TrailingZeros64(q.full) + 1
	src := q.buckets[b]
	if cap(src) > 1<<16 { // a burst is over: let its memory go
		q.buckets[b] = nil
	} else {
		q.buckets[b] = src[:0]
	}
	q.full &^= 1 << (b - 1)
	q.cur = q.least[b]
	// The others differ from the new cur in a lower bit: a lower bucket.
	for _, e := range src {
		if tk := tick(e.t); tk == q.cur {
			out = append(out, e)
			q.n--
		} else {
			q.put(e, tk)
		}
	}
	return out
}

// eventQueue is the simulator's clock: the calendar for the events of
// later slots than the one being read, the radix heap for the rest (an
// answer's service time, a few milliseconds ahead; anything past the
// calendar's horizon), and in front of both the next few events in order,
// taken out early so that what each is about (a user, a visit) is on its
// way into the cache well before its turn. With tens of thousands of
// users in their journey, a user is rarely in cache; prefetching only the
// very next event's left the processor waiting for part of the load.
type eventQueue struct {
	r     radix
	c     calendar
	cur   uint64  // the tick last taken out, of r or c: every event in either is later
	ahead []event // ahead[h:]: the next events in order, at ticks up to cur
	h     int
	// late are events pushed at a tick already taken out (at most cur),
	// a binary heap: usually empty, as such events are the clock's
	// next few; when the events ahead span a long time (a sparse stretch
	// of the run) it keeps their number from costing more than a log.
	late     []event
	fromLate bool // peek found the earliest in late
}

// lookahead is how many events ahead of the clock eventQueue prefetches,
// at least; it takes out as many again at a time, so that peek finds them
// in stock for the next lookahead events.
const lookahead = 8

func (q *eventQueue) Len() int {
	return q.r.n + q.c.len() + len(q.ahead) - q.h + len(q.late)
}

// peek is the earliest event, or nil if there is none. The clock's loop
// peeks and drops once per event: the usual case (nothing late, the
// events ahead in stock) is a few instructions; the rest is out of line.
func (q *eventQueue) peek() *event {
	if i := q.h; i+lookahead <= len(q.ahead) && len(q.late) == 0 {
		return &q.ahead[i]
	}
	return q.peekSlow()
}

func (q *eventQueue) peekSlow() *event {
	for len(q.ahead)-q.h < 2*lookahead && q.r.n+q.c.len() > 0 {
		k := len(q.ahead)
		q.ahead = q.take(q.ahead)
		next := q.ahead[k:]
		if len(next) > 1 { // a tick's events, in order
			slices.SortFunc(next, cmpEvents)
		}
		for i := range next {
			warm(&next[i])
		}
	}
	q.fromLate = len(q.late) > 0 && (q.h == len(q.ahead) || less(q.late[0], q.ahead[q.h]))
	if q.fromLate {
		return &q.late[0]
	}
	if q.h == len(q.ahead) {
		return nil
	}
	return &q.ahead[q.h]
}

// take appends the events of the earliest tick in r and c to out,
// unsorted; one of them must hold an event.
func (q *eventQueue) take(out []event) []event {
	c := &q.c
	if c.ri == len(c.run) && c.n > 0 {
		// The calendar's next slot is sorted once the clock may reach it.
		if s := c.next(); q.r.n == 0 || s <= q.r.min()>>slotBits {
			c.load(s)
		}
	}
	if c.ri < len(c.run) {
		ct := tick(c.run[c.ri].t)
		if q.r.n == 0 || ct <= q.r.min() {
			for c.ri < len(c.run) && tick(c.run[c.ri].t) == ct {
				out = append(out, c.run[c.ri])
				c.ri++
			}
			q.cur = ct
			if q.r.n == 0 || ct < q.r.min() {
				return out
			}
		}
	}
	out = q.r.take(out)
	q.cur = q.r.cur
	return out
}

// drop removes the event peek returned; nothing may be pushed between.
func (q *eventQueue) drop() {
	if q.fromLate || q.h >= 4*lookahead {
		q.dropSlow()
		return
	}
	q.h++
}

func (q *eventQueue) dropSlow() {
	if q.fromLate {
		q.popLate()
		q.fromLate = false
		return
	}
	q.h++
	if q.h == len(q.ahead) {
		q.ahead, q.h = q.ahead[:0], 0
	} else if q.h >= 4*lookahead && q.h >= len(q.ahead)/2 {
		n := copy(q.ahead, q.ahead[q.h:])
		q.ahead, q.h = q.ahead[:n], 0
	}
}

// pop removes and returns the earliest event; the queue must not be empty.
func (q *eventQueue) pop() event {
	e := *q.peek()
	q.drop()
	return e
}

// push adds e, which must come after the last event popped.
func (q *eventQueue) push(e event) {
	if tk := tick(e.t); tk > q.cur {
		if s := tk >> slotBits; q.c.holds(s) {
			q.c.add(e, s)
			return
		}
		if q.r.n == 0 {
			q.r.cur = q.cur // (keeps a new event's bucket low)
		}
		q.r.put(e, tk)
		q.r.n++
		return
	}
	warm(&e)
	h := append(q.late, e)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	q.late = h
}

// popLate removes late's earliest event.
func (q *eventQueue) popLate() {
	h := q.late
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		m, l := i, 2*i+1
		if l < n && less(h[l], h[m]) {
			m = l
		}
		if r := l + 1; r < n && less(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.late = h
}

// warm starts loading what e is about.
func warm(e *event) {
	if e.p == nil {
		return
	}
	if e.kind() == evUser {
		prefetchUser(uintptr(e.p)) // (addresses only: the GC sees no pointer to mind)
	} else {
		prefetch(uintptr(e.p))
	}
}

// errTooLarge stops a simulation that outgrows the events' sequence numbers.
var errTooLarge = fmt.Errorf("sim: the simulation is too large: more than %d events scheduled", uint64(maxSeq))

// stamp gives e its time and the next sequence number.
func (s *sim) stamp(t float64, e event) event {
	if s.seq >= maxSeq {
		s.err = errTooLarge
	}
	e.t, e.key = t, s.seq<<8|e.key&0xff
	s.seq++
	return e
}

// at schedules e at t, or now if t has passed: a user whose patience ran
// out during a pause, and float rounding of a user's offsets, give times
// just behind the clock, and the clock does not go back (nor may the
// queue's keys).
func (s *sim) at(t float64, e event) { s.events.push(s.stamp(max(t, s.now), e)) }
