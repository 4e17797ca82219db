package crew

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// engine is the one worker engine behind every pool. The pools differ only
// in the pieces they plug in: the queue discipline (fifo, priority heap) and
// the worker-count policy (min, limit, max, idle timeout, and an optional
// controller that moves the limit).
//
// Ownership: mu guards every field below it, the queue, the worker lists and
// the counters. Workers hold mu only to pop a job and to account for it;
// jobs, guards and user callbacks always run with mu released.
type engine[T any] struct {
	mu sync.Mutex

	q           queue[T]
	clock       func() int64 // the queue's clock, read by Submit before it locks; nil: none
	cap         int          // bound on waiting jobs (WithQueueSize)
	nonBlocking bool         // WithNonBlocking

	state      int         // open, closing (draining), done
	closed     atomic.Bool // state != stateOpen, readable without mu (Chain checks it before its guards)
	hardStop   bool        // Close gave up: queued jobs were dropped, running ones cancelled
	closeErr   error
	drained    chan struct{} // closed when state == done
	stopCtx    context.Context
	stopCancel context.CancelFunc

	// Worker-count policy.
	min, limit, max int
	idleTimeout     time.Duration // 0: workers never retire
	ctl             controller    // nil: the limit stays at max

	// Scale events for onScale (nil: none). scaleGen counts changes of
	// workers or limit; scaleSeen is the last one reported; notifying is set
	// while one goroutine runs onScale, outside mu.
	onScale             func(workers, limit int)
	scaleGen, scaleSeen uint64
	notifying           bool

	workers int        // alive
	busy    int        // running a job
	claims  int        // workers woken or started that have not taken the lock yet
	idle    workerList // parked workers, most recent first
	all     workerList // every live worker, for cancelling running jobs
	waiters waiterList[T]
	// free holds finished task records for reuse (nfree of them, at most
	// maxFree), so that a Submit allocates only its Future.
	free  *task[T]
	nfree int
	// readyChans holds the answer channels of blocked Submits for reuse.
	readyChans sync.Pool
	// bgCtx is the ctx of every job submitted with context.Background or
	// context.TODO: such a ctx has no values and never ends, so the jobs can
	// share one ctx, read-only once the engine is built.
	bgCtx jobContext
	// settling counts jobs that left the queue and whose Futures are being
	// resolved outside mu (see settle); Close waits for them.
	settling int

	submitted, rejected, completed, failed, canceled, refused uint64
	drain                                                     drainMeter // jobs leaving, for a full queue's RetryAfter
}

const (
	stateOpen = iota
	stateClosing
	stateDone
)

// queue is a queue discipline. Every method requires mu held.
type queue[T any] interface {
	push(t *task[T])
	pop() *task[T] // nil when empty
	remove(t *task[T])
	len() int
	// evictFor may remove and return a queued job of lower rank than t to
	// make room for t; nil when it will not.
	evictFor(t *task[T]) *task[T]
}

// controller moves the engine's concurrency limit from observed outcomes.
type controller interface {
	// judge decides whether a job's error counts and whether it says the
	// downstream is overloaded. It may call user code, so it is called with
	// mu released; a panic in it is the caller's to contain.
	judge(err error) (counts, overload bool)
	// observe reports one job that ran and judge counted: how long it ran,
	// whether it failed with an overload error, the limit, and how many
	// jobs were running as it finished (itself included). It returns the
	// new limit. It is called with mu held and must be quick.
	observe(elapsed time.Duration, overload bool, limit, busy int) int
}

func newEngine[T any](q queue[T], c *config, min, max int) *engine[T] {
	e := &engine[T]{
		q:           q,
		cap:         c.queueSize,
		nonBlocking: c.nonBlocking,
		drained:     make(chan struct{}),
		drain:       newDrainMeter(),
		min:         min,
		limit:       max,
		max:         max,
	}
	if pq, ok := q.(*prioQueue[T]); ok {
		e.clock = pq.now
	}
	e.stopCtx, e.stopCancel = context.WithCancel(context.Background())
	e.bgCtx = jobContext{Context: e.stopCtx, owner: e}
	e.mu.Lock()
	for range min {
		e.startWorkerLocked()
	}
	e.mu.Unlock()
	return e
}

