// Package list is an intrusive doubly linked list: an element embeds Links
// as its first field and carries its own place in the list, so pushing,
// popping and removing any element are O(1) and never allocate.
//
// An element is in at most one List through its Links at a time. A List
// is not safe for concurrent use: its owner's lock guards it.
package list

import "unsafe"

// Links are the previous and next pointers of an element of type E. E must
// embed Links[E] as its first field: a List finds an element's links at
// the element's own address, which keeps every operation a few inlined
// instructions. Each type that does this pins it with a test of
// unsafe.Offsetof.
type Links[E any] struct {
	prev, next *E
}

// Next returns the element after the one whose links these are, or nil at
// the back.
func (l *Links[E]) Next() *E { return l.next }

// links returns e's links, its first field.
func links[E any](e *E) *Links[E] { return (*Links[E])(unsafe.Pointer(e)) }

// List is a list of elements of type E, in the order they were pushed
// (PushBack) or the reverse (PushFront). The zero value is an empty list.
type List[E any] struct {
	head, tail *E
	n          int
}

// Len returns the number of elements.
func (l *List[E]) Len() int { return l.n }

// Front returns the first element, or nil when empty.
func (l *List[E]) Front() *E { return l.head }

// Back returns the last element, or nil when empty.
func (l *List[E]) Back() *E { return l.tail }

// PushBack appends e.
func (l *List[E]) PushBack(e *E) {
	k := links(e)
	k.prev, k.next = l.tail, nil
	if l.tail != nil {
		links(l.tail).next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

// PushFront prepends e.
func (l *List[E]) PushFront(e *E) {
	k := links(e)
	k.prev, k.next = nil, l.head
	if l.head != nil {
		links(l.head).prev = e
	} else {
		l.tail = e
	}
	l.head = e
	l.n++
}

// PopFront removes and returns the first element, or nil when empty.
func (l *List[E]) PopFront() *E {
	e := l.head
	if e != nil {
		l.unlink(e)
	}
	return e
}

// Remove unlinks e and reports whether it was in the list. e must be in
// this list or in none.
func (l *List[E]) Remove(e *E) bool {
	if !l.Contains(e) {
		return false
	}
	l.unlink(e)
	return true
}

// Contains reports whether e, which is in this list or in none, is in it.
func (l *List[E]) Contains(e *E) bool { return links(e).prev != nil || l.head == e }

// unlink takes e, a member, out.
func (l *List[E]) unlink(e *E) {
	k := links(e)
	if k.prev != nil {
		links(k.prev).next = k.next
	} else {
		l.head = k.next
	}
	if k.next != nil {
		links(k.next).prev = k.prev
	} else {
		l.tail = k.prev
	}
	k.prev, k.next = nil, nil
	l.n--
}
