package sim

import (
	"fmt"
	"math"
	"math/bits"
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

// radix is a radix heap of events by (t, seq): a priority queue for
// keys that never go below the last one taken, which a clock's events
// never do. Events sit in buckets by the highest bit in which (t, key)
// differs from the last event popped (t's float64 bits order like t, for
// t >= 0); the earliest is in the lowest non-empty bucket, and popping it
// redistributes that bucket's others to lower ones. Pushing is an append,
// and each event moves down a few buckets in its life, in sequential
// passes over memory, where a 4-ary heap of 100k events paid a cache miss
// per level per pop: about twice as fast at national scale
// (BenchmarkQueue).
type radix struct {
	lastT, lastKey uint64 // the last event popped; every event pushed comes after it
	buckets        [129][]event
	full           [3]uint64 // bit b: bucket b is not empty
	n              int
	known          bool // minB, minI hold where the earliest event is
	minB, minI     int
}

func (q *radix) Len() int { return q.n }

func (q *radix) bucket(e *event) int {
	if hi := math.Float64bits(e.t) ^ q.lastT; hi != 0 {
		return 64 + bits.Len64(hi)
	}
	return bits.Len64(e.key ^ q.lastKey)
}

func (q *radix) put(e event) (int, int) {
	b := q.bucket(&e)
	q.buckets[b] = append(q.buckets[b], e)
	q.full[b>>6] |= 1 << (b & 63)
	return b, len(q.buckets[b]) - 1
}

// push adds e, which must come after the last event popped.
func (q *radix) push(e event) {
	b, i := q.put(e)
	q.n++
	if q.known && less(e, q.buckets[q.minB][q.minI]) {
		q.minB, q.minI = b, i
	}
}

// first is the earliest event; the queue must not be empty.
func (q *radix) first() *event {
	if !q.known {
		b := 0
		for w := range q.full {
			if q.full[w] != 0 {
				b = w<<6 | bits.TrailingZeros64(q.full[w])
				break
			}
		}
		src, m := q.buckets[b], 0
		for k := 1; k < len(src); k++ {
			if less(src[k], src[m]) {
				m = k
			}
		}
		q.minB, q.minI, q.known = b, m, true
	}
	return &q.buckets[q.minB][q.minI]
}

// pop removes the earliest event; the queue must not be empty.
func (q *radix) pop() event {
	e := *q.first()
	b, src := q.minB, q.buckets[q.minB]
	last := len(src) - 1
	src[q.minI] = src[last]
	src[last] = event{}
	src = src[:last]
	q.n--
	q.lastT, q.lastKey = math.Float64bits(e.t), e.key
	q.known = false
	// The others of e's bucket now differ from the last event popped in a
	// lower bit; the buckets above keep theirs.
	q.buckets[b], q.full[b>>6] = src[:0], q.full[b>>6]&^(1<<(b&63))
	for i := range src {
		q.put(src[i])
		src[i] = event{}
	}
	if cap(src) > 1<<16 { // a burst is over: let its memory go
		q.buckets[b] = nil
	}
	return e
}

// eventQueue is the simulator's clock: a radix heap, and in front of it
// the next few events in order, taken out early so that what each is about
// (a user, a visit) is on its way into the cache well before its turn.
// With tens of thousands of users in their journey, a user is rarely in
// cache; prefetching only the very next event's left the processor
// waiting for part of the load.
type eventQueue struct {
	r     radix
	ahead []event // ahead[h:]: the next events, in order, all before r's
	h     int
}

// lookahead is how many events ahead of the clock eventQueue prefetches.
const lookahead = 8

func (q *eventQueue) Len() int { return q.r.n + len(q.ahead) - q.h }

// first is the earliest event; the queue must not be empty.
func (q *eventQueue) first() *event {
	for len(q.ahead)-q.h < lookahead && q.r.n > 0 {
		e := q.r.pop()
		warm(&e)
		q.ahead = append(q.ahead, e)
	}
	return &q.ahead[q.h]
}

// pop removes the earliest event; the queue must not be empty.
func (q *eventQueue) pop() event {
	e := *q.first()
	q.h++
	if q.h == len(q.ahead) {
		q.ahead, q.h = q.ahead[:0], 0
	} else if q.h >= 4*lookahead {
		n := copy(q.ahead, q.ahead[q.h:])
		q.ahead, q.h = q.ahead[:n], 0
	}
	return e
}

// push adds e, which must come after the last event popped. One that comes
// before the radix heap's last (an event due within the next few) joins
// the events ahead, in order.
func (q *eventQueue) push(e event) {
	t := math.Float64bits(e.t)
	if q.r.n == 0 && q.h == len(q.ahead) {
		q.r.lastT, q.r.lastKey = t, e.key // an empty queue takes any event
	}
	if t > q.r.lastT || t == q.r.lastT && e.key >= q.r.lastKey {
		q.r.push(e)
		return
	}
	warm(&e)
	i := len(q.ahead)
	q.ahead = append(q.ahead, e)
	for i > q.h && less(e, q.ahead[i-1]) {
		q.ahead[i] = q.ahead[i-1]
		i--
	}
	q.ahead[i] = e
}

// warm starts loading what e is about.
func warm(e *event) {
	if e.p == nil {
		return
	}
	if e.kind() == evUser {
		prefetch4(uintptr(e.p)) // (addresses only: the GC sees no pointer to mind)
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
