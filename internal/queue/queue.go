// Package queue holds the queue disciplines of crew's pools: first in,
// first out, and by priority with aging. Both hold elements that embed
// Node as their first field, and neither allocates per element.
//
// A queue is not safe for concurrent use: the pool's lock guards it.
package queue

import (
	"unsafe"

	"github.com/crew-go/crew/internal/list"
)

// Node is what a queued element of type E carries: its links and its
// enqueue time. E must embed Node[E] as its first field (queues find an
// element's node at the element's own address); each type that does pins
// it with a test of unsafe.Offsetof.
type Node[E any] struct {
	list.Links[E]
	// Enq is the element's enqueue time, in ns since the queue's epoch,
	// for the priority queue's aging; the FIFO ignores it.
	Enq int64
}

// node returns e's Node, its first field.
func node[E any](e *E) *Node[E] { return (*Node[E])(unsafe.Pointer(e)) }

// FIFO is the first-in, first-out discipline: push, pop and removing a
// cancelled element are O(1). The zero value is an empty queue.
type FIFO[E any] struct {
	l list.List[E]
}

// Push appends e; prio is ignored.
func (q *FIFO[E]) Push(e *E, _ int) { q.l.PushBack(e) }

// Pop removes and returns the oldest element, nil when empty.
func (q *FIFO[E]) Pop() *E { return q.l.PopFront() }

// Remove takes out e and reports whether it was queued; prio is ignored.
// e must be in this queue or in no list.
func (q *FIFO[E]) Remove(e *E, _ int) bool { return q.l.Remove(e) }

// Len returns the number of queued elements.
func (q *FIFO[E]) Len() int { return q.l.Len() }

// EvictFor never evicts: a FIFO has no lower rank.
func (q *FIFO[E]) EvictFor(int, int64) *E { return nil }
