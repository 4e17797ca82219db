package crew

// links are the prev and next pointers that an element of a dlist embeds.
type links[P any] struct {
	prev, next P
}

func (l *links[P]) lnk() *links[P] { return l }

// linked is a pointer to an element that embeds links to its own type.
type linked[P any] interface {
	comparable
	lnk() *links[P]
}

// dlist is an intrusive doubly linked list in arrival order: elements carry
// their own links, so push, pop and removing any element are O(1) and never
// allocate. An element is in at most one dlist at a time. The owner's lock
// guards it.
type dlist[P linked[P]] struct {
	head, tail P
	n          int
}

// push appends p.
func (l *dlist[P]) push(p P) {
	var none P
	lk := p.lnk()
	lk.prev, lk.next = l.tail, none
	if l.tail != none {
		l.tail.lnk().next = p
	} else {
		l.head = p
	}
	l.tail = p
	l.n++
}

// pop removes and returns the oldest element; the zero P when empty.
func (l *dlist[P]) pop() P {
	p := l.head
	var none P
	if p != none {
		l.remove(p)
	}
	return p
}

// remove unlinks p and reports whether it was in the list.
func (l *dlist[P]) remove(p P) bool {
	var none P
	lk := p.lnk()
	if lk.prev == none && l.head != p {
		return false
	}
	if lk.prev != none {
		lk.prev.lnk().next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != none {
		lk.next.lnk().prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	lk.prev, lk.next = none, none
	l.n--
	return true
}
