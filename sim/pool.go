package sim

// Visits and requests are reused once they are over: a national run has
// tens of millions of them but only thousands alive at once. Whatever may
// still point at one after it is over (an event on the clock, a stage
// queue entry, a stalled or parked list) carries the generation it was
// made for; freeing bumps the generation, so a stale reference sees a
// different one and is skipped, exactly as the dead or done flag made the
// simulator skip it before.

type visitRef struct {
	v   *visit
	gen uint32
}

func (x visitRef) live() bool { return x.v.gen == x.gen }

type requestRef struct {
	r   *request
	gen uint32
}

func (x requestRef) live() bool { return x.r.gen == x.gen }

// newVisit is a visit set to init (its generation kept).
func (m *sim) newVisit(init visit) *visit {
	var v *visit
	if n := len(m.freeVisits); n > 0 {
		v, m.freeVisits = m.freeVisits[n-1], m.freeVisits[:n-1]
	} else {
		v = &visit{}
	}
	gen := v.gen
	*v = init
	v.gen = gen
	return v
}

func (m *sim) freeVisit(v *visit) {
	v.expiry.stop()
	v.gen++
	v.r, v.parent, v.st, v.calls = nil, nil, nil, nil
	m.freeVisits = append(m.freeVisits, v)
}

// freeChain frees a failed visit and its callers (unwound, so all dead).
func (m *sim) freeChain(v *visit) {
	for v != nil {
		parent := v.parent
		m.freeVisit(v)
		v = parent
	}
}

func (m *sim) newRequest() *request {
	if n := len(m.freeRequests); n > 0 {
		r := m.freeRequests[n-1]
		m.freeRequests = m.freeRequests[:n-1]
		return r
	}
	return &request{}
}

func (m *sim) freeRequest(r *request) {
	r.gen++
	r.u, r.active, r.ri = nil, nil, nil
	m.freeRequests = append(m.freeRequests, r)
}
