package crew

import (
	"context"
	"sync/atomic"

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

// taskExtra is the part of a task that only some jobs need. It is written
// by Submit before the job is queued and read by the job's worker, or by
// whoever delivers its outcome; state and waited are atomics, which those
// who race for the job (its worker, its ctx watcher, Close) settle with.
type taskExtra[T any] struct {
	stop  func() bool   // stops the ctx watcher; nil when ctx cannot end
	adm   admission     // the Chain's guards and their Admit tickets; no guards if none
	retry *retryPool[T] // the Retry the job is an attempt of; nil if none
	tries tries         // under Retry, this attempt's place in the job's history

	// state is a watched job's place: queued, then taken by a worker or
	// gone (its ctx watcher, an eviction or Close took it out); whoever
	// moves it from queued owns the job.
	state atomic.Uint32
	// waited tells a fired ctx watcher and whoever waits for it apart:
	// running, then done (the callback finished first) or awaited (Close
	// counts it in settling until the callback finishes).
	waited atomic.Uint32
}

// Watched job states (taskExtra.state).
const (
	taskQueued uint32 = iota + 1
	taskTaken
	taskGone
)

// Fired watcher states (taskExtra.waited).
const (
	watcherRunning uint32 = iota
	watcherDone
	watcherAwaited
)

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
		d.retry, d.ctx, d.job, d.tries = t.x.retry, t.ctx, t.job, t.x.tries
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
	retry *retryPool[T]
	ctx   context.Context
	job   Job[T]
	tries tries
}

// deliver resolves d's Future, or hands d to its Retry, and clears d. It
// may run user code (a failed attempt goes to its Retry's policy), so
// callers hold no lock.
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
