package crew

import (
	"context"
	"time"
)

// prioQueue is the priority pool's queue discipline.
//
// Order: a job's rank is its key, lower first, then its enqueue time (when
// its Submit read the clock), then its arrival. The key is not stored: it
// is worked out from the job's enqueue time and its level.
// With aging the key is enq - prio*step (see credit): comparing two jobs'
// effective priorities prio + (now-enq)/step at any instant gives the same
// answer as comparing their keys, so the order never changes while jobs wait
// and nothing is ever re-sorted. Without aging (strict) the key is ^prio,
// which orders by priority, highest first, and cannot overflow.
//
// Ties: within a level the list keeps arrival order. Across levels, with
// aging, equal keys and different enqueue times put the earlier one first;
// equal keys and equal times mean equal credits, so both levels' credits are
// clamped (extreme levels, see maxCredit). Only the jobs of extreme levels
// carry a sequence number (in their task's extra), to settle that case; in
// strict order, different levels never have equal keys.
//
// Structure: one FIFO list per priority level, linked through the tasks,
// and a binary min-heap of the non-empty levels ordered by their head job.
// Within a level the keys never decrease from head to tail (the clock is
// monotonic and the credit is the level's), and the sequence numbers grow, so
// a level's head is its best job and the heap's top level holds the best job
// of all. With eviction on, a second heap (a max-heap of the levels' tails)
// finds the worst job the same way.
//
// Costs, with L the number of non-empty levels (L <= n): push O(log L) (a map
// look-up and a sift only when the level was empty, or with eviction on),
// pop and remove O(log L), no allocation once a level has been seen, and no
// per-job memory beyond the task's links and its enqueue time.
//
// Every method requires the engine's mu held.
type prioQueue[T any] struct {
	now   func() int64 // ns since an epoch; never decreases
	step  int64        // aging step in ns; 0 is strict priority
	limit int64        // |prio| above which prio*step is clamped to maxCredit
	evict bool         // WithEvictLowest

	levels map[int]*prioLevel[T] // every level seen lately, empty or not
	spare  int                   // empty levels kept in levels
	heads  levelHeap[T]          // non-empty levels, best head first
	tails  levelHeap[T]          // non-empty levels, worst tail first; only with evict
	seq    uint64                // sequence number of the last push to an extreme level
	n      int
}

// prioLevel is the FIFO of one priority level's queued jobs.
type prioLevel[T any] struct {
	prio       int
	strict     bool  // no aging: every job's key is ^prio
	credit     int64 // with aging, what a job's key takes off its enqueue time
	extreme    bool  // with aging, credit is ±maxCredit: its jobs get sequence numbers
	head, tail *task[T]
	n          int
	hi, ti     int // index in heads and in tails; -1 when not there
}

// maxCredit bounds prio*step, so that enq - credit cannot overflow while enq
// stays below 2^62 ns (146 years since the pool started).
const maxCredit = 1 << 62

// maxSpareLevels is how many empty levels the queue keeps, beyond as many as
// it has non-empty ones, before it forgets them. Keeping them spares a
// map insert and an allocation each time a level's last job leaves and its
// next one arrives.
const maxSpareLevels = 64

func newPrioQueue[T any](step time.Duration, evict bool) *prioQueue[T] {
	epoch := time.Now()
	q := &prioQueue[T]{
		now:    func() int64 { return int64(time.Since(epoch)) },
		step:   int64(step),
		evict:  evict,
		levels: make(map[int]*prioLevel[T]),
		tails:  levelHeap[T]{tail: true},
	}
	if step > 0 {
		q.limit = int64(maxCredit / step)
	}
	return q
}

// keyOf returns the ordering key of a job of priority prio queued at enq.
func (q *prioQueue[T]) keyOf(prio int, enq int64) int64 {
	if q.step == 0 {
		return ^int64(prio) // -prio-1: higher priority, lower key
	}
	return enq - q.credit(prio)
}

// credit is prio*step, clamped to ±maxCredit.
func (q *prioQueue[T]) credit(prio int) int64 {
	switch p := int64(prio); {
	case p > q.limit:
		return maxCredit
	case p < -q.limit:
		return -maxCredit
	}
	return int64(prio) * q.step
}

// push queues f. Its enqueue time f.enq was read from q.now by Submit
// before it took the lock, or by the engine as it let a blocked Submit in;
// if a Submit that read the clock later got the
// lock first, f takes that one's time, so that within a level the times
// never decrease (the order's invariant) and a job is never credited with
// more waiting than it did.
func (q *prioQueue[T]) push(f *task[T]) {
	prio := priorityOf(f.ctx)
	if f.x != nil {
		f.x.prio = prio // for remove
	}
	l := q.level(prio)
	if l.tail != nil && f.enq < l.tail.enq {
		f.enq = l.tail.enq // a later Submit took the lock first
	}
	if l.extreme {
		q.seq++
		f.extra().seq = q.seq
	}
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
	l.n++
	q.n++
	if l.n == 1 {
		q.spare--
		q.heads.push(l)
		if q.evict {
			q.tails.push(l)
		}
	} else if q.evict {
		q.tails.up(l.ti) // the tail got worse
	}
}

