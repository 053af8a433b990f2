package sim

import "fmt"

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

type event struct {
	t    float64 // virtual seconds from the start
	seq  uint64
	kind uint8
	gen  uint32 // the generation of v or r it was scheduled for (see pool.go)
	u    *user
	v    *visit
	r    *request
	i    int32 // the fault, for fault events
}

func less(a, b event) bool { return a.t < b.t || a.t == b.t && a.seq < b.seq }

// The heap orders small entries, (t, seq) and the slot holding the rest of
// the event: four children fill one 64-byte cache line, where four whole
// events spanned four. Popping, the hot path, touches one line per level.
const (
	slotBits = 26 // 67M events pending at once
	seqBits  = 64 - slotBits
	maxSlots = 1 << slotBits
	maxSeq   = 1 << seqBits // 275 billion events scheduled in one simulation
)

type entry struct {
	t   float64
	key uint64 // seq<<slotBits | slot: seq decides ties, and seqs are unique
}

func (a entry) before(b entry) bool { return a.t < b.t || a.t == b.t && a.key < b.key }

// eventQueue is a 4-ary min-heap of events by (t, seq), written out so
// that pushing and popping never box an event into an interface. Four
// children per node halve the depth of a binary heap.
type eventQueue struct {
	h     []entry
	slots []event
	free  []uint32
}

func (q *eventQueue) Len() int { return len(q.h) }

// first is the earliest event's (t, seq) as an event; the queue must not be empty.
func (q *eventQueue) first() event {
	return event{t: q.h[0].t, seq: q.h[0].key >> slotBits}
}

// push adds e, which has its t and seq set; false when the queue is full.
func (q *eventQueue) push(e event) bool {
	var slot uint32
	if n := len(q.free); n > 0 {
		slot, q.free = q.free[n-1], q.free[:n-1]
		q.slots[slot] = e
	} else {
		if len(q.slots) >= maxSlots || e.seq >= maxSeq {
			return false
		}
		slot = uint32(len(q.slots))
		q.slots = append(q.slots, e)
	}
	x := entry{e.t, e.seq<<slotBits | uint64(slot)}
	q.h = append(q.h, x)
	h := q.h
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !x.before(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
	return true
}

func (q *eventQueue) pop() event {
	h := q.h
	top := h[0]
	n := len(h) - 1
	last := h[n]
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
				if h[k].before(h[m]) {
					m = k
				}
			}
			if !h[m].before(last) {
				break
			}
			h[i] = h[m]
			i = m
		}
		h[i] = last
	}
	q.h = h
	slot := uint32(top.key & (maxSlots - 1))
	e := q.slots[slot]
	q.slots[slot] = event{} // let go of what it points to
	q.free = append(q.free, slot)
	return e
}

// errTooLarge stops a simulation that outgrows the event queue's indexes.
var errTooLarge = fmt.Errorf("sim: the simulation is too large: more than %d events pending at once or %d scheduled in all", maxSlots, uint64(maxSeq))

func (s *sim) at(t float64, e event) {
	e.t, e.seq = t, s.seq
	s.seq++
	if !s.events.push(e) {
		s.err = errTooLarge
	}
}
