package crew

import (
	"context"
	"sync"
	"time"

	"github.com/crew-go/crew/internal/list"
	"github.com/crew-go/crew/internal/queue"
)

// jobQueue is the engine's queue: a discipline of internal/queue (first in
// first out, or by priority) and the free list of task records, under a
// lock of their own. The lock is held for a few instructions per
// operation, apart from the engine's mutex, so that Submit and a worker
// taking its next job meet only here, briefly. When both are needed, the
// engine's mutex is taken first.
type jobQueue[T any] struct {
	mu   sync.Mutex
	d    discipline[T]
	free list.List[task[T]] // finished task records for reuse
	keep int                // how many the free list keeps; 0 once the pool is done
}

// discipline is a queue order (queue.go's fifo and prio). Every method
// requires the jobQueue's mu held, but stamp.
type discipline[T any] interface {
	// stamp returns the enqueue time for a task about to be pushed, read
	// before the lock. A discipline that does not age returns 0 and reads
	// no clock, unless an Observer wants the jobs' waits.
	stamp() int64
	push(t *task[T])
	pop() *task[T] // nil when empty
	remove(t *task[T]) bool
	len() int
	// evictFor may remove and return a queued job of lower rank than t to
	// make room for t; nil when it will not.
	evictFor(t *task[T]) *task[T]
}

// maxFreeTasks caps the free list whatever the queue size, so that a pool
// with a huge queue does not keep a huge free list after a burst.
const maxFreeTasks = 1 << 14

func newJobQueue[T any](d discipline[T], keep int) *jobQueue[T] {
	return &jobQueue[T]{d: d, keep: min(keep, maxFreeTasks)}
}

func (q *jobQueue[T]) stamp() int64 { return q.d.stamp() }

// get returns a blank task record, from the free list if it has one.
func (q *jobQueue[T]) get() *task[T] {
	q.mu.Lock()
	t := q.free.PopFront()
	q.mu.Unlock()
	if t == nil {
		t = new(task[T])
	}
	return t
}

// pushNew queues a job from a record of its own (recycled or new), in one
// hold of the lock: for a job with no extras, whose ctx cannot end.
func (q *jobQueue[T]) pushNew(f *Future[T], job Job[T], ctx context.Context, enq int64) {
	q.mu.Lock()
	t := q.free.PopFront()
	if t == nil {
		q.mu.Unlock() // allocate outside the lock
		t = new(task[T])
		q.mu.Lock()
	}
	t.fut, t.job, t.ctx, t.Enq = f, job, ctx, enq
	q.d.push(t)
	q.mu.Unlock()
}

// push queues t.
func (q *jobQueue[T]) push(t *task[T]) {
	q.mu.Lock()
	q.d.push(t)
	q.mu.Unlock()
}

// take recycles done (see recycleLocked; nil: none) and pops the next task,
// nil when the queue is empty, in one hold of the lock.
func (q *jobQueue[T]) take(done *task[T]) *task[T] {
	q.mu.Lock()
	if done != nil {
		q.recycleLocked(done)
	}
	t := q.d.pop()
	q.mu.Unlock()
	return t
}

// recycle keeps t for reuse. The caller must be t's last user: t is out of
// the queue, its Future is resolved or was never handed out, and its ctx
// watcher is stopped (stop returned true) or never existed.
func (q *jobQueue[T]) recycle(t *task[T]) {
	q.mu.Lock()
	q.recycleLocked(t)
	q.mu.Unlock()
}

func (q *jobQueue[T]) recycleLocked(t *task[T]) {
	x := t.x
	*t = task[T]{}
	if q.free.Len() >= q.keep {
		return
	}
	if x != nil {
		tickets := x.adm.tickets[:0]
		*x = taskExtra[T]{}
		x.adm.tickets = tickets
		t.x = x
	}
	q.free.PushFront(t)
}

// remove takes t out of the queue and reports whether it was queued.
func (q *jobQueue[T]) remove(t *task[T]) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.d.remove(t)
}

// len returns the number of queued tasks.
func (q *jobQueue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.d.len()
}

// evictFor asks the discipline for a victim to make room for t.
func (q *jobQueue[T]) evictFor(t *task[T]) *task[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.d.evictFor(t)
}

// popAll empties the queue and returns what it held.
func (q *jobQueue[T]) popAll() []*task[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ts []*task[T]
	for t := q.d.pop(); t != nil; t = q.d.pop() {
		ts = append(ts, t)
	}
	return ts
}

// end lets go of the free list: the pool is done.
func (q *jobQueue[T]) end() {
	q.mu.Lock()
	q.free, q.keep = list.List[task[T]]{}, 0
	q.mu.Unlock()
}

// The disciplines over tasks, with a job's priority read from its ctx
// (WithPriority).

// fifo runs jobs in the order they were submitted. Its clock, set only
// when an Observer wants the jobs' waits, gives the enqueue stamps.
type fifo[T any] struct {
	q     queue.FIFO[task[T]]
	clock func() int64 // nil: stamps are 0
}

// newFIFO returns a FIFO discipline, with a clock if the pool has an
// Observer.
func newFIFO[T any](c *config) *fifo[T] {
	f := &fifo[T]{}
	if c.observer != nil {
		f.clock = clockSince(time.Now())
	}
	return f
}

func (f *fifo[T]) stamp() int64 {
	if f.clock == nil {
		return 0
	}
	return f.clock()
}
func (f *fifo[T]) push(t *task[T])            { f.q.Push(t, 0) }
func (f *fifo[T]) pop() *task[T]              { return f.q.Pop() }
func (f *fifo[T]) remove(t *task[T]) bool     { return f.q.Remove(t, 0) }
func (f *fifo[T]) len() int                   { return f.q.Len() }
func (f *fifo[T]) evictFor(*task[T]) *task[T] { return nil }

// prio runs the job of the highest priority first, with aging.
type prio[T any] struct {
	q *queue.Priority[task[T]]
}

func (p prio[T]) stamp() int64           { return p.q.Now() }
func (p prio[T]) push(t *task[T])        { p.q.Push(t, priorityOf(t.ctx)) }
func (p prio[T]) pop() *task[T]          { return p.q.Pop() }
func (p prio[T]) remove(t *task[T]) bool { return p.q.Remove(t, priorityOf(t.ctx)) }
func (p prio[T]) len() int               { return p.q.Len() }
func (p prio[T]) evictFor(t *task[T]) *task[T] {
	return p.q.EvictFor(priorityOf(t.ctx), t.Enq)
}
