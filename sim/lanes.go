package sim

// A lane holds timeouts of one fixed length. They fire in the order they
// were set, so a FIFO replaces the heap for them: most requests finish long
// before their deadline, and a heap would hold millions of dead entries.
type lane struct {
	d     float64
	items []event
	head  int
}

// timeout schedules e to fire d seconds from now on its lane.
func (m *sim) timeout(d float64, e event) {
	l := m.lanes[d]
	if l == nil {
		l = &lane{d: d}
		m.lanes[d] = l
		m.laneList = append(m.laneList, l)
	}
	e.t, e.seq = m.now+d, m.seq
	m.seq++
	l.items = append(l.items, e)
}

// earliestLane is the lane whose head fires first, or nil.
func (m *sim) earliestLane() *lane {
	var best *lane
	for _, l := range m.laneList {
		if l.head < len(l.items) && (best == nil || less(l.items[l.head], best.items[best.head])) {
			best = l
		}
	}
	return best
}

func (l *lane) pop() event {
	e := l.items[l.head]
	l.items[l.head] = event{}
	l.head++
	if l.head > 1024 && l.head*2 > len(l.items) {
		l.items = append(l.items[:0], l.items[l.head:]...)
		l.head = 0
	}
	return e
}

func less(a, b event) bool { return a.t < b.t || a.t == b.t && a.seq < b.seq }
