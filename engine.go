package crew

import (
	"context"
	"time"

	"github.com/crew-go/crew/internal/list"
)

// engine is the one worker engine behind every pool. The pools differ only
// in the pieces they plug in: the queue discipline (first in first out, or
// by priority) and the worker policy (min, limit, max, idle timeout, and an
// optional controller that moves the limit). Intake, the line of blocked
// Submits, Close and the counters are its lifecycle, shared with the
// Batcher.
//
// Ownership: the lifecycle's mu guards every field below, the queue, the
// worker lists and the counters. Workers hold mu only to take a job and to
// account for it; jobs, guards and user callbacks always run with mu
// released.
type engine[T any] struct {
	lifecycle[*task[T]]

	q           taskQueue[T]
	cap         int       // bound on waiting jobs (WithQueueSize)
	nonBlocking bool      // WithNonBlocking
	obs         *Observer // WithObserver; nil: none
	stopCtx     context.Context
	stopCancel  context.CancelFunc // cancels stopCtx: Close gave up, or the pool is done

	// The worker policy.
	min, limit, max int
	idleTimeout     time.Duration // 0: workers never retire
	ctl             controller    // nil: the limit stays at max

	// Scale events for onScale (nil: none). scaleGen counts changes of
	// workers or limit; scaleSeen is the last one reported; notifying is set
	// while one goroutine runs onScale, outside mu.
	onScale             func(workers, limit int)
	scaleGen, scaleSeen uint64
	notifying           bool

	workers int               // alive
	busy    int               // running a job
	claims  int               // workers woken or started that have not taken mu yet
	idle    list.List[worker] // parked workers, most recently parked first
	all     workerSet         // every live worker, for cancelling running jobs
	// free holds finished task records for reuse (at most maxFree), so
	// that a Submit allocates only its Future.
	free list.List[task[T]]
	// bgCtx is the ctx of every job submitted with context.Background or
	// context.TODO: such a ctx has no values and never ends, so the jobs can
	// share one ctx, read-only once the engine is built.
	bgCtx jobContext
}

// taskQueue is a queue discipline of tasks (queue.go). Every method but
// stamp requires mu held.
type taskQueue[T any] interface {
	// stamp returns the enqueue time for a task about to be pushed: read
	// before mu is taken, which keeps the lock short. A queue that does not
	// age returns 0 and reads no clock.
	stamp() int64
	push(t *task[T])
	pop() *task[T] // nil when empty
	remove(t *task[T])
	len() int
	// evictFor may remove and return a queued job of lower rank than t to
	// make room for t; nil when it will not.
	evictFor(t *task[T]) *task[T]
}

