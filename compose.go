package crew

import (
	"context"
	"time"
)

// Guard protects what the jobs call: it may refuse a job at Submit, delay or
// refuse it when a worker is about to start it, and it sees every outcome.
// RateLimiter and Breaker are Guards; Chain puts Guards in front of a pool.
// Guards are not generic, so one Guard can protect pools of different result
// types.
//
// For one job crew calls, in order: Admit once; if Admit let it through,
// exactly one of Start or Abandon; if Start let it through, exactly one Done.
// Implementations must be safe for concurrent use.
type Guard interface {
	// Admit is called by Submit before the job is queued. It must not block.
	// A non-nil error, usually a *RejectedError, refuses the job: Submit
	// returns it and the job is never queued.
	Admit(ctx context.Context) error

	// Start is called by the worker about to run an admitted job, with the
	// job's ctx. It may wait, and must stop waiting when ctx ends. A non-nil
	// error refuses the job: it never runs and its Future resolves with that
	// error. The Ticket is handed back to Done; crew does not look inside.
	Start(ctx context.Context) (Ticket, error)

	// Done reports the outcome of a job that Start let through: the job's
	// error (nil on success, a *PanicError if it panicked, a *RejectedError
	// if a later guard refused it at Start) and how long it ran.
	Done(t Ticket, err error, elapsed time.Duration)

	// Abandon reports that a job Admit let through will not reach Start: its
	// ctx ended while queued, Close gave up on it, the queue refused it, or
	// an earlier guard refused it at Start.
	Abandon()
}

// Ticket is the value a Guard's Start hands out and its Done receives back,
// to tell calls apart (the Breaker keeps its generation in it).
type Ticket uint64
