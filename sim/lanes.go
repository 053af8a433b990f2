package sim

// A lane holds timeouts of one fixed length. They fire in the order they
// were set, so a FIFO replaces the queue for them. Each pending timeout is
// a timer inside the request or visit it is for, linked into its lane, and
// a request that is answered (a visit that leaves its queue) unlinks its
// timer: most requests finish long before their deadline, and a lane keeps
// only the timeouts that may still fire, instead of one dead entry per
// request to pop and skip.
type lane struct {
	d          float64
	head, tail *timer
	set        *laneSet
}

// laneSet is the simulator's lanes, and which of them fires first. A
// lane's timeouts fire in order, so its head only ever moves later: the
// first lane changes only when its own head is stopped, or an empty lane
// gets one earlier. The clock asks for every event; the lanes are scanned
// only after the first lane's head was stopped.
type laneSet struct {
	byLength map[float64]*lane
	list     []*lane
	first    *lane
	stale    bool // first's head was stopped: scan again
}

// timer is a pending timeout on a lane.
type timer struct {
	e          event // its time, sequence, kind and owner
	prev, next *timer
	lane       *lane // nil when not pending
}

// lane is d's lane, made on first use (a few: one per timeout length).
func (m *sim) lane(d float64) *lane {
	ls := &m.lanes
	l := ls.byLength[d]
	if l == nil {
		if ls.byLength == nil {
			ls.byLength = map[float64]*lane{}
		}
		l = &lane{d: d, set: ls}
		ls.byLength[d] = l
		ls.list = append(ls.list, l)
	}
	return l
}

// timeout sets tm to fire e l.d seconds from now.
func (m *sim) timeout(l *lane, tm *timer, e event) {
	tm.e = m.stamp(m.now+l.d, e)
	tm.lane, tm.prev, tm.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = tm
	} else {
		l.head = tm
		if ls := l.set; !ls.stale && (ls.first == nil || less(tm.e, ls.first.head.e)) {
			ls.first = l
		}
	}
	l.tail = tm
}

// stop unlinks tm from its lane, if it is pending.
func (tm *timer) stop() {
	l := tm.lane
	if l == nil {
		return
	}
	if tm.prev != nil {
		tm.prev.next = tm.next
	} else {
		l.head = tm.next
		if l.set.first == l {
			l.set.stale = true
		}
	}
	if tm.next != nil {
		tm.next.prev = tm.prev
	} else {
		l.tail = tm.prev
	}
	tm.prev, tm.next, tm.lane = nil, nil, nil
}

// earliestLane is the lane whose head fires first, or nil.
func (m *sim) earliestLane() *lane {
	if m.lanes.stale {
		m.lanes.scan()
	}
	return m.lanes.first
}

func (ls *laneSet) scan() {
	var best *lane
	for _, l := range ls.list {
		if l.head != nil && (best == nil || less(l.head.e, best.head.e)) {
			best = l
		}
	}
	ls.first, ls.stale = best, false
}

// pop takes the lane's first timeout.
func (l *lane) pop() event {
	tm := l.head
	tm.stop()
	return tm.e
}
