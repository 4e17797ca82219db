package queue

// levelHeap is a binary heap of levels that keeps each level's index in it.
// By default it is a min-heap of the levels' heads; with tail set, a
// max-heap of their tails.
type levelHeap[E any] struct {
	s    []*level[E]
	tail bool
}

// less reports whether the level at i belongs above the one at j.
func (h *levelHeap[E]) less(i, j int, q *Priority[E]) bool {
	a, b := h.s[i], h.s[j]
	if h.tail {
		return q.before(b, b.items.Back(), a, a.items.Back())
	}
	return q.before(a, a.items.Front(), b, b.items.Front())
}

func (h *levelHeap[E]) setIndex(i int) {
	if h.tail {
		h.s[i].ti = i
	} else {
		h.s[i].hi = i
	}
}

func (h *levelHeap[E]) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.setIndex(i)
	h.setIndex(j)
}

func (h *levelHeap[E]) push(l *level[E], q *Priority[E]) {
	h.s = append(h.s, l)
	h.setIndex(len(h.s) - 1)
	h.up(len(h.s)-1, q)
}

// remove takes the level at i out of the heap.
func (h *levelHeap[E]) remove(i int, q *Priority[E]) {
	last := len(h.s) - 1
	l := h.s[i]
	if i != last {
		h.swap(i, last)
	}
	h.s[last] = nil
	h.s = h.s[:last]
	if h.tail {
		l.ti = -1
	} else {
		l.hi = -1
	}
	if i != last {
		h.down(i, q)
		h.up(i, q)
	}
}

func (h *levelHeap[E]) up(i int, q *Priority[E]) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent, q) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *levelHeap[E]) down(i int, q *Priority[E]) {
	n := len(h.s)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if r := c + 1; r < n && h.less(r, c, q) {
			c = r
		}
		if !h.less(c, i, q) {
			return
		}
		h.swap(i, c)
		i = c
	}
}
