package sim

import (
	"fmt"
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

// eventQueue is a 4-ary min-heap of events by (t, seq), written out so
// that pushing and popping never box an event into an interface. Four
// children per node halve the depth of a binary heap.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !less(e, h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h[n] = event{}
	h = h[:n]
	if n > 0 {
		i := 0
		for {
			c := 4*i + 1
			if c >= n {
				break
			}
			m := c
			for k := c + 1; k < c+4 && k < n; k++ {
				if less(h[k], h[m]) {
					m = k
				}
			}
			if !less(h[m], last) {
				break
			}
			h[i] = h[m]
			i = m
		}
		h[i] = last
	}
	*q = h
	return top
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

func (s *sim) at(t float64, e event) { s.events.push(s.stamp(t, e)) }
