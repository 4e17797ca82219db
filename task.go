package crew

import (
	"context"

	"github.com/crew-go/crew/internal/queue"
)

// task is the engine's record of one accepted job: what to run, and its
// place in the queue. The Future, which the caller may keep forever, holds
// only the outcome; the task is recycled through the engine's free list
// once the job is over, unless its ctx watcher may still hold it (see
// recycleLocked).
//
// It is 64 bytes: what every queued job needs. What only some jobs need (a
// ctx watcher, guards, a Retry) is in extra, made the first time a task
// needs it and recycled with it. A queued job with a ctx that cannot end
// and no guards therefore costs the pool its task and its Future, and
// nothing else.
type task[T any] struct {
	// The queue's links and the enqueue time; the first field, where the
	// queues find it. Guarded by the engine's mu.
	queue.Node[task[T]]

	fut *Future[T]
	job Job[T]
	ctx context.Context // the submitter's
	x   *taskExtra[T]   // nil until needed; kept across recycling
}

// taskExtra is the part of a task that only some jobs need. stop, queued,
// fired and awaited are guarded by the engine's mu; the rest is written by
// Submit before the job is queued and read by the job's worker, or by
// whoever delivers its outcome.
type taskExtra[T any] struct {
	stop    func() bool   // stops the ctx watcher; nil when ctx cannot end
	adm     admission     // the Chain's guards and their Admit tickets; no guards if none
	retry   *retryPool[T] // the Retry the job is an attempt of; nil if none
	attempt int           // under Retry, which attempt this is, from 1

	queued  bool // in the queue now; kept only for a watched job
	fired   bool // the ctx watcher has run (dropCanceled took mu)
	awaited bool // counted in settling until the fired watcher has run
}

// extra returns t's taskExtra, making it if t has none yet.
func (t *task[T]) extra() *taskExtra[T] {
	if t.x == nil {
		t.x = new(taskExtra[T])
	}
	return t.x
}

// stopWatch stops t's ctx watcher, if it has one, and reports whether t is
// free of it: there was none, or it was stopped before it fired.
func (t *task[T]) stopWatch() bool {
	return t.x == nil || t.x.stop == nil || t.x.stop()
}

// watched reports whether t has a ctx watcher.
func (t *task[T]) watched() bool { return t.x != nil && t.x.stop != nil }

// dequeued notes that t left the queue. Requires mu held.
func (t *task[T]) dequeued() {
	if t.x != nil {
		t.x.queued = false
	}
}

// guards returns t's admission, or nil if no guard admitted it.
func (t *task[T]) guards() *admission {
	if t.x == nil || t.x.adm.guards == nil {
		return nil
	}
	return &t.x.adm
}

// outcome returns what delivering t's outcome takes, with v, err and how
// the job left: its Future, and its Retry if it is an attempt of one. Take
// it before t is recycled.
func (t *task[T]) outcome(v T, err error, k outcome) delivery[T] {
	d := delivery[T]{fut: t.fut, v: v, err: err, kind: k}
	if t.x != nil && t.x.retry != nil {
		d.retry, d.ctx, d.job, d.attempt = t.x.retry, t.ctx, t.job, t.x.attempt
	}
	return d
}

// delivery is a job's outcome, counted and not yet delivered: delivered,
// it resolves the job's Future or, for an attempt of a Retry, goes to the
// Retry, which resolves the Future or tries again. The zero value delivers
// nothing.
type delivery[T any] struct {
	fut  *Future[T]
	v    T
	err  error
	kind outcome

	// Under Retry: the Retry, and what it needs to try again.
	retry   *retryPool[T]
	ctx     context.Context
	job     Job[T]
	attempt int
}

// deliver resolves d's Future, or hands d to its Retry, and clears d. It
// may run user code when userCode says so; callers then hold no lock.
func (d *delivery[T]) deliver() {
	switch {
	case d.fut == nil:
		return
	case d.retry != nil:
		d.retry.outcome(d)
	default:
		d.fut.resolve(d.v, d.err, 0)
	}
	*d = delivery[T]{}
}

// userCode reports whether delivering d may call user code, which must not
// run under a lock: a failed attempt goes to its Retry's policy.
func (d *delivery[T]) userCode() bool { return d.retry != nil && d.err != nil }

// taskLocked returns a blank task, from the free list if it has one.
// Requires mu held.
func (e *engine[T]) taskLocked() *task[T] {
	if t := e.free.PopFront(); t != nil {
		return t
	}
	return new(task[T])
}

// recycleLocked puts t on the free list. The caller must be t's last user:
// t is out of the queue, its Future is resolved or was never handed out,
// and its ctx watcher is stopped (stop returned true) or never existed, so
// no dropCanceled can come for it. Requires mu held.
func (e *engine[T]) recycleLocked(t *task[T]) {
	x := t.x
	*t = task[T]{}
	if e.free.Len() >= e.maxFree() || e.state == stateDone {
		return
	}
	if x != nil {
		tickets := x.adm.tickets[:0]
		*x = taskExtra[T]{}
		x.adm.tickets = tickets
		t.x = x
	}
	e.free.PushFront(t)
}

// maxFreeTasks caps the free list whatever the queue size, so that a pool
// with a huge queue does not keep a huge free list after a burst.
const maxFreeTasks = 1 << 14

// maxFree is how many tasks the free list keeps: as many as can be queued
// and running at once, so a saturated pool allocates only Futures, up to
// maxFreeTasks.
func (e *engine[T]) maxFree() int { return min(satAdd(e.cap, e.max), maxFreeTasks) }
