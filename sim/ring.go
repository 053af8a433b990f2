package sim

// ring is a FIFO on a circular buffer: pushing and popping move nothing,
// and the buffer grows (doubling) only when full, so a steady queue
// allocates nothing. A large buffer is let go once the queue empties.
type ring[T any] struct {
	buf  []T // its length is a power of two
	head int
	n    int
}

func (q *ring[T]) len() int { return q.n }

func (q *ring[T]) push(x T) {
	if q.n == len(q.buf) {
		nb := make([]T, max(16, 2*len(q.buf)))
		for i := range q.n {
			nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = x
	q.n++
}

// front is the oldest item; the queue must not be empty.
func (q *ring[T]) front() *T { return &q.buf[q.head] }

func (q *ring[T]) pop() T {
	var zero T
	x := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 && len(q.buf) > 1<<16 {
		q.buf, q.head = nil, 0
	}
	return x
}
