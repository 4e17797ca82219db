package crew

import (
	"context"
	"fmt"
	"time"
)

// DefaultIdleTimeout is how long an adaptive pool's worker waits for work
// before it retires, when WithIdleTimeout is not given: long enough that a
// server's workers outlive the gaps between bursts of requests (a retired
// worker costs a goroutine start when work returns),
// short enough that the workers of a spike, and the stacks they grew, are
// gone a few seconds after it.
const DefaultIdleTimeout = 10 * time.Second

// MaxMinWorkers is the most workers an adaptive pool may be asked to keep
// alive at all times: they start at once, each a goroutine with its stack.
// maxWorkers has no such bound; math.MaxInt means no bound.
const MaxMinWorkers = 1 << 20

// checkBounds panics, for the function named, on bounds no pool can have.
func checkBounds(fn string, minWorkers, maxWorkers int) {
	if minWorkers < 0 || minWorkers > MaxMinWorkers || maxWorkers < 1 || maxWorkers < minWorkers {
		panic(fmt.Sprintf("crew: %s(%d, %d): need 0 <= minWorkers <= maxWorkers, maxWorkers >= 1 and minWorkers <= MaxMinWorkers",
			fn, minWorkers, maxWorkers))
	}
}

// AdaptivePool is a first-in-first-out pool whose worker count follows the
// load: it keeps minWorkers alive, starts a worker at once for a job that
// finds none idle (up to its limit), and retires workers that stay idle for
// the idle timeout. With WithLimitControl the limit itself moves between
// the bounds, following what the jobs' latency and errors say about the
// downstream they call. Create it with NewAdaptivePool.
//
// An AdaptivePool is safe for concurrent use. It runs on the same engine as
// a WorkerPool and costs the same per job: a parked worker waits on its own
// channel; the idle timeout adds one clock reading per park and a timer
// armed once per idle spell. An idle adaptive pool holds its minimum
// workers, parked, with no timer armed: it uses no CPU.
type AdaptivePool[T any] struct {
	e *engine[T]
}

// NewAdaptivePool returns a pool with minWorkers workers alive at once and
// at most maxWorkers. When a job arrives and no worker is idle, a new worker
// starts for it at once, up to the limit (maxWorkers, or lower under
// WithLimitControl); a worker idle for the idle timeout retires unless only
// minWorkers are left. minWorkers may be 0: an idle pool then holds no
// goroutine at all.
//
// Options: WithQueueSize, WithNonBlocking, WithIdleTimeout (default
// DefaultIdleTimeout), WithLimitControl, WithOnScale, WithPriorityOrder
// and with it WithAging and WithEvictLowest (without it WithAging is
// ignored).
//
// NewAdaptivePool panics if an option does not apply (see Option), or if
// minWorkers < 0, minWorkers > MaxMinWorkers (they start at once),
// maxWorkers < 1 or
// maxWorkers < minWorkers.
func NewAdaptivePool[T any](minWorkers, maxWorkers int, opts ...Option) *AdaptivePool[T] {
	checkBounds("NewAdaptivePool", minWorkers, maxWorkers)
	c := newConfig("NewAdaptivePool", forAdaptive, opts)
	var q discipline[T] = newFIFO[T](&c)
	if c.priority {
		q = prio[T]{priorityQueueFor[T](&c)}
	} else if c.evictLowest {
		panic("crew: NewAdaptivePool: WithEvictLowest needs WithPriorityOrder")
	}
	policy := workerPolicy{min: minWorkers, max: maxWorkers, idleTimeout: DefaultIdleTimeout, onScale: c.onScale}
	if c.idleSet {
		policy.idleTimeout = c.idleTimeout
	}
	if c.limit != nil {
		g := newGradient(*c.limit, max(minWorkers, 1), maxWorkers)
		policy.ctl, policy.limit = g, g.g.Limit()
	}
	return &AdaptivePool[T]{e: newEngine(q, &c, policy)}
}