// jobSpec is what a Submit hands the engine besides the ctx and the job:
// a Chain's admission and a Retry's attempt. A nil *jobSpec is a plain
// Submit.
type jobSpec[T any] struct {
	// guards, when not nil, have admitted the job already, and tickets
	// holds what each gave; the engine keeps a copy and calls their Start,
	// Done or Abandon. If submit fails, the caller tells the guards.
	guards  *guardList
	tickets []Ticket
	fut     *Future[T]    // the Future to resolve (a later attempt's); nil: a new one
	retry   *retryPool[T] // the Retry the job is an attempt of; nil if none
	attempt int           // under Retry, which attempt this is, from 1
	// abort, when closed, ends a wait for room with ErrClosed: the Retry
	// this first attempt is for is closing.
	abort <-chan struct{}
}

// submit accepts job or says why not.
func (e *engine[T]) submit(ctx context.Context, job Job[T], spec *jobSpec[T]) (*Future[T], error) {
	if ctx == nil || job == nil {
		e.mu.Lock()
		e.rejected++
		e.mu.Unlock()
		if ctx == nil {
			return nil, errNilContext
		}
		return nil, errNilJob
	}
	var f *Future[T]
	if spec != nil && spec.fut != nil {
		f = spec.fut
	} else {
		f = new(Future[T]) // the one allocation, made before taking the lock
	}
	var enq int64
	if e.clock != nil {
		enq = e.clock() // outside the lock, so that the lock is held shorter
	}
	e.mu.Lock()
	if err := e.admitLocked(ctx); err != nil {
		return e.rejectUnlock(err)
	}
	t := e.taskLocked()
	t.fut, t.job, t.ctx, t.enq = f, job, ctx, enq
	if spec != nil {
		if spec.guards != nil {
			t.extra().adm.set(spec.guards, spec.tickets)
		}
		if spec.retry != nil {
			x := t.extra()
			x.retry, x.attempt = spec.retry, spec.attempt
		}
	}
	if e.hasRoomLocked() {
		e.enqueueLocked(t)
		e.mu.Unlock()
		return f, nil
	}
	if victim := e.q.evictFor(t); victim != nil {
		e.leaveLocked(victim)
		e.enqueueLocked(t)
		evicted := e.drain.queueFull(0)
		e.mu.Unlock()
		e.settle(evicted, victim)
		return f, nil
	}
	if e.nonBlocking || ctx.Value(nestedKey{e}) != nil {
		e.recycleLocked(t)
		return e.rejectUnlock(e.drain.queueFull(e.waiters.n))
	}
	var abort <-chan struct{}
	if spec != nil {
		abort = spec.abort
	}
	return e.waitForRoom(ctx, t, abort)
}

// admitLocked refuses a job that cannot be accepted whatever the room.
// Requires mu held.
func (e *engine[T]) admitLocked(ctx context.Context) error {
	if e.state != stateOpen {
		return ErrClosed
	}
	return ctx.Err()
}

// rejectUnlock counts a refused Submit and releases mu.
func (e *engine[T]) rejectUnlock(err error) (*Future[T], error) {
	e.rejected++
	e.mu.Unlock()
	return nil, err
}

// waitForRoom parks a Submit until the queue has room for t, ctx ends or the
// pool closes. Called with mu held; returns with it released. Waiters are
// served first come, first served: the one that frees room hands it over.
// The waiter is t itself; its ready channel comes from a pool and goes back
// there once the one answer sent on it has been received, so a Submit that
// waits allocates nothing more than one that does not.
func (e *engine[T]) waitForRoom(ctx context.Context, t *task[T], abort <-chan struct{}) (*Future[T], error) {
	ready, _ := e.readyChans.Get().(chan error)
	if ready == nil {
		ready = make(chan error, 1)
	}
	defer e.readyChans.Put(ready) // empty again whenever this returns
	f := t.fut                    // once queued, t may run and be recycled
	t.extra().ready = ready
	e.waiters.push(t)
	e.mu.Unlock()
	var gaveUp error
	select {
	case err := <-ready:
		if err != nil {
			return nil, err
		}
		return f, nil
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-abort:
		gaveUp = ErrClosed
	}
	e.mu.Lock()
	// t is still this Submit's only if it still has this Future: once
	// answered, it may have run and been recycled for another Submit.
	if t.fut == f && e.waiters.remove(t) { // no answer was sent
		e.recycleLocked(t)
		return e.rejectUnlock(gaveUp)
	}
	e.mu.Unlock()
	// Room was handed over (or the pool closed) as ctx ended: that answer
	// stands, since the job may already be queued.
	if err := <-ready; err != nil {
		return nil, err
	}
	return f, nil
}

// hasRoomLocked reports whether one more job may be queued: jobs that an idle
// or new worker will take at once do not count against the bound.
// Requires mu held.
func (e *engine[T]) hasRoomLocked() bool {
	return e.q.len() < satAdd(satAdd(e.cap, e.claims+e.idle.n), max(e.limit-e.workers, 0))
}

