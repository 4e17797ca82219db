package crew

import (
	"context"
	"sync/atomic"
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
// The hot path takes no engine lock. A Submit reserves its place with one
// atomic add on inflight (jobs accepted and not finished), checked against
// bound (the queue size plus the worker limit), and pushes its job into
// the queue, which has a lock of its own held for a few instructions; a
// worker takes its next job in one hold of that lock and counts its last
// one with atomic adds. The lifecycle's mu is for what needs it: parking
// and waking workers, starting and retiring them, the line of blocked
// Submits, Close. Where a fast path and a slow one must not miss each
// other (a Submit and a parking worker, a worker freeing room and a
// blocked Submit, a Submit and Close), each writes its own atomic before
// reading the other's, so one of the two always sees the other.
//
// Ownership: mu guards the fields under "guarded by mu"; the queue guards
// itself; the rest are atomics or read-only. Jobs, guards and user
// callbacks always run with every lock released.
type engine[T any] struct {
	lifecycle[*task[T]]

	q           *jobQueue[T]
	cap         int          // bound on waiting jobs (WithQueueSize)
	nonBlocking bool         // WithNonBlocking
	obs         *Observer    // WithObserver; nil: none
	clock       func() int64 // times the jobs' runs; nil: no one needs them
	born        time.Time    // when the engine was made; idle times are measured from here
	stopCtx     context.Context
	stopCancel  context.CancelFunc // cancels stopCtx: Close gave up, or the pool is done
	gaveUp      atomic.Bool        // Close gave up: queued jobs are dropped, not run

	// inflight is written by Submits and workers alike; it has a cache
	// line of its own, away from the fields read on every Submit.
	_        [64]byte
	inflight atomic.Int64 // jobs accepted and not finished, and Submits reserving
	_        [56]byte
	bound    atomic.Int64 // the most inflight may reach: cap + limit, saturated
	nworkers atomic.Int64 // workers alive, for readers without mu
	nlimit   atomic.Int64 // limit, for readers without mu
	_        [40]byte
	idleN    atomic.Int64 // parked workers: idle.Len() for readers without mu
	busy     atomic.Int64 // workers running a job; kept only for a controller (ctl)
	_        [48]byte

	// The worker policy; guarded by mu.
	min, limit, max int
	idleTimeout     time.Duration // 0: workers never retire
	ctl             controller    // nil: the limit stays at max

	// Scale events for onScale (nil: none); guarded by mu. scaleGen counts
	// changes of workers or limit; scaleSeen is the last one reported;
	// notifying is set while one goroutine runs onScale, outside mu.
	onScale             func(workers, limit int)
	scaleGen, scaleSeen uint64
	notifying           bool

	// Guarded by mu.
	workers int               // alive
	claims  int               // workers woken or started that have not taken a job yet
	idle    list.List[worker] // parked workers, most recently parked first
	all     workerSet         // every live worker, for cancelling running jobs

	// bgCtx is the ctx of every job submitted with context.Background or
	// context.TODO: such a ctx has no values and never ends, so the jobs can
	// share one ctx, read-only once the engine is built.
	bgCtx jobContext
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

func newEngine[T any](d discipline[T], c *config, p workerPolicy) *engine[T] {
	e := &engine[T]{
		q:           newJobQueue(d, satAdd(c.queueSize, p.max)),
		cap:         c.queueSize,
		nonBlocking: c.nonBlocking,
		obs:         c.observer,
		min:         p.min,
		limit:       p.max,
		max:         p.max,
		idleTimeout: p.idleTimeout,
		born:        time.Now(),
		ctl:         p.ctl,
		onScale:     p.onScale,
	}
	if p.ctl != nil {
		e.limit = p.limit
	}
	switch {
	case e.obs != nil:
		e.clock = e.q.stamp // the Observer's waits start at the queue's stamps
	case e.ctl != nil:
		e.clock = clockSince(e.born)
	}
	e.setBound()
	e.init(e)
	e.stopCtx, e.stopCancel = context.WithCancel(context.Background())
	e.bgCtx = jobContext{Context: e.stopCtx, owner: &e.mark}
	e.mu.Lock()
	for range p.min {
		e.startWorkerLocked()
	}
	e.scaleSeen = e.scaleGen // the starting workers are not a change
	e.mu.Unlock()
	return e
}

// setBound publishes limit and the bound it sets. Requires mu held, or e
// not shared yet.
func (e *engine[T]) setBound() {
	e.nlimit.Store(int64(e.limit))
	e.bound.Store(int64(satAdd(e.cap, e.limit)))
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
	fut    *Future[T]    // the Future to resolve (a later attempt's); nil: a new one
	noFut  bool          // fire and forget (Go): no Future at all
	retry  *retryPool[T] // the Retry the job is an attempt of; nil if none
	tries  tries         // under Retry, this attempt's place in the job's history
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
		e.rejected.Add(1)
		if ctx == nil {
			return nil, errNilContext
		}
		return nil, errNilJob
	}
	var f *Future[T]
	switch {
	case spec == nil:
		f = new(Future[T]) // the one allocation, made before any lock
	case spec.fut != nil:
		f = spec.fut
	case !spec.noFut:
		f = new(Future[T])
	}
	enq := e.q.stamp()
	reserved := e.reserve()
	if err := e.admit(ctx); err != nil {
		if reserved {
			e.unreserve()
		}
		e.rejected.Add(1)
		return nil, err
	}
	if reserved && (spec == nil || spec.guards == nil && spec.retry == nil) && ctx.Done() == nil {
		// The common case: no extras, nothing to watch; one hold of the
		// queue's lock.
		e.submitted.Add(1)
		e.q.pushNew(f, job, ctx, enq)
		e.dispatch()
		return f, nil
	}
	t := e.q.get()
	t.fut, t.job, t.ctx, t.Enq = f, job, ctx, enq
	var abort <-chan struct{}
	if spec != nil {
		if spec.guards != nil {
			t.extra().adm.set(spec.guards, tickets)
		}
		if spec.retry != nil {
			x := t.extra()
			x.retry, x.tries = spec.retry, spec.tries
		}
		abort = spec.abort
	}
	if reserved {
		e.enqueue(t)
		return f, nil
	}
	return e.acceptFull(ctx, t, abort)
}

// admit refuses a Submit that cannot be accepted whatever the room.
func (e *engine[T]) admit(ctx context.Context) error {
	if e.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// acceptFull is accept's way when the queue is full: evict a lower-ranked
// job (WithEvictLowest), refuse (WithNonBlocking, or a nested Submit), or
// wait in line for room.
func (e *engine[T]) acceptFull(ctx context.Context, t *task[T], abort <-chan struct{}) (*Future[T], error) {
	f := t.fut
	e.mu.Lock()
	if err := e.admitLocked(ctx); err != nil {
		e.mu.Unlock()
		e.q.recycle(t)
		e.rejected.Add(1)
		return nil, err
	}
	if victim := e.q.evictFor(t); victim != nil {
		e.inflight.Add(1) // t takes the place victim leaves
		evicted := e.queueFullLocked(0)
		e.mu.Unlock()
		if e.claimLeave(victim) {
			e.leave(victim)
			e.settle(evicted, victim)
		}
		e.enqueue(t)
		return f, nil
	}
	if e.nonBlocking || ctx.Value(nestedKey{&e.mark}) != nil {
		full := e.queueFullLocked(e.waiters.Len())
		e.mu.Unlock()
		e.q.recycle(t)
		e.rejected.Add(1)
		return nil, full
	}
	if err := e.waitForRoom(ctx, t, abort); err != nil {
		e.q.recycle(t) // never queued
		return nil, err
	}
	return f, nil
}

// reserve takes a place for one more job, and reports false if there is
// none: the jobs accepted and not finished would exceed the bound.
func (e *engine[T]) reserve() bool {
	if e.inflight.Add(1) <= e.bound.Load() {
		return true
	}
	e.unreserve()
	return false
}

// unreserve gives back a place; a closing pool may be done once the last
// one is given back.
func (e *engine[T]) unreserve() {
	if e.inflight.Add(-1) == 0 && e.closed.Load() {
		e.mu.Lock()
		e.checkDoneLocked()
		e.mu.Unlock()
	}
}

// reserveLocked implements owner.
func (e *engine[T]) reserveLocked() bool { return e.reserve() }

// acceptLocked queues t, the job of a blocked Submit let in (its place is
// reserved); its wait, for aging, starts now. Requires mu held.
func (e *engine[T]) acceptLocked(_ context.Context, t *task[T]) {
	t.Enq = e.q.stamp()
	e.push(t)
	e.dispatchLocked()
}

// enqueue queues t, whose place is reserved, and makes sure a worker is on
// its way for it.
func (e *engine[T]) enqueue(t *task[T]) {
	e.push(t)
	e.dispatch()
}

// dispatch makes sure a worker is on its way for a job just queued: a
// parked one, or a new one below the limit. The check is two atomic loads;
// a warm pool whose workers are all busy takes no lock.
func (e *engine[T]) dispatch() {
	if e.idleN.Load() > 0 || e.nworkers.Load() < e.nlimit.Load() {
		e.mu.Lock()
		e.dispatchLocked()
		e.mu.Unlock()
	}
}

// push counts t as submitted, watches its ctx, and queues it.
func (e *engine[T]) push(t *task[T]) {
	e.submitted.Add(1)
	if t.ctx.Done() != nil {
		x := t.extra()
		x.state.Store(taskQueued)
		// Set before t is queued, so the worker that takes it finds stop.
		x.stop = context.AfterFunc(t.ctx, func() { e.dropCanceled(t) })
	}
	e.q.push(t)
}

// dispatchLocked makes sure a worker is on its way for every queued job, up
// to the limit: it wakes the most recently parked worker, or starts one.
// Requires mu held.
func (e *engine[T]) dispatchLocked() {
	for n := e.q.len(); e.claims < n; {
		if w := e.idle.PopFront(); w != nil {
			e.idleN.Add(-1)
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
	e.nworkers.Add(1)
	e.claims++
	e.scaleGen++
	go e.work(w)
}
