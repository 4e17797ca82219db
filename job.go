package crew

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Job is a unit of work run by a pool. The ctx it receives carries the
// submitter's values and cancellation, and is also cancelled when the pool's
// Close gives up waiting.
type Job[T any] func(ctx context.Context) (T, error)

// Result is a job's outcome as a value: what it returned, or why it did not.
type Result[T any] struct {
	Value T
	Err   error
}

// Future is the pending outcome of one accepted job. It resolves exactly once.
//
// A Future is safe for concurrent use: any number of goroutines may call Done
// and Wait. Resolving synchronizes before every Done channel close and Wait
// return, so the value is safe to read afterwards.
type Future[T any] struct {
	// Set at Submit, read-only afterwards.
	job  Job[T]
	ctx  context.Context
	adm  *admission  // the Chain's guards and their Admit tickets; nil if none
	stop func() bool // stops the ctx watcher; nil when ctx cannot end

	// Queue bookkeeping, guarded by the owning engine's mu.
	prev, next *Future[T] // FIFO links
	index      int        // heap index in a priority queue
	seq        uint64     // arrival order
	key        int64      // priority ordering key (lower runs first)
	prio       int        // priority level
	enq        int64      // enqueue time, ns since the engine's epoch
	queued     bool       // in the queue now

	jc jobContext // the ctx the job runs with; lives here to save an allocation

	// Outcome. resolved is set once, after val and err are written.
	resolved atomic.Bool
	mu       sync.Mutex    // guards ch
	ch       chan struct{} // created on the first Done call, closed on resolve
	val      T
	err      error
}

// closedCh is handed out by Done when the outcome was known before Done was
// first called, so a resolved Future never allocates a channel.
var closedCh = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done returns a channel that is closed once the outcome is known.
func (f *Future[T]) Done() <-chan struct{} {
	f.mu.Lock()
	if f.ch == nil {
		if f.resolved.Load() {
			f.ch = closedCh
		} else {
			f.ch = make(chan struct{})
		}
	}
	c := f.ch
	f.mu.Unlock()
	return c
}

// Wait blocks until the outcome is known or ctx ends, and returns the
// outcome. An ended ctx ends only this wait, not the job; an outcome that is
// already known is returned even if ctx has ended.
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	if f.resolved.Load() {
		return f.val, f.err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		if !f.resolved.Load() {
			var zero T
			return zero, ctx.Err()
		}
	}
	return f.val, f.err
}

// Result returns the outcome if it is known; ok is false while the job is
// pending. It never blocks.
func (f *Future[T]) Result() (r Result[T], ok bool) {
	if !f.resolved.Load() {
		return r, false
	}
	return Result[T]{Value: f.val, Err: f.err}, true
}

// resolve records the outcome. It reports false if the Future was already
// resolved; callers own the exactly-once rule and treat false as a bug.
func (f *Future[T]) resolve(v T, err error) bool {
	f.mu.Lock()
	if f.resolved.Load() {
		f.mu.Unlock()
		return false
	}
	f.val, f.err = v, err
	f.resolved.Store(true)
	c := f.ch
	f.mu.Unlock()
	if c != nil {
		close(c)
	}
	return true
}

// fail resolves f with err and the zero value.
func (f *Future[T]) fail(err error) bool {
	var zero T
	return f.resolve(zero, err)
}

// PanicError is a job's panic, recovered by the pool that ran it.
type PanicError struct {
	Value any    // what the job passed to panic
	Stack []byte // the panicking goroutine's stack, as debug.Stack prints it
}

// Error describes the panic without its stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("crew: job panicked: %v", e.Value)
}

// Unwrap returns the panic value if it is an error, so errors.Is and
// errors.As see through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
