package crew

// itemList is the FIFO of pending items, linked through the items.
type itemList[In, Out any] struct {
	head, tail *batchItem[In, Out]
	n          int
}

func (l *itemList[In, Out]) push(it *batchItem[In, Out]) {
	it.prev, it.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = it
	} else {
		l.head = it
	}
	l.tail = it
	l.n++
}

func (l *itemList[In, Out]) pop() *batchItem[In, Out] {
	it := l.head
	if it != nil {
		l.remove(it)
	}
	return it
}

func (l *itemList[In, Out]) remove(it *batchItem[In, Out]) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		l.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		l.tail = it.prev
	}
	it.prev, it.next = nil, nil
	l.n--
}

// batchList is the list of running batches, oldest first.
type batchList[In, Out any] struct {
	head, tail *batch[In, Out]
	n          int
}

func (l *batchList[In, Out]) push(bt *batch[In, Out]) {
	bt.prev, bt.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = bt
	} else {
		l.head = bt
	}
	l.tail = bt
	l.n++
}

func (l *batchList[In, Out]) remove(bt *batch[In, Out]) {
	if bt.prev != nil {
		bt.prev.next = bt.next
	} else {
		l.head = bt.next
	}
	if bt.next != nil {
		bt.next.prev = bt.prev
	} else {
		l.tail = bt.prev
	}
	bt.prev, bt.next = nil, nil
	l.n--
}

// batchWaiter is a Submit blocked on a full Batcher. ready receives nil once
// the item is pending, or the reason it will not be.
type batchWaiter[In, Out any] struct {
	it         *batchItem[In, Out]
	ready      chan error // capacity 1
	prev, next *batchWaiter[In, Out]
}

// batchWaiters is a FIFO of waiters; b.mu guards it.
type batchWaiters[In, Out any] struct {
	head, tail *batchWaiter[In, Out]
	n          int
}

func (l *batchWaiters[In, Out]) push(w *batchWaiter[In, Out]) {
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *batchWaiters[In, Out]) pop() *batchWaiter[In, Out] {
	w := l.head
	l.remove(w)
	return w
}

// remove unlinks w and reports whether it was still waiting.
func (l *batchWaiters[In, Out]) remove(w *batchWaiter[In, Out]) bool {
	if w.prev == nil && l.head != w {
		return false
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.n--
	return true
}
