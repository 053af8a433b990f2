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
	gen  uint32 // the generation of v or r it was scheduled for (see pool.go)
	u    *user
	v    *visit
	r    *request
	i    int32 // the fault, for fault events
}

// eventQueue is a 4-ary min-heap of events by (t, seq), written out so
// that pushing and popping never box an event into an interface. Four
// children per node halve the depth of a binary heap: popping, the hot
// path, touches fewer cache lines.
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

func (s *sim) at(t float64, e event) {
	e.t, e.seq = t, s.seq
	s.seq++
	s.events.push(e)
}
