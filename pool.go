package crew

import (
	"context"
	"fmt"
)

// Pool runs jobs on a bounded set of workers. WorkerPool, PriorityPool,
// AdaptivePool and the Pool that Chain returns implement it; all are safe for
// concurrent use.
type Pool[T any] interface {
	// Submit queues job and returns its Future, or returns an error and the
	// job never runs. It may wait for room in the queue, until ctx ends.
	Submit(ctx context.Context, job Job[T]) (*Future[T], error)
	// Close stops intake, runs what was queued, waits for running jobs and
	// returns nil; if ctx ends first it gives up (see WorkerPool.Close).
	Close(ctx context.Context) error
	// Stats returns a snapshot of the pool's counters.
	Stats() Stats
}

// Do submits job to p and waits for its outcome: Submit and then Wait, with
// the same ctx.
func Do[T any](ctx context.Context, p Pool[T], job Job[T]) (T, error) {
	f, err := p.Submit(ctx, job)
	if err != nil {
		var zero T
		return zero, err
	}
	return f.Wait(ctx)
}

// Stats is a snapshot of a pool's state and counters, a plain value the
// caller owns. The counters only grow. Once Close has returned, Submitted ==
// Completed + Canceled. Canceled - Refused is what the submitters' ctxs and
// Close took away; Refused is what the guards turned down as the job was
// about to start.
//
// A Chain's Stats are its base pool's, plus the Submit calls its guards
// refused (Rejected). A Batcher's Stats count items, not batches.
type Stats struct {
	Workers   int    // worker goroutines alive now
	Busy      int    // workers running a job now
	Queued    int    // accepted jobs not started yet
	Submitted uint64 // Submit calls that accepted a job
	Rejected  uint64 // Submit calls that returned an error
	Completed uint64 // jobs that ran to the end (success or error or panic)
	Failed    uint64 // of Completed: returned an error or panicked
	Canceled  uint64 // accepted jobs that never ran (ctx ended while queued, a guard refused it at start, or Close gave up)
	Refused   uint64 // of Canceled: refused by a guard at start (an open breaker, a token that came too late)
}

// WorkerPool is a fixed-size pool that runs jobs first in, first out.
// Create it with NewPool. It is safe for concurrent use.
type WorkerPool[T any] struct {
	e *engine[T]
}

// NewPool returns a pool of at most workers goroutines running jobs in the
// order they were submitted. Workers start on demand, as jobs arrive, and stay
// until Close; Resize moves the bound. workers may be math.MaxInt (no
// bound). Options: WithQueueSize, WithNonBlocking (WithAging and
// WithIdleTimeout are ignored).
//
// NewPool panics if workers < 1, or if an option does not apply (see
// Option).
func NewPool[T any](workers int, opts ...Option) *WorkerPool[T] {
	if workers < 1 {
		panic(fmt.Sprintf("crew: NewPool(%d): workers must be >= 1", workers))
	}
	c := newConfig("NewPool", forPool, opts)
	return &WorkerPool[T]{e: newEngine[T](newFIFO[T](&c), &c, workerPolicy{max: workers})}
}

// Submit queues job and returns its Future. When the queue is full it waits
// for room until ctx ends, unless the pool was built WithNonBlocking or the
// caller is itself one of this pool's jobs (a nested Submit): then it returns
// a *RejectedError matching ErrQueueFull at once, since waiting could
// deadlock. After Close it returns ErrClosed. A nil ctx or job, or a ctx
// that has already ended, is refused with an error.
//
// The job runs with a ctx that carries ctx's values and cancellation and is
// also cancelled if Close gives up. If ctx ends while the job is queued, the
// job leaves the queue without running and its Future resolves with
// ctx.Err() at once.
func (p *WorkerPool[T]) Submit(ctx context.Context, job Job[T]) (*Future[T], error) {
	return p.e.submit(ctx, job, nil)
}

// Close stops intake at once: later Submits return ErrClosed. It runs what
// was queued, waits for the running jobs and returns nil. If ctx ends first,
// it cancels the ctx of the running jobs, resolves the queued ones with
// ErrClosed, waits for the workers to return and returns ctx.Err().
//
// Close is idempotent and safe from any goroutine: every call returns once
// the pool is done, and all return the same outcome: nil if the pool drained,
// or the ctx error of the first Close that gave up (so a Close that was
// waiting with context.Background reports that another one gave up). When
// Close returns, every
// accepted job's Future is resolved and no goroutine of the pool remains.
// Called from one of the pool's own jobs with that job's ctx, Close stops
// intake and returns an error at once instead of waiting for itself.
func (p *WorkerPool[T]) Close(ctx context.Context) error { return p.e.close(ctx) }

// Stats returns a snapshot of the pool's counters.
func (p *WorkerPool[T]) Stats() Stats { return p.e.stats() }

func (p *WorkerPool[T]) engine() *engine[T] { return p.e }

func (p *WorkerPool[T]) isClosed() bool { return p.e.closed.Load() }

func (p *WorkerPool[T]) ownsJob(ctx context.Context) bool {
	return ctx.Value(nestedKey{&p.e.mark}) != nil
}

func (p *WorkerPool[T]) submitAttempt(ctx context.Context, job Job[T], spec jobSpec[T]) (*Future[T], error) {
	return p.e.submit(ctx, job, &spec)
}
