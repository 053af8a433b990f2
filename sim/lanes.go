package sim

// A lane holds timeouts of one fixed length. They fire in the order they
// were set, so a FIFO replaces the heap for them: most requests finish long
// before their deadline, and a heap would hold millions of dead entries.
type lane struct {
	d     float64
	items ring[event]
}

// timeout schedules e to fire d seconds from now on its lane.
func (m *sim) timeout(d float64, e event) {
	l := m.lanes[d]
	if l == nil {
		l = &lane{d: d}
		m.lanes[d] = l
		m.laneList = append(m.laneList, l)
	}
	l.items.push(m.stamp(m.now+d, e))
}

// earliestLane is the lane whose head fires first, or nil.
func (m *sim) earliestLane() *lane {
	var best *lane
	for _, l := range m.laneList {
		if l.items.len() > 0 && (best == nil || less(*l.items.front(), *best.items.front())) {
			best = l
		}
	}
	return best
}

func (l *lane) pop() event { return l.items.pop() }
