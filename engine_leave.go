package crew

import (
	"context"
	"math"
	"time"
)

// How jobs leave the engine without running (their ctx ended, a full
// priority queue evicted them, Close gave up), the engine's side of its
// lifecycle, and its Stats.

// dropCanceled runs when a queued job's ctx ends: the job leaves the queue
// and resolves with the ctx error at once, unless a worker took it first.
//
// t cannot have been recycled meanwhile: a task is recycled only once its
// watcher was stopped before it ran (stop returned true).
func (e *engine[T]) dropCanceled(t *task[T]) {
	if !t.x.state.CompareAndSwap(taskQueued, taskGone) {
		e.watcherDone(t) // a worker took it, or it left another way
		return
	}
	e.q.remove(t)
	e.leave(t)
	e.settleOne(t.ctx.Err(), t, true)
}

// claimLeave claims t, a queued job taken out of the queue by someone
// other than a worker, for leaving without running; false means its ctx
// watcher claimed it first and handles it.
func (e *engine[T]) claimLeave(t *task[T]) bool {
	return !t.watched() || t.x.state.CompareAndSwap(taskQueued, taskGone)
}

// leave accounts for a job that left the queue and will never run; the
// caller must then call settle for it. Until settle is done the pool does
// not count as done, so Close never returns before the job's Future is
// resolved.
func (e *engine[T]) leave(t *task[T]) {
	e.count(outcomeCanceled, 1)
	e.mu.Lock()
	e.settling++
	e.mu.Unlock()
	e.inflight.Add(-1) // settle checks whether the pool is done
	e.freed()
}

// freed lets blocked Submits into room that a job leaving freed.
func (e *engine[T]) freed() {
	if e.nwaiting.Load() > 0 {
		e.mu.Lock()
		e.grantLocked()
		e.mu.Unlock()
	}
}

// settle finishes jobs that leave took out: their guards learn that they
// will not start, then their outcome (err) is delivered. Guards hear
// first, so a caller who sees the error and resubmits finds them up to date.
func (e *engine[T]) settle(err error, ts ...*task[T]) {
	for _, t := range ts {
		e.settleOne(err, t, false)
	}
}

// settleOne is settle for one job; inWatcher says it runs in the job's
// own ctx watcher, which Close need not wait for besides.
func (e *engine[T]) settleOne(err error, t *task[T], inWatcher bool) {
	stopped := inWatcher || t.stopWatch()
	t.guards().abandon(0)
	if e.obs != nil {
		e.obs.jobDone(JobInfo{Wait: time.Duration(e.q.stamp() - t.Enq), Err: err})
	}
	d := t.outcome(*new(T), err, outcomeCanceled)
	d.deliver()
	switch {
	case inWatcher: // the watcher holds t: never recycled
	case stopped:
		e.q.recycle(t)
	default:
		e.awaitWatcher(t)
	}
	e.mu.Lock()
	e.settledLocked(1)
	e.mu.Unlock()
}

// awaitWatcher is for a task whose ctx watcher could not be stopped because
// it fired: until the callback has run, Close does not count the pool as
// done, so no goroutine of the pool outlives Close. Such a task is never
// recycled (the callback still holds it).
func (e *engine[T]) awaitWatcher(t *task[T]) {
	if t.x.waited.CompareAndSwap(watcherRunning, watcherAwaited) {
		e.mu.Lock()
		e.settling++
		e.mu.Unlock()
	}
}

// watcherDone is the end of a ctx watcher's callback that found its task
// taken: if Close has been waiting for it, it waits no more.
func (e *engine[T]) watcherDone(t *task[T]) {
	if !t.x.waited.CompareAndSwap(watcherRunning, watcherDone) {
		// Awaited: awaitWatcher counted it in settling.
		e.mu.Lock()
		e.settledLocked(1)
		e.mu.Unlock()
	}
}

// The engine's side of its lifecycle (see owner).

func (e *engine[T]) closingLocked() {
	for w := e.idle.PopFront(); w != nil; w = e.idle.PopFront() {
		e.idleN.Add(-1)
		e.claims++ // woken to retire
		w.wake <- struct{}{}
	}
}

func (e *engine[T]) idleLocked() bool { return e.inflight.Load() == 0 }

func (e *engine[T]) doneLocked() bool {
	return e.workers == 0 && e.inflight.Load() == 0 && !e.notifying
}

func (e *engine[T]) giveUpLocked() func() {
	e.gaveUp.Store(true) // a job queued from now on is dropped as a worker takes it
	queued := e.q.popAll()
	e.stopCancel()
	for _, w := range e.all {
		w.cancelJob()
	}
	return func() { e.drop(queued...) }
}

// drop ends jobs taken out of the queue after Close gave up: they resolve
// with ErrClosed, never having run.
func (e *engine[T]) drop(ts ...*task[T]) {
	for _, t := range ts {
		if e.claimLeave(t) {
			e.leave(t)
			e.settleOne(ErrClosed, t, false)
		}
	}
}

func (e *engine[T]) endLocked() {
	e.q.end()
	e.stopCancel()
}

// close implements Pool.Close for every pool.
func (e *engine[T]) close(ctx context.Context) error {
	if ctx == nil {
		return errNilContextClose
	}
	return e.lifecycle.close(ctx, ctx.Value(nestedKey{&e.mark}) != nil)
}

// stats implements Pool.Stats for every pool.
func (e *engine[T]) stats() Stats {
	e.mu.Lock()
	workers := e.workers
	s := e.countersLocked()
	e.mu.Unlock()
	// Busy is what is accepted and not finished, less what is queued: a
	// gauge, as a Submit on its way counts for a moment too.
	queued := e.q.len()
	s.Workers, s.Queued = workers, queued
	s.Busy = min(max(int(e.inflight.Load())-queued, 0), workers)
	return s
}

// countersLocked returns the pool's counters with those of its live
// workers. Requires mu held.
func (e *engine[T]) countersLocked() Stats {
	s := e.counters()
	for _, w := range e.all {
		c := &w.counts
		s.Completed += c.completed.Load()
		s.Failed += c.failed.Load()
		s.Canceled += c.canceled.Load()
		s.Refused += c.refused.Load()
	}
	return s
}

// queueFull is the refusal of a full queue with ahead blocked Submits in
// line before the caller. Requires mu held.
func (e *engine[T]) queueFullLocked(ahead int) error {
	s := e.countersLocked()
	return e.drain.queueFull(ahead, s.Completed+s.Canceled)
}

// satAdd returns a+b for a, b >= 0, or math.MaxInt if that overflows:
// math.MaxInt means "no bound", and a sum of sizes that would overflow
// stays at the bound instead of wrapping to a negative number that
// refuses everything.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}