// WithPriorityOrder makes NewAdaptivePool run queued jobs by priority, as a
// PriorityPool does: higher WithPriority first, first in first out among
// equals, with aging; WithAging and WithEvictLowest then apply. The result
// is a priority pool whose worker count adapts. It applies only to
// NewAdaptivePool (see Option).
func WithPriorityOrder() Option {
	return option{name: "WithPriorityOrder", to: forAdaptive, apply: func(c *config) { c.priority = true }}
}

// WithIdleTimeout sets how long a worker of an adaptive pool waits for a job
// before it retires; workers never retire below the pool's minimum. Zero
// means idle workers never retire. The default is DefaultIdleTimeout.
// NewPool and NewPriorityPool ignore it: their workers stay until Close.
// It panics if d is negative.
func WithIdleTimeout(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("crew: WithIdleTimeout(%v): the timeout must be >= 0", d))
	}
	return option{name: "WithIdleTimeout", to: forAdaptive, ignored: true,
		apply: func(c *config) { c.idleTimeout, c.idleSet = d, true }}
}

// WithOnScale sets a hook that an adaptive pool calls after its worker count
// or its limit changed, with the new values, for metrics or logs. Calls are
// made one at a time, in order, outside the pool's lock, on one of the
// pool's worker goroutines (which starts its next job after the hook
// returns). Changes that happen while a call runs are reported together by
// the next call, so the hook sees the latest state, not every step. The
// hook may call the pool's methods (Stats, Limit, Submit) but must not wait
// for the pool (Close, Future.Wait, a Submit that blocks for room) and must
// not panic. Close returns only after a running call has returned; no call
// starts after Close has returned. It applies only to NewAdaptivePool (see
// Option).
func WithOnScale(fn func(workers, limit int)) Option {
	return option{name: "WithOnScale", to: forAdaptive, apply: func(c *config) { c.onScale = fn }}
}

// Submit queues job and returns its Future, starting a worker for it at once
// if none is idle and the limit allows. Otherwise it behaves like
// WorkerPool.Submit: it waits for room in a full queue until ctx ends
// (unless WithNonBlocking or nested), returns ErrClosed after Close, and
// refuses a nil ctx or job or an ended ctx.
func (p *AdaptivePool[T]) Submit(ctx context.Context, job Job[T]) (*Future[T], error) {
	return p.e.submit(ctx, job, nil)
}

// Close stops intake, runs what was queued, waits for the running jobs and
// the workers, and returns nil; if ctx ends first it gives up as
// WorkerPool.Close does and returns ctx.Err(). It is idempotent and safe
// from any goroutine; when it returns no goroutine of the pool remains and
// no WithOnScale call is running. Called from one of the pool's own jobs
// with that job's ctx, it stops intake and returns an error at once instead
// of waiting for itself; called from the OnScale hook it would wait for the
// hook and never return.
func (p *AdaptivePool[T]) Close(ctx context.Context) error { return p.e.close(ctx) }

// Stats returns a snapshot of the pool's counters. Workers is between the
// minimum and the maximum; it may exceed Limit for a moment after the limit
// fell, until the busy workers above it finish their jobs.
func (p *AdaptivePool[T]) Stats() Stats { return p.e.stats() }

// Limit returns the current bound on workers: maxWorkers, or with
// WithLimitControl the controller's latest limit, between max(minWorkers, 1)
// and maxWorkers. It costs one lock acquisition.
func (p *AdaptivePool[T]) Limit() int {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return p.e.limit
}

func (p *AdaptivePool[T]) engine() *engine[T] { return p.e }

func (p *AdaptivePool[T]) isClosed() bool { return p.e.closed.Load() }

func (p *AdaptivePool[T]) ownsJob(ctx context.Context) bool {
	return ctx.Value(nestedKey{&p.e.mark}) != nil
}

func (p *AdaptivePool[T]) submitAttempt(ctx context.Context, job Job[T], spec jobSpec[T]) (*Future[T], error) {
	return p.e.submit(ctx, job, &spec)
}
