// Package ring is the Batcher's line of pending items: values in a ring
// buffer, in arrival order, so that adding and cutting an item writes no
// links and allocates nothing once the ring has grown. An item that leaves
// from the middle leaves a dead slot behind, skipped when it reaches the
// front and squeezed out when the ring is full, so the ring holds at most
// twice the live items it ever held at once.
//
// A Ring is not safe for concurrent use: the Batcher's lock guards it.
package ring

import "sort"

// Slot is one item: its arrival sequence number (unique, growing), whether
// it is live, and what it carries.
type Slot[V any] struct {
	Seq  uint64
	live bool
	V    V
}

// Ring holds the items. The zero value is an empty ring.
type Ring[V any] struct {
	buf  []Slot[V] // len 0 or a power of two
	head int       // buf index of the oldest slot; live when n > 0
	used int       // slots from head on, live or dead
	n    int       // live slots
}

// Len returns the number of live items.
func (r *Ring[V]) Len() int { return r.n }

// Front returns the oldest live item; Len must be > 0.
func (r *Ring[V]) Front() *Slot[V] { return &r.buf[r.head] }

// at returns the i-th slot from the head, i < r.used.
func (r *Ring[V]) at(i int) *Slot[V] { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// Push appends a live item with seq, greater than every seq pushed before,
// and returns its payload for the caller to fill in.
func (r *Ring[V]) Push(seq uint64) *V {
	if r.used == len(r.buf) {
		if r.used > r.n {
			r.compact()
		} else {
			r.grow()
		}
	}
	s := r.at(r.used)
	s.Seq, s.live = seq, true
	r.used++
	r.n++
	return &s.V
}

// Cut removes the n oldest live items, n <= Len, passing each payload to
// take, oldest first.
func (r *Ring[V]) Cut(n int, take func(*V)) {
	for n > 0 {
		s := r.Front()
		take(&s.V)
		*s = Slot[V]{}
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.used--
		r.n--
		n--
		r.trim()
	}
}

// Find returns the index of the live item with seq, or -1.
func (r *Ring[V]) Find(seq uint64) int {
	i := sort.Search(r.used, func(i int) bool { return r.at(i).Seq >= seq })
	if i == r.used || r.at(i).Seq != seq || !r.at(i).live {
		return -1
	}
	return i
}

// Kill takes the item at index i (from Find) out and returns its payload;
// its slot stays, dead, to keep the order Find relies on.
func (r *Ring[V]) Kill(i int) V {
	s := r.at(i)
	v := s.V
	*s = Slot[V]{Seq: s.Seq}
	r.n--
	r.trim()
	return v
}

// Each calls fn for every live item, oldest first.
func (r *Ring[V]) Each(fn func(*Slot[V])) {
	for i := range r.used {
		if s := r.at(i); s.live {
			fn(s)
		}
	}
}

// Reset empties the ring, keeping its buffer.
func (r *Ring[V]) Reset() {
	clear(r.buf)
	r.head, r.used, r.n = 0, 0, 0
}

// trim drops dead slots at both ends, so the head is live.
func (r *Ring[V]) trim() {
	for r.used > 0 && !r.buf[r.head].live {
		r.buf[r.head] = Slot[V]{}
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.used--
	}
	for r.used > 0 && !r.at(r.used-1).live {
		*r.at(r.used - 1) = Slot[V]{}
		r.used--
	}
}

// compact squeezes the dead slots out, keeping the order.
func (r *Ring[V]) compact() {
	j := 0
	for i := range r.used {
		if s := r.at(i); s.live {
			if i != j {
				*r.at(j) = *s
			}
			j++
		}
	}
	for i := j; i < r.used; i++ {
		*r.at(i) = Slot[V]{}
	}
	r.used = j
}

// grow doubles the ring (to 16 at first).
func (r *Ring[V]) grow() {
	buf := make([]Slot[V], max(16, 2*len(r.buf)))
	for i := range r.used {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}
