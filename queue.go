package crew

import (
	"time"

	"github.com/crew-go/crew/internal/queue"
)

// newFIFO returns a FIFO discipline, with a clock if the pool has an
// Observer.
func newFIFO[T any](c *config) *fifoQueue[T] {
	q := &fifoQueue[T]{}
	if c.observer != nil {
		epoch := time.Now()
		q.clock = func() int64 { return int64(time.Since(epoch)) }
	}
	return q
}

// The engine's queue disciplines: internal/queue's, over tasks, with a
// job's priority read from its ctx (WithPriority). Every method but stamp
// requires the engine's mu held.

// fifoQueue runs jobs in the order they were submitted. Its clock, set
// only when an Observer wants the jobs' waits, gives the enqueue stamps.
type fifoQueue[T any] struct {
	q     queue.FIFO[task[T]]
	clock func() int64 // nil: stamps are 0
}

func (f *fifoQueue[T]) stamp() int64 {
	if f.clock == nil {
		return 0
	}
	return f.clock()
}
func (f *fifoQueue[T]) push(t *task[T])            { f.q.Push(t, 0) }
func (f *fifoQueue[T]) pop() *task[T]              { return f.q.Pop() }
func (f *fifoQueue[T]) remove(t *task[T])          { f.q.Remove(t, 0) }
func (f *fifoQueue[T]) len() int                   { return f.q.Len() }
func (f *fifoQueue[T]) evictFor(*task[T]) *task[T] { return nil }

// prioQueue runs the job of the highest priority first, with aging.
type prioQueue[T any] struct {
	q *queue.Priority[task[T]]
}

func (p prioQueue[T]) stamp() int64      { return p.q.Now() }
func (p prioQueue[T]) push(t *task[T])   { p.q.Push(t, priorityOf(t.ctx)) }
func (p prioQueue[T]) pop() *task[T]     { return p.q.Pop() }
func (p prioQueue[T]) remove(t *task[T]) { p.q.Remove(t, priorityOf(t.ctx)) }
func (p prioQueue[T]) len() int          { return p.q.Len() }
func (p prioQueue[T]) evictFor(t *task[T]) *task[T] {
	return p.q.EvictFor(priorityOf(t.ctx), t.Enq)
}
