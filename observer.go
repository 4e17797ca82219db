package crew

import (
	"context"
	"errors"
	"time"
)

// Observer sees what a pool does, for metrics and tracing: each job's wait
// in the queue, its run time and how it ended, and each refusal with the
// guard that made it. Set it with WithObserver; the crewprom module builds
// one that feeds Prometheus. Each field is optional, and a nil field costs
// nothing: a pool without an Observer reads no clock for one.
//
// The callbacks run outside every lock, on the goroutine each field names,
// and must be quick and must not block: a worker starts its next job after
// JobDone returns. They must be safe for concurrent use, since several
// workers call them at once. A panic in one is recovered and dropped (it
// cannot be reported to an Observer).
type Observer struct {
	// JobDone is called once for every job the pool accepted, as its
	// outcome becomes known and before its Future resolves: on the worker
	// that ran it, or on the goroutine that dropped it from the queue (its
	// ctx's watcher, or Close giving up). Under Retry it is called for
	// every attempt. A Batcher calls it for every item.
	JobDone func(JobInfo)

	// Refused is called for every Submit that returned an error, on the
	// submitting goroutine, with what refused it: a guard's name (a
	// RejectedError's Guard: "ratelimit", "breaker", or a user's, through a
	// Chain), "queue" for a full queue, "closed" after Close, "ctx" for an
	// ended ctx, "input" for a nil ctx or job.
	Refused func(guard string, err error)
}

// JobInfo is what an Observer hears of one job.
type JobInfo struct {
	// Wait is how long the job waited: from its Submit (or, for a Submit
	// that waited for room, from when it got in) until it started to run,
	// or until it left without running. A wait in a guard's Start (a rate
	// limiter's line, say) is part of it. A Batcher's item waits until its
	// batch starts.
	Wait time.Duration
	// Run is how long the job ran, from when its guards let it start to
	// its return; 0 if it never ran. A Batcher's item runs as long as its
	// batch's BatchFunc call.
	Run time.Duration
	// Ran reports whether the job ran. If it did, Err is its own outcome:
	// nil, its error, or a *PanicError. If not, Err says why: the ctx's
	// error, ErrClosed, a guard's *RejectedError, or a full queue's when a
	// priority queue evicted it.
	Ran bool
	Err error
}

// WithObserver sets the pool's Observer (see Observer). It applies to
// every constructor. The cost when set: three clock readings per job
// (as it is submitted, starts and ends), and the callbacks themselves.
func WithObserver(o Observer) Option {
	return option{name: "WithObserver", to: forPools | forBatcher, apply: func(c *config) {
		if o.JobDone != nil || o.Refused != nil {
			c.observer = &o
		}
	}}
}

// jobDone reports a job to o, containing a panic in the callback.
func (o *Observer) jobDone(info JobInfo) {
	if o == nil || o.JobDone == nil {
		return
	}
	var dropped error
	defer catch(&dropped)
	o.JobDone(info)
}

// refused reports a refused Submit to o, containing a panic in the
// callback.
func (o *Observer) refused(err error) {
	if o == nil || o.Refused == nil {
		return
	}
	var dropped error
	defer catch(&dropped)
	o.Refused(refusedBy(err), err)
}

// refusedBy names what refused a Submit with err (see Observer.Refused).
func refusedBy(err error) string {
	var rej *RejectedError
	switch {
	case errors.As(err, &rej):
		return rej.Guard
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "ctx"
	}
	return "input"
}
