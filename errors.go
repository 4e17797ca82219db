package crew

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// The sentinel errors. Every error crew returns for these conditions matches
// one of them with errors.Is, also when wrapped in a *RejectedError.
var (
	// ErrClosed: the pool (or batcher) is closed, or Close gave up on a
	// queued job.
	ErrClosed = errors.New("crew: closed")
	// ErrQueueFull: the queue had no room and waiting was not an option
	// (WithNonBlocking, a nested Submit from one of the pool's own jobs, or a
	// priority queue evicting a lower-priority job).
	ErrQueueFull = errors.New("crew: queue full")
	// ErrRateLimited: a rate limit guard could not admit the job in time.
	ErrRateLimited = errors.New("crew: rate limited")
	// ErrCircuitOpen: a circuit breaker refused the job.
	ErrCircuitOpen = errors.New("crew: circuit open")
	// ErrResultCount is wrapped by the error that fails every item of a
	// batch whose BatchFunc returned a wrong number of results or of
	// ItemErrors.
	ErrResultCount = errors.New("crew: BatchFunc returned a wrong number of results")
)

// RejectedError is what a guard, or a full queue, returns when it refuses a
// job. It matches its sentinel with errors.Is and is found with errors.As.
// It is not changed after it is returned, so it is safe to share between
// goroutines.
type RejectedError struct {
	Guard      string        // which guard refused: "ratelimit", "breaker", "queue", a user's name
	RetryAfter time.Duration // when trying again makes sense; 0 if unknown
	Err        error         // the sentinel; Unwrap returns it
}

// Error names the guard, the reason and, when known, the retry delay,
// rounded up to what a person reads (1ms below a minute, 1s above); the
// RetryAfter field keeps the exact value.
func (e *RejectedError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("crew: rejected by %s: %v (retry after %v)", e.Guard, e.Err, readable(e.RetryAfter))
	}
	return fmt.Sprintf("crew: rejected by %s: %v", e.Guard, e.Err)
}

// readable rounds d up to a unit a person reads: 1µs below a millisecond,
// 1ms below a minute, 1s above. Up, so that waiting what the text says is
// never too early.
func readable(d time.Duration) time.Duration {
	unit := time.Second
	switch {
	case d < time.Millisecond:
		unit = time.Microsecond
	case d < time.Minute:
		unit = time.Millisecond
	}
	if r := d % unit; r != 0 && d <= math.MaxInt64-unit {
		d += unit - r
	}
	return d
}

// Unwrap returns the sentinel, so errors.Is(err, ErrRateLimited) works.
func (e *RejectedError) Unwrap() error { return e.Err }

// Errors for bad input. They are not sentinels: bad input is a programming
// error, and the messages say what to fix.
var (
	errNilContext      = errors.New("crew: Submit called with a nil context.Context (use context.Background())")
	errNilContextClose = errors.New("crew: Close called with a nil context.Context (use context.Background())")
	errNilJob          = errors.New("crew: Submit called with a nil Job")
	// errCloseFromJob: Close was called with the ctx of one of the pool's
	// own jobs; it stops intake but cannot wait for the caller itself.
	errCloseFromJob = errors.New("crew: Close called from one of the pool's own jobs: intake stopped, the pool drains after this job returns")
	// errCloseFromBatch: the same for a Batcher's Close called with the ctx
	// of one of its own batches (or one derived from it).
	errCloseFromBatch = errors.New("crew: Close called from the Batcher's own BatchFunc: intake stopped, the Batcher drains after this batch returns")
)
