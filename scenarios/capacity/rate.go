package capacity

// RateWindow counts arrivals per whole second, the way both worlds measure
// a stage's arrival rate for the slow_under_load fault: the reference
// server with the wall clock's seconds, the simulator with virtual ones.
// It is not safe for concurrent use; callers hold their own lock.
type RateWindow struct {
	sec       int64
	now, prev float64
}

// Add counts one arrival during second sec.
func (w *RateWindow) Add(sec int64) {
	switch {
	case sec == w.sec:
	case sec == w.sec+1:
		w.prev, w.now = w.now, 0
	default:
		w.prev, w.now = 0, 0
	}
	w.sec = sec
	w.now++
}

// Rate is the arrivals per second over about the last second at second
// sec: the previous whole second, or the current one once it has seen more.
func (w *RateWindow) Rate(sec int64) float64 {
	switch sec {
	case w.sec:
		return max(w.prev, w.now)
	case w.sec + 1:
		return w.now
	}
	return 0
}
