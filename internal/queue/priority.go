package queue

import (
	"time"

	"github.com/crew-go/crew/internal/list"
)

// Priority is the priority discipline: highest priority first, first in,
// first out among equals, and aging, so that a waiting element gains one
// level per step waited.
//
// Order: an element's rank is its key, lower first, then its enqueue time,
// then its arrival. The key is not stored: it is worked out from the
// element's enqueue time and its level. With aging the key is
// enq - prio*step (see credit): comparing two elements' effective
// priorities prio + (now-enq)/step at any instant gives the same answer as
// comparing their keys, so the order never changes while elements wait and
// nothing is ever re-sorted. Without aging (strict) the key is ^prio, which
// orders by priority, highest first, and cannot overflow.
//
// Ties: within a level the list keeps arrival order. Across levels, with
// aging, equal keys and different enqueue times put the earlier one first;
// equal keys and equal times mean equal credits, so both levels' credits
// are clamped (extreme levels, see maxCredit). Only the elements of extreme
// levels get a sequence number, kept on the side, to settle that case; in
// strict order, different levels never have equal keys.
//
// Structure: one FIFO list per priority level, and a binary min-heap of the
// non-empty levels ordered by their head. Within a level the keys never
// decrease from head to tail (the clock is monotonic and the credit is the
// level's), so a level's head is its best element and the heap's top level
// holds the best element of all. With eviction on, a second heap (a
// max-heap of the levels' tails) finds the worst element the same way.
//
// Costs, with L the number of non-empty levels: Push O(log L) (a map
// look-up, and a sift only when the level was empty or with eviction on),
// Pop and Remove O(log L), no allocation once a level has been seen, and no
// per-element memory beyond the element's Node.
type Priority[E any] struct {
	now   func() int64 // ns since an epoch; never decreases
	step  int64        // aging step in ns; 0 is strict priority
	limit int64        // |prio| above which prio*step is clamped to maxCredit
	evict bool         // EvictFor may evict

	levels map[int]*level[E] // every level seen lately, empty or not
	spare  int               // empty levels kept in levels
	heads  levelHeap[E]      // non-empty levels, best head first
	tails  levelHeap[E]      // non-empty levels, worst tail first; only with evict
	seq    uint64            // sequence number of the last push to an extreme level
	seqs   map[*E]uint64     // the queued elements of extreme levels, by arrival
	n      int
}

// level is the FIFO of one priority level's queued elements.
type level[E any] struct {
	prio    int
	strict  bool  // no aging: every element's key is ^prio
	credit  int64 // with aging, what an element's key takes off its enqueue time
	extreme bool  // with aging, credit is ±maxCredit: its elements get sequence numbers
	items   list.List[E]
	hi, ti  int // index in heads and in tails; -1 when not there
}

// maxCredit bounds prio*step, so that enq - credit cannot overflow while enq
// stays below 2^62 ns (146 years since the queue was made).
const maxCredit = 1 << 62

// maxSpareLevels is how many empty levels the queue keeps, beyond as many
// as it has non-empty ones, before it forgets them. Keeping them spares a
// map insert and an allocation each time a level's last element leaves and
// its next one arrives.
const maxSpareLevels = 64

// NewPriority returns an empty priority queue aging by step (0: strict
// priority), which may evict its worst element for a better one if evict
// is set. Its clock starts now.
func NewPriority[E any](step time.Duration, evict bool) *Priority[E] {
	epoch := time.Now()
	q := &Priority[E]{
		now:    func() int64 { return int64(time.Since(epoch)) },
		step:   int64(step),
		evict:  evict,
		levels: make(map[int]*level[E]),
		tails:  levelHeap[E]{tail: true},
	}
	if step > 0 {
		q.limit = int64(maxCredit / step)
	}
	return q
}

// SetClock replaces the queue's clock, for tests; now must never decrease.
func (q *Priority[E]) SetClock(now func() int64) { q.now = now }

// Now reads the queue's clock: the enqueue time to give an element about
// to be pushed. Reading it before taking the pool's lock keeps the lock
// short.
func (q *Priority[E]) Now() int64 { return q.now() }

// keyOf returns the ordering key of an element of priority prio queued at
// enq.
func (q *Priority[E]) keyOf(prio int, enq int64) int64 {
	if q.step == 0 {
		return ^int64(prio) // -prio-1: higher priority, lower key
	}
	return enq - q.credit(prio)
}

// credit is prio*step, clamped to ±maxCredit.
func (q *Priority[E]) credit(prio int) int64 {
	switch p := int64(prio); {
	case p > q.limit:
		return maxCredit
	case p < -q.limit:
		return -maxCredit
	}
	return int64(prio) * q.step
}

// Push queues e with priority prio. Its enqueue time, in its Node, was read
// from Now before the caller took its lock; if an element pushed since
// read the clock later, e takes that one's time, so that within a level the
// times never decrease (the order's invariant) and an element is never
// credited with more waiting than it did.
func (q *Priority[E]) Push(e *E, prio int) {
	l := q.level(prio)
	nd := node(e)
	if tail := l.items.Back(); tail != nil && nd.Enq < node(tail).Enq {
		nd.Enq = node(tail).Enq // a later reading got the lock first
	}
	if l.extreme {
		q.seq++
		if q.seqs == nil {
			q.seqs = make(map[*E]uint64)
		}
		q.seqs[e] = q.seq
	}
	l.items.PushBack(e)
	q.n++
	if l.items.Len() == 1 {
		q.spare--
		q.heads.push(l, q)
		if q.evict {
			q.tails.push(l, q)
		}
	} else if q.evict {
		q.tails.up(l.ti, q) // the tail got worse
	}
}

