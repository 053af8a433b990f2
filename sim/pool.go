package sim

import "unsafe"

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

// newVisit is a visit of r's route (nil for an async step) making calls,
// for parent. Only its first line is written: the second is the queue's,
// and its timer is stopped whenever it leaves the queue.
func (m *sim) newVisit(r *request, h *hop, parent *visit) *visit {
	var v *visit
	if n := len(m.freeVisits); n > 0 {
		v, m.freeVisits = m.freeVisits[n-1], m.freeVisits[:n-1]
	} else {
		v = slab(&m.visitSlab)
	}
	v.r, v.h, v.st, v.parent, v.next = r, h, nil, parent, 0
	v.held, v.queued, v.dead = false, false, false
	return v
}

func (m *sim) freeVisit(v *visit) {
	if v.queued {
		v.expiry.stop()
	}
	v.gen++
	v.r, v.parent, v.st, v.h = nil, nil, nil, nil
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
	return slab(&m.requestSlab)
}

func (m *sim) freeRequest(r *request) {
	r.gen++
	r.u, r.active, r.ri, r.si = nil, nil, nil, nil
	m.freeRequests = append(m.freeRequests, r)
}

// slab takes the next T of a slab, making a new slab when it is used up.
// Slabs are over 32 KB, which Go allocates on their own pages: with a T a
// whole number of cache lines, each starts on a line.
func slab[T any](s *[]T) *T {
	if len(*s) == 0 {
		var zero T
		*s = make([]T, 32<<10/unsafe.Sizeof(zero)+1)
	}
	x := &(*s)[0]
	*s = (*s)[1:]
	return x
}

// Requests and visits are two whole cache lines (the build fails otherwise).
var (
	_ [128 - unsafe.Sizeof(request{})]byte
	_ [unsafe.Sizeof(request{}) - 128]byte
	_ [128 - unsafe.Sizeof(visit{})]byte
	_ [unsafe.Sizeof(visit{}) - 128]byte
)
