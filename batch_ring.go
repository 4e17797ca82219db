package crew

import "sort"

// pendingSlot is one pending item of a Batcher: its value, its Future and
// what cutting it needs. A slot whose fut is nil is dead: its item left.
type pendingSlot[In, Out any] struct {
	fut  *Future[Out]
	in   In
	stop func() bool // stops the ctx watcher; nil when the ctx cannot end
	seq  uint64      // arrival order; unique
	enq  int64       // arrival time, ns since b.epoch (see enqueueLocked)
}

// pendingRing holds the pending items in arrival order, as values in a ring
// buffer: pushing and cutting an item writes no links and allocates
// nothing once the ring has grown. An item that leaves from the middle
// leaves a dead slot behind, skipped when it reaches the head and squeezed
// out when the ring is full, so the ring holds at most twice the live
// items it ever held at once. The Batcher's lock guards it.
type pendingRing[In, Out any] struct {
	buf  []pendingSlot[In, Out] // len 0 or a power of two
	head int                    // buf index of the oldest slot; live when n > 0
	used int                    // slots from head on, live or dead
	n    int                    // live slots: the pending items
}

// at returns the i-th slot from the head, i < r.used.
func (r *pendingRing[In, Out]) at(i int) *pendingSlot[In, Out] {
	return &r.buf[(r.head+i)&(len(r.buf)-1)]
}

// front returns the oldest pending item; r.n must be > 0.
func (r *pendingRing[In, Out]) front() *pendingSlot[In, Out] { return &r.buf[r.head] }

// push appends a live slot and returns it for the caller to fill in.
func (r *pendingRing[In, Out]) push(f *Future[Out], in In, seq uint64, enq int64) *pendingSlot[In, Out] {
	if r.used == len(r.buf) {
		if r.used > r.n {
			r.compact()
		} else {
			r.grow()
		}
	}
	// Field by field: a whole-struct copy takes the GC's bulk barrier.
	p := r.at(r.used)
	p.fut, p.in, p.seq, p.enq = f, in, seq, enq
	r.used++
	r.n++
	return p
}

// pop removes and returns the oldest pending item; r.n must be > 0.
func (r *pendingRing[In, Out]) pop() pendingSlot[In, Out] {
	p := r.front()
	s := *p
	*p = pendingSlot[In, Out]{}
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.used--
	r.n--
	r.trim()
	return s
}

// cut moves the n oldest pending items into bt, n <= r.n, and returns how
// many of them had a ctx watcher.
func (r *pendingRing[In, Out]) cut(n int, bt *batch[In, Out]) (watched int) {
	if r.used != r.n { // dead slots among them: one by one
		for range n {
			s := r.pop()
			bt.futs = append(bt.futs, s.fut)
			bt.ins = append(bt.ins, s.in)
			if s.stop != nil {
				watched++
				bt.stops = append(bt.stops, s.stop)
			}
		}
		return watched
	}
	// No dead slots: at most two runs of the buffer, copied and cleared whole.
	for n > 0 {
		seg := r.buf[r.head:min(r.head+n, len(r.buf))]
		for i := range seg {
			p := &seg[i]
			bt.futs = append(bt.futs, p.fut)
			bt.ins = append(bt.ins, p.in)
			if p.stop != nil {
				watched++
				bt.stops = append(bt.stops, p.stop)
			}
		}
		clear(seg)
		k := len(seg)
		r.head = (r.head + k) & (len(r.buf) - 1)
		r.used -= k
		r.n -= k
		n -= k
	}
	return watched
}

// find returns the index of the live slot of the item with seq, or -1.
// Slots are in seq order, dead ones too.
func (r *pendingRing[In, Out]) find(seq uint64) int {
	i := sort.Search(r.used, func(i int) bool { return r.at(i).seq >= seq })
	if i == r.used || r.at(i).seq != seq || r.at(i).fut == nil {
		return -1
	}
	return i
}

// kill makes the i-th slot dead and returns what it held.
func (r *pendingRing[In, Out]) kill(i int) pendingSlot[In, Out] {
	p := r.at(i)
	s := *p
	*p = pendingSlot[In, Out]{seq: s.seq} // keeps the order for find
	r.n--
	r.trim()
	return s
}

// trim drops dead slots at both ends, so the head is live.
func (r *pendingRing[In, Out]) trim() {
	for r.used > 0 && r.buf[r.head].fut == nil {
		r.buf[r.head] = pendingSlot[In, Out]{}
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.used--
	}
	for r.used > 0 && r.at(r.used-1).fut == nil {
		*r.at(r.used - 1) = pendingSlot[In, Out]{}
		r.used--
	}
}

// compact squeezes the dead slots out, keeping the order.
func (r *pendingRing[In, Out]) compact() {
	j := 0
	for i := range r.used {
		if s := r.at(i); s.fut != nil {
			if i != j {
				*r.at(j) = *s
			}
			j++
		}
	}
	for i := j; i < r.used; i++ {
		*r.at(i) = pendingSlot[In, Out]{}
	}
	r.used = j
}

// grow doubles the ring (to 16 at first).
func (r *pendingRing[In, Out]) grow() {
	buf := make([]pendingSlot[In, Out], max(16, 2*len(r.buf)))
	for i := range r.used {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}

// each calls fn for every live slot, oldest first.
func (r *pendingRing[In, Out]) each(fn func(*pendingSlot[In, Out])) {
	for i := range r.used {
		if s := r.at(i); s.fut != nil {
			fn(s)
		}
	}
}

// reset empties the ring, keeping its buffer.
func (r *pendingRing[In, Out]) reset() {
	clear(r.buf)
	r.head, r.used, r.n = 0, 0, 0
}