// Pop removes and returns the best element, nil when empty.
func (q *Priority[E]) Pop() *E {
	if q.n == 0 {
		return nil
	}
	l := q.heads.s[0]
	e := l.items.Front()
	q.unlink(l, e)
	return e
}

// Remove takes out e, if it is queued with priority prio, and reports
// whether it was. e must be in this queue or in no list.
func (q *Priority[E]) Remove(e *E, prio int) bool {
	l := q.levels[prio]
	if l == nil || !l.items.Contains(e) {
		return false
	}
	q.unlink(l, e)
	return true
}

// Len returns the number of queued elements.
func (q *Priority[E]) Len() int { return q.n }

// EvictFor removes and returns the worst queued element (the newest of the
// lowest rank) if an element of priority prio queued at enq would rank
// strictly above it; with eviction off, or when nothing ranks below, it
// returns nil.
func (q *Priority[E]) EvictFor(prio int, enq int64) *E {
	if !q.evict || q.n == 0 {
		return nil
	}
	l := q.tails.s[0]
	victim := l.items.Back()
	// The newcomer would come later than victim, so it ranks above victim
	// only with a strictly smaller key.
	if q.keyOf(prio, enq) >= l.key(victim) {
		return nil
	}
	q.unlink(l, victim)
	return victim
}

// Oldest returns the priority and the wait of the element that has waited
// longest, and false when empty; of heads queued at the same instant, the
// lowest level's. It costs O(L): every level's head is its oldest element.
func (q *Priority[E]) Oldest() (prio int, wait time.Duration, ok bool) {
	var o *level[E]
	for _, l := range q.heads.s {
		if o == nil || l.headEnq() < o.headEnq() || l.headEnq() == o.headEnq() && l.prio < o.prio {
			o = l
		}
	}
	if o == nil {
		return 0, 0, false
	}
	return o.prio, time.Duration(q.now() - o.headEnq()), true
}

// Levels calls fn for every non-empty level with its number of elements,
// in no particular order. It costs O(L).
func (q *Priority[E]) Levels(fn func(prio, n int)) {
	for _, l := range q.heads.s {
		fn(l.prio, l.items.Len())
	}
}

// unlink takes e out of its level l and restores the heaps.
func (q *Priority[E]) unlink(l *level[E], e *E) {
	wasHead, wasTail := l.items.Front() == e, l.items.Back() == e
	l.items.Remove(e)
	if l.extreme {
		delete(q.seqs, e)
	}
	q.n--
	if l.items.Len() == 0 {
		q.heads.remove(l.hi, q)
		if q.evict {
			q.tails.remove(l.ti, q)
		}
		q.retire(l)
		return
	}
	if wasHead {
		q.heads.down(l.hi, q) // the head got worse
	}
	if wasTail && q.evict {
		q.tails.down(l.ti, q) // the tail got better
	}
}

// level returns prio's level, creating it if needed. A level found or made
// here that is empty counts as spare until Push fills it.
func (q *Priority[E]) level(prio int) *level[E] {
	l := q.levels[prio]
	if l == nil {
		l = &level[E]{prio: prio, strict: q.step == 0, hi: -1, ti: -1}
		if !l.strict {
			l.credit = q.credit(prio)
			l.extreme = l.credit == maxCredit || l.credit == -maxCredit
		}
		q.levels[prio] = l
		q.spare++
	}
	return l
}

// retire notes that l became empty, and forgets the empty levels once there
// are many of them: the sweep costs O(levels) and happens once per more
// than maxSpareLevels levels emptied, so O(1) per operation amortized.
func (q *Priority[E]) retire(l *level[E]) {
	q.spare++
	if q.spare <= maxSpareLevels || q.spare <= len(q.levels)-q.spare {
		return
	}
	for p, l := range q.levels {
		if l.items.Len() == 0 {
			delete(q.levels, p)
		}
	}
	q.spare = 0
}

// headEnq is the enqueue time of l's head, its oldest element.
func (l *level[E]) headEnq() int64 { return node(l.items.Front()).Enq }

// key is the ordering key of e, an element of level l (see keyOf).
func (l *level[E]) key(e *E) int64 {
	if l.strict {
		return ^int64(l.prio)
	}
	return node(e).Enq - l.credit
}

// before reports whether a, an element of level la, ranks above b, an
// element of another level lb: it comes out first.
func (q *Priority[E]) before(la *level[E], a *E, lb *level[E], b *E) bool {
	ka, kb := la.key(a), lb.key(b)
	if ka != kb {
		return ka < kb
	}
	if ea, eb := node(a).Enq, node(b).Enq; ea != eb {
		return ea < eb
	}
	return q.seqs[a] < q.seqs[b] // both levels are extreme (see Priority)
}
