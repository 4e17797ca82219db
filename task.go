package crew

import "context"

// The engine's record of one accepted job, and its recycling.

// task is the engine's record of one accepted job: what to run, and its
// place in the queue or in the line of blocked Submits. The Future, which
// the caller may keep forever, holds only the outcome; the task is recycled
// through the engine's free list once the job is over, unless the ctx
// watcher may still hold it (see recycleLocked).
//
// It is 64 bytes: what every queued job needs. What only some jobs need (a
// ctx watcher, guards, a blocked Submit's answer) is in extra, made the
// first time a task needs it and recycled with it. A queued job with a ctx
// that cannot end and no guards therefore costs the pool its task and its
// Future, and nothing else.
type task[T any] struct {
	fut *Future[T]
	job Job[T]
	ctx context.Context // the submitter's
	x   *taskExtra[T]   // nil until needed; kept across recycling

	// Queue bookkeeping, guarded by the engine's mu.
	prev, next *task[T] // FIFO links, a priority level's links, or the waiter line's
	enq        int64    // the priority queue's enqueue time, ns since its epoch (see prioQueue.push)
}

// taskExtra is the part of a task that only some jobs need. Its fields
// other than adm are guarded by the engine's mu; adm is written by Submit
// before the job is queued and read by the job's worker, or by settle.
type taskExtra[T any] struct {
	stop    func() bool   // stops the ctx watcher; nil when ctx cannot end
	adm     admission     // the Chain's guards and their Admit tickets; no guards if none
	retry   *retryPool[T] // the Retry the job is an attempt of; nil if none
	attempt int           // under Retry, which attempt this is, from 1
	ready   chan error    // a blocked Submit's answer (capacity 1), while it waits; see answerLocked
	prio    int           // priority level, while in a priority queue (for remove)
	seq     uint64        // arrival order in an extreme priority level (see prioQueue)

	queued  bool // in the queue now; kept only for a watched job
	waiting bool // in the waiter line now
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

// dequeued notes that t left the queue. Requires mu held.
func (t *task[T]) dequeued() {
	if t.x != nil {
		t.x.queued = false
	}
}

// outcome returns what delivering t's outcome needs, with v and err: its
// Future, and its Retry if it is an attempt of one. Take it before t is
// recycled.
func (t *task[T]) outcome(v T, err error, ran bool) finished[T] {
	d := finished[T]{fut: t.fut, v: v, err: err, ran: ran}
	if t.x != nil && t.x.retry != nil {
		d.retry, d.ctx, d.job, d.attempt = t.x.retry, t.ctx, t.job, t.x.attempt
	}
	return d
}

// guards returns t's admission, or nil if no guard admitted it.
func (t *task[T]) guards() *admission {
	if t.x == nil || t.x.adm.guards == nil {
		return nil
	}
	return &t.x.adm
}

// taskLocked returns a blank task, from the free list if it has one.
// Requires mu held.
func (e *engine[T]) taskLocked() *task[T] {
	t := e.free
	if t == nil {
		return new(task[T])
	}
	e.free, t.next = t.next, nil
	e.nfree--
	return t
}

// recycleLocked puts t on the free list. The caller must be t's last user:
// t is out of the queue and the waiter line, its Future is resolved or was
// never handed out, and its ctx watcher is stopped (stop returned true) or
// never existed, so no dropCanceled can come for it. Requires mu held.
func (e *engine[T]) recycleLocked(t *task[T]) {
	x := t.x
	*t = task[T]{}
	if e.nfree >= e.maxFree() || e.state == stateDone {
		return
	}
	if x != nil {
		tickets := x.adm.tickets[:0]
		*x = taskExtra[T]{}
		x.adm.tickets = tickets
		t.x = x
	}
	t.next = e.free
	e.free = t
	e.nfree++
}

// maxFreeTasks caps the free list whatever the queue size, so that a pool
// with a huge queue does not keep a huge free list after a burst.
const maxFreeTasks = 1 << 14

// maxFree is how many tasks the free list keeps: as many as can be queued
// and running at once, so a saturated pool allocates only Futures, up to
// maxFreeTasks.
func (e *engine[T]) maxFree() int { return min(satAdd(e.cap, e.max), maxFreeTasks) }
