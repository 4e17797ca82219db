package crew

// fifo is the first-in-first-out queue discipline: an intrusive list through
// the Futures, so push, pop and removing a cancelled job are O(1) and
// allocation-free.
type fifo[T any] struct {
	head, tail *task[T]
	n          int
}

func (q *fifo[T]) push(f *task[T]) {
	f.prev, f.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = f
	} else {
		q.head = f
	}
	q.tail = f
	q.n++
}

func (q *fifo[T]) pop() *task[T] {
	f := q.head
	if f != nil {
		q.remove(f)
	}
	return f
}

func (q *fifo[T]) remove(f *task[T]) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		q.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		q.tail = f.prev
	}
	f.prev, f.next = nil, nil
	q.n--
}

func (q *fifo[T]) len() int { return q.n }

func (q *fifo[T]) evictFor(*task[T]) *task[T] { return nil }