// workerPolicy is how many workers an engine keeps: min started at once,
// up to max (or the controller's limit), retiring after idleTimeout (0:
// never), reported to onScale.
type workerPolicy struct {
	min, max    int
	idleTimeout time.Duration
	ctl         controller
	limit       int // the controller's first limit; max without one
	onScale     func(workers, limit int)
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

// boundedController is a controller that can be told its range moved
// (Resize). It is called with mu held.
type boundedController interface {
	bound(lo, hi int)
}

func newEngine[T any](q taskQueue[T], c *config, p workerPolicy) *engine[T] {
	e := &engine[T]{
		q:           q,
		cap:         c.queueSize,
		nonBlocking: c.nonBlocking,
		obs:         c.observer,
		min:         p.min,
		limit:       p.max,
		max:         p.max,
		idleTimeout: p.idleTimeout,
		ctl:         p.ctl,
		onScale:     p.onScale,
	}
	if p.ctl != nil {
		e.limit = p.limit
	}
	e.init(e)
	e.stopCtx, e.stopCancel = context.WithCancel(context.Background())
	e.bgCtx = jobContext{Context: e.stopCtx, owner: e}
	e.mu.Lock()
	for range p.min {
		e.startWorkerLocked()
	}
	e.scaleSeen = e.scaleGen // the starting workers are not a change
	e.mu.Unlock()
	return e
}

// jobSpec is what a Submit hands the engine besides the ctx and the job:
// a Chain's admission and a Retry's attempt. A nil *jobSpec is a plain
// Submit.
type jobSpec[T any] struct {
	// guards, when not nil, have admitted the job already, and the tickets
	// passed beside the spec hold what each gave (beside it, so that they
	// can stay on the caller's stack); the engine keeps a copy and calls
	// their Start, Done or Abandon. If submit fails, the caller tells the
	// guards.
	guards *guardList
	fut     *Future[T]    // the Future to resolve (a later attempt's); nil: a new one
	noFut   bool          // fire and forget (Go): no Future at all
	retry   *retryPool[T] // the Retry the job is an attempt of; nil if none
	attempt int           // under Retry, which attempt this is, from 1
	// abort, when closed, ends a wait for room with ErrClosed: the Retry
	// this first attempt is for is closing.
	abort <-chan struct{}
}

// submit accepts job or says why not, and tells the Observer why not.
func (e *engine[T]) submit(ctx context.Context, job Job[T], spec *jobSpec[T]) (*Future[T], error) {
	return e.submitGuarded(ctx, job, spec, nil)
}

// submitGuarded is submit for a job spec.guards admitted, with their tickets.
func (e *engine[T]) submitGuarded(ctx context.Context, job Job[T], spec *jobSpec[T], tickets []Ticket) (*Future[T], error) {
	f, err := e.accept(ctx, job, spec, tickets)
	if err != nil && e.obs != nil {
		e.obs.refused(err)
	}
	return f, err
}

// accept accepts job or says why not.
func (e *engine[T]) accept(ctx context.Context, job Job[T], spec *jobSpec[T], tickets []Ticket) (*Future[T], error) {
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
	switch {
	case spec == nil:
		f = new(Future[T]) // the one allocation, made before taking the lock
	case spec.fut != nil:
		f = spec.fut
	case !spec.noFut:
		f = new(Future[T])
	}
	enq := e.q.stamp()
	e.mu.Lock()
	if err := e.admitLocked(ctx); err != nil {
		return nil, e.rejectUnlock(err)
	}
	t := e.taskLocked()
	t.fut, t.job, t.ctx, t.Enq = f, job, ctx, enq
	var abort <-chan struct{}
	if spec != nil {
		if spec.guards != nil {
			t.extra().adm.set(spec.guards, tickets)
		}
		if spec.retry != nil {
			x := t.extra()
			x.retry, x.attempt = spec.retry, spec.attempt
		}
		abort = spec.abort
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
		return nil, e.rejectUnlock(e.drain.queueFull(e.waiters.Len()))
	}
	if err := e.waitForRoom(ctx, t, abort); err != nil {
		e.mu.Lock()
		e.recycleLocked(t) // never queued
		e.mu.Unlock()
		return nil, err
	}
	return f, nil
}

// hasRoomLocked reports whether one more job may be queued: jobs that an idle
// or new worker will take at once do not count against the bound.
// Requires mu held.
func (e *engine[T]) hasRoomLocked() bool {
	return e.q.len() < satAdd(satAdd(e.cap, e.claims+e.idle.Len()), max(e.limit-e.workers, 0))
}

// acceptLocked queues t, the job of a blocked Submit let in; its wait, for
// aging, starts now. Requires mu held.
func (e *engine[T]) acceptLocked(_ context.Context, t *task[T]) {
	t.Enq = e.q.stamp()
	e.enqueueLocked(t)
}

// enqueueLocked accepts t: it is queued, counted and watched. Requires mu held.
func (e *engine[T]) enqueueLocked(t *task[T]) {
	watched := t.ctx.Done() != nil
	if watched {
		t.extra().queued = true
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
		if w := e.idle.PopFront(); w != nil {
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
	e.all.add(w)
	e.workers++
	e.claims++
	e.scaleGen++
	go e.work(w)
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
		e.settledLocked(1)
	}
	if !x.queued {
		e.mu.Unlock()
		return // already started or dropped
	}
	e.q.remove(t)
	e.leaveLocked(t)
	e.grantLocked()
	e.mu.Unlock()
	e.settle(t.ctx.Err(), t)
}

// awaitWatcherLocked is for a task whose ctx watcher could not be stopped
// because it fired: until the callback has run, Close does not count the
// pool as done, so no goroutine of the pool outlives Close. Such a task is
// never recycled (the callback still holds it). Requires mu held.
func (e *engine[T]) awaitWatcherLocked(t *task[T]) {
	if x := t.x; !x.fired && !x.awaited {
		x.awaited = true
		e.settling++
	}
}

// leaveLocked accounts for a job that left the queue and will never run;
// the caller must then call settle for it, without mu. Until settle is done
// the pool does not count as done, so Close never returns before the job's
// Future is resolved. Requires mu held.
func (e *engine[T]) leaveLocked(t *task[T]) {
	t.dequeued()
	e.countLocked(outcomeCanceled, 1)
	e.settling++
}

// settle finishes jobs that leaveLocked took out: their guards learn that
// they will not start, then their outcome (err) is delivered. Guards hear
// first, so a caller who sees the error and resubmits finds them up to date.
func (e *engine[T]) settle(err error, ts ...*task[T]) {
	reusable := 0
	var now int64
	if e.obs != nil {
		now = e.q.stamp()
	}
	for i, t := range ts {
		stopped := t.stopWatch()
		t.guards().abandon(0)
		if e.obs != nil {
			e.obs.jobDone(JobInfo{Wait: time.Duration(now - t.Enq), Err: err})
		}
		d := t.outcome(*new(T), err, outcomeCanceled)
		d.deliver()
		if stopped {
			ts[reusable], ts[i] = t, ts[reusable]
			reusable++
		}
	}
	e.mu.Lock()
	for _, t := range ts[reusable:] {
		e.awaitWatcherLocked(t)
	}
	for _, t := range ts[:reusable] {
		e.recycleLocked(t)
	}
	e.settledLocked(len(ts))
	e.mu.Unlock()
}

// The engine's side of its lifecycle (see owner).

func (e *engine[T]) closingLocked() {
	for w := e.idle.PopFront(); w != nil; w = e.idle.PopFront() {
		e.claims++ // woken to retire
		w.wake <- struct{}{}
	}
}

func (e *engine[T]) idleLocked() bool { return e.q.len() == 0 && e.busy == 0 }

func (e *engine[T]) doneLocked() bool { return e.workers == 0 && e.q.len() == 0 && !e.notifying }

func (e *engine[T]) giveUpLocked() func() {
	var dropped []*task[T]
	for t := e.q.pop(); t != nil; t = e.q.pop() {
		e.leaveLocked(t)
		dropped = append(dropped, t)
	}
	e.stopCancel()
	for _, w := range e.all {
		w.cancelJob()
	}
	return func() { e.settle(ErrClosed, dropped...) }
}

func (e *engine[T]) endLocked() {
	e.free = list.List[task[T]]{}
	e.stopCancel()
}

// close implements Pool.Close for every pool.
func (e *engine[T]) close(ctx context.Context) error {
	if ctx == nil {
		return errNilContextClose
	}
	return e.lifecycle.close(ctx, ctx.Value(nestedKey{e}) != nil)
}

// stats implements Pool.Stats for every pool.
func (e *engine[T]) stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.statsLocked()
	s.Workers, s.Busy, s.Queued = e.workers, e.busy, e.q.len()
	return s
}