func (q *prioQueue[T]) pop() *task[T] {
	if q.n == 0 {
		return nil
	}
	l := q.heads.s[0]
	f := l.head
	q.unlink(l, f)
	return f
}

// remove takes a queued job out. Only a job with a ctx watcher is removed
// this way, and such a task has its extra, where push noted its level.
func (q *prioQueue[T]) remove(f *task[T]) { q.unlink(q.levels[f.x.prio], f) }

// unlink takes f out of its level l and restores the heaps.
func (q *prioQueue[T]) unlink(l *prioLevel[T], f *task[T]) {
	wasHead, wasTail := l.head == f, l.tail == f
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
	l.n--
	q.n--
	if l.n == 0 {
		q.heads.remove(l.hi)
		if q.evict {
			q.tails.remove(l.ti)
		}
		q.retire(l)
		return
	}
	if wasHead {
		q.heads.down(l.hi) // the head got worse
	}
	if wasTail && q.evict {
		q.tails.down(l.ti) // the tail got better
	}
}

func (q *prioQueue[T]) len() int { return q.n }

// evictFor removes and returns the worst queued job (the newest of the
// lowest rank) if f, queued at f.enq, would rank strictly above it; with
// eviction off, or when nothing ranks below f, it returns nil.
func (q *prioQueue[T]) evictFor(f *task[T]) *task[T] {
	if !q.evict || q.n == 0 {
		return nil
	}
	l := q.tails.s[0]
	victim := l.tail
	// f would come later than victim, so it ranks above victim only with a
	// strictly smaller key.
	if q.keyOf(priorityOf(f.ctx), f.enq) >= l.key(victim) {
		return nil
	}
	q.unlink(l, victim)
	return victim
}

// level returns prio's level, creating it if needed. A level found or made
// here that is empty counts as spare until push fills it.
func (q *prioQueue[T]) level(prio int) *prioLevel[T] {
	l := q.levels[prio]
	if l == nil {
		l = &prioLevel[T]{prio: prio, strict: q.step == 0, hi: -1, ti: -1}
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
func (q *prioQueue[T]) retire(l *prioLevel[T]) {
	q.spare++
	if q.spare <= maxSpareLevels || q.spare <= len(q.levels)-q.spare {
		return
	}
	for p, l := range q.levels {
		if l.n == 0 {
			delete(q.levels, p)
		}
	}
	q.spare = 0
}

// oldest returns the level whose head has waited longest, nil if none; of
// heads queued at the same instant, the lowest level's. It costs O(L):
// every level's head is its oldest job.
func (q *prioQueue[T]) oldest() *prioLevel[T] {
	var o *prioLevel[T]
	for _, l := range q.heads.s {
		if o == nil || l.head.enq < o.head.enq || l.head.enq == o.head.enq && l.prio < o.prio {
			o = l
		}
	}
	return o
}

// key is the ordering key of t, a job of level l (see keyOf).
func (l *prioLevel[T]) key(t *task[T]) int64 {
	if l.strict {
		return ^int64(l.prio)
	}
	return t.enq - l.credit
}

// before reports whether a, a job of level la, ranks above b, a job of
// another level lb: it runs first.
func before[T any](la *prioLevel[T], a *task[T], lb *prioLevel[T], b *task[T]) bool {
	ka, kb := la.key(a), lb.key(b)
	if ka != kb {
		return ka < kb
	}
	if a.enq != b.enq {
		return a.enq < b.enq
	}
	return a.x.seq < b.x.seq // both levels are extreme (see prioQueue)
}

// levelHeap is a binary heap of levels that keeps each level's index in it.
// By default it is a min-heap of the levels' heads; with tail set, a
// max-heap of their tails.
type levelHeap[T any] struct {
	s    []*prioLevel[T]
	tail bool
}

// less reports whether the level at i belongs above the one at j.
func (h *levelHeap[T]) less(i, j int) bool {
	a, b := h.s[i], h.s[j]
	if h.tail {
		return before(b, b.tail, a, a.tail)
	}
	return before(a, a.head, b, b.head)
}

func (h *levelHeap[T]) setIndex(i int) {
	if h.tail {
		h.s[i].ti = i
	} else {
		h.s[i].hi = i
	}
}

func (h *levelHeap[T]) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.setIndex(i)
	h.setIndex(j)
}

func (h *levelHeap[T]) push(l *prioLevel[T]) {
	h.s = append(h.s, l)
	h.setIndex(len(h.s) - 1)
	h.up(len(h.s) - 1)
}

// remove takes the level at i out of the heap.
func (h *levelHeap[T]) remove(i int) {
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
		h.down(i)
		h.up(i)
	}
}

func (h *levelHeap[T]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *levelHeap[T]) down(i int) {
	n := len(h.s)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if r := c + 1; r < n && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// priorityOf returns the priority WithPriority put in ctx, or 0.
func priorityOf(ctx context.Context) int {
	p, _ := ctx.Value(priorityKey{}).(int)
	return p
}
