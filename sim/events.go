package sim

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
	u    *user
	v    *visit
	r    *request
	i    int32 // the fault, for fault events
}

// eventQueue is a binary min-heap of events by (t, seq), written out so
// that pushing and popping never box an event into an interface.
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = event{}
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && less(h[l], h[m]) {
			m = l
		}
		if r < n && less(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

func (s *sim) at(t float64, e event) {
	e.t, e.seq = t, s.seq
	s.seq++
	s.events.push(e)
}
