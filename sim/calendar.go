package sim

import "math/bits"

// calendar holds the events of the seconds ahead, by slot of 2^slotBits
// ticks (half a second): a user's think time, backoff or wait for an
// arrival, the larger half of a national run's events. In the radix heap
// such an event differs from the clock in 17-22 bits and moved about ten
// times before its turn; here it is appended to its slot, and when the
// clock reaches the slot the slot is sorted by tick, with two passes of a
// radix sort over a few hundred kilobytes, and read in order.
//
// A slot is a list of chunks from a free list, so that the calendar holds
// what is pending and not, for each slot, the most it ever held.
type calendar struct {
	s     uint64 // the slot loaded last: the others hold slots s+1 to s+calSlots-1
	n     int    // events in the slots (not in run)
	slots [calSlots]chunkList
	full  [calSlots / 64]uint64 // bit i: slots[i] holds an event
	free  *chunk
	// run is the slot loaded last, sorted by tick: run[ri:] are yet to be taken.
	run     []event
	ri      int
	scratch []event
}

const (
	slotBits  = 15  // a slot is 2^slotBits ticks: 0.5 s
	calSlots  = 512 // the calendar's horizon, in slots: 256 s
	chunkSize = 64  // events in a chunk: 2 KB
)

// chunk is part of a slot: full but for the slot's last.
type chunk struct {
	ev   [chunkSize]event
	next *chunk
}

type chunkList struct {
	head, tail *chunk
	n          int
}

// holds says slot s can take an event: it is after the slot loaded last,
// and within the horizon.
func (c *calendar) holds(s uint64) bool { return s-c.s-1 < calSlots-1 }

// add appends e to slot s (holds(s)).
func (c *calendar) add(e event, s uint64) {
	i := s % calSlots
	l := &c.slots[i]
	j := l.n % chunkSize // (the slot's count: the tail chunk's own would be a line more to load)
	if j == 0 {
		t := c.chunk()
		if l.n == 0 {
			l.head = t
			c.full[i/64] |= 1 << (i % 64)
		} else {
			l.tail.next = t
		}
		l.tail = t
	}
	l.tail.ev[j] = e
	l.n++
	c.n++
}

func (c *calendar) chunk() *chunk {
	k := c.free
	if k == nil {
		return new(chunk)
	}
	c.free, k.next = k.next, nil
	return k
}

// len is how many events c holds, in its slots and its run.
func (c *calendar) len() int { return c.n + len(c.run) - c.ri }

// next is the earliest slot holding an event (c.n > 0).
func (c *calendar) next() uint64 {
	from := (c.s + 1) % calSlots
	// the words from from's on, wrapping round once
	w := from / 64
	word := c.full[w] &^ (1<<(from%64) - 1)
	for range len(c.full) + 1 {
		if word != 0 {
			i := w*64 + uint64(bits.TrailingZeros64(word))
			return c.s + 1 + (i-from+calSlots)%calSlots
		}
		w = (w + 1) % uint64(len(c.full))
		word = c.full[w]
	}
	panic("sim: calendar: no slot holds an event")
}

// load makes slot s (the earliest holding an event) the run, sorted by
// tick. The run before it must have been taken.
func (c *calendar) load(s uint64) {
	i := s % calSlots
	l := c.slots[i]
	c.slots[i] = chunkList{}
	c.full[i/64] &^= 1 << (i % 64)
	c.n -= l.n
	c.s = s
	if cap(c.run) < l.n {
		c.run = make([]event, l.n, l.n+l.n/4)
		c.scratch = make([]event, l.n, l.n+l.n/4)
	}
	run, tmp := c.run[:l.n], c.scratch[:l.n]
	// LSD radix sort on the tick within the slot: the low 8 bits, then
	// the rest (slotBits-8). Stable, so each pass keeps the last's order.
	const lo, hiBits = 8, slotBits - 8
	var c0 [1 << lo]int32
	var c1 [1 << hiBits]int32
	for k, left := l.head, l.n; k != nil; k, left = k.next, left-chunkSize {
		for j := range min(left, chunkSize) {
			tk := tick(k.ev[j].t)
			c0[tk&(1<<lo-1)]++
			c1[tk>>lo&(1<<hiBits-1)]++
		}
	}
	prefix(c0[:])
	prefix(c1[:])
	for k, left := l.head, l.n; k != nil; left -= chunkSize {
		for j := range min(left, chunkSize) {
			e := &k.ev[j]
			d := tick(e.t) & (1<<lo - 1)
			tmp[c0[d]] = *e
			c0[d]++
		}
		next := k.next
		k.next, c.free = c.free, k
		k = next
	}
	for j := range tmp {
		d := tick(tmp[j].t) >> lo & (1<<hiBits - 1)
		run[c1[d]] = tmp[j]
		c1[d]++
	}
	c.run, c.ri = run, 0
}

// prefix turns counts into the offsets where each digit's run starts.
func prefix(c []int32) {
	var sum int32
	for i, n := range c {
		c[i] = sum
		sum += n
	}
}