// enqueueLocked accepts t: it is queued, counted and watched. Requires mu held.
func (e *engine[T]) enqueueLocked(t *task[T]) {
	watched := t.ctx.Done() != nil
	if watched {
		t.extra().queued = true // before push, which may note the level in t.x
	}
	e.q.push(t)
	e.submitted++
	if watched {
		// Registered under mu so that a worker popping t sees stop set.
		t.x.stop = context.AfterFunc(t.ctx, func() { e.dropCanceled(t) })
	}
	e.dispatchLocked()
}

// dispatchLocked makes sure a worker is on its way for every queued job, up
// to the limit: it wakes the most recently parked worker, or starts one.
// Requires mu held.
func (e *engine[T]) dispatchLocked() {
	for e.claims < e.q.len() {
		if w := e.idle.pop(); w != nil {
			e.claims++
			w.wake <- struct{}{}
		} else if e.workers < e.limit {
			e.startWorkerLocked()
		} else {
			return
		}
	}
}

// startWorkerLocked starts one worker. Requires mu held.
func (e *engine[T]) startWorkerLocked() {
	w := &worker{wake: make(chan struct{}, 1)}
	e.all.pushAll(w)
	e.workers++
	e.claims++
	e.scaleGen++
	go e.work(w)
}

// grantWaitersLocked hands freed room to blocked Submits, oldest first.
// Requires mu held.
func (e *engine[T]) grantWaitersLocked() {
	for e.waiters.n > 0 && e.hasRoomLocked() {
		t := e.waiters.pop()
		if err := e.admitLocked(t.ctx); err != nil {
			e.rejected++
			answerLocked(t, err)
			continue
		}
		if e.clock != nil {
			t.enq = e.clock() // its wait for aging starts now, not at its Submit
		}
		e.enqueueLocked(t)
		answerLocked(t, nil)
	}
}

// answerLocked answers a waiter that left the line: nil, its job is queued,
// or why it will not be. The ready channel then leaves t, since t may be
// recycled before the waiter receives the answer. Requires mu held.
func answerLocked[T any](t *task[T], err error) {
	ready := t.x.ready
	t.x.ready = nil
	ready <- err
}

// awaitWatcherLocked is for a task whose ctx watcher could not be stopped
// because it fired: until the callback has run, Close does not count the
// pool as drained, so no goroutine of the pool outlives Close. Such a task
// is never recycled (the callback still holds it). Requires mu held.
func (e *engine[T]) awaitWatcherLocked(t *task[T]) {
	if x := t.x; !x.fired && !x.awaited {
		x.awaited = true
		e.settling++
	}
}

// dropCanceled runs when a queued job's ctx ends: the job leaves the queue
// and resolves with the ctx error at once.
//
// t cannot have been recycled meanwhile: a task is recycled only once its
// watcher was stopped before it ran (stop returned true).
func (e *engine[T]) dropCanceled(t *task[T]) {
	e.mu.Lock()
	x := t.x // a watched task has one
	x.fired = true
	if x.awaited { // Close has been waiting for this callback
		x.awaited = false
		e.settling--
		e.checkDrainedLocked()
	}
	if !x.queued {
		e.mu.Unlock()
		return // already started or dropped
	}
	e.q.remove(t)
	e.leaveLocked(t)
	e.grantWaitersLocked()
	e.mu.Unlock()
	e.settle(t.ctx.Err(), t)
}

// leaveLocked accounts for a job that left the queue and will never run;
// the caller must then call settle for it, without mu. Until settle is done
// the pool does not count as drained, so Close never returns before the
// job's Future is resolved. Requires mu held.
func (e *engine[T]) leaveLocked(t *task[T]) {
	t.dequeued()
	e.canceled++
	e.drain.add(1)
	e.settling++
}

// settle finishes jobs that leaveLocked took out: their guards learn that
// they will not start, then their Futures resolve with err. Guards hear
// first, so a caller who sees the error and resubmits finds them up to date.
func (e *engine[T]) settle(err error, ts ...*task[T]) {
	reusable := 0
	for i, t := range ts {
		stopped := t.stopWatch()
		t.guards().abandon(0)
		d := t.outcome(*new(T), err, false)
		d.deliver()
		if stopped {
			ts[reusable], ts[i] = t, ts[reusable]
			reusable++
		}
	}
	e.mu.Lock()
	e.settling -= len(ts)
	for _, t := range ts[reusable:] {
		e.awaitWatcherLocked(t)
	}
	for _, t := range ts[:reusable] {
		e.recycleLocked(t)
	}
	e.checkDrainedLocked()
	e.mu.Unlock()
}
