package crew

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"
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
//
// A Future holds only the outcome (the engine keeps a job's queue
// bookkeeping in a recycled record of its own), so the caller may keep it
// as long as it likes at the cost of a few words; a Batcher's Futures come
// in blocks of about 1 KB, and a kept one keeps its block.
type Future[T any] struct {
	// state goes pending -> resolving -> resolved, once; val and err are
	// written in between, so they may be read once state is resolved.
	state atomic.Uint32
	// tag is the resolver's note on how the outcome came about, written
	// with val and err (resolve); 0 unless the resolver sets one. It fills
	// the padding after state, so it costs no space.
	tag uint32
	// ch is the chan struct{} that the first Done call before resolve made
	// (nil until then), stored as a pointer so it can be swapped in
	// atomically; resolve closes it.
	ch  unsafe.Pointer
	val T
	err error
}

const (
	futurePending uint32 = iota
	futureResolving
	futureResolved
)

// closedCh is handed out by Done when the outcome was known before Done was
// first called, so a resolved Future never allocates a channel.
var closedCh = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// chanPtr and ptrChan convert between a channel and the pointer it is.
func chanPtr(c chan struct{}) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&c)) }
func ptrChan(p unsafe.Pointer) chan struct{} { return *(*chan struct{})(unsafe.Pointer(&p)) }

// Done returns a channel that is closed once the outcome is known.
//
// It is lock-free: the channel is made on the first call and installed with
// a compare-and-swap. resolve stores the state and then loads ch; Done
// installs (or loads) ch and then loads the state. Both are sequentially
// consistent atomics, so either resolve sees the channel and closes it, or
// Done sees the resolved state and returns closedCh instead.
func (f *Future[T]) Done() <-chan struct{} {
	if f.state.Load() == futureResolved {
		return closedCh
	}
	p := atomic.LoadPointer(&f.ch)
	if p == nil {
		c := chanPtr(make(chan struct{}))
		if atomic.CompareAndSwapPointer(&f.ch, nil, c) {
			p = c
		} else {
			p = atomic.LoadPointer(&f.ch)
		}
	}
	if f.state.Load() == futureResolved {
		return closedCh
	}
	return ptrChan(p)
}

// Wait blocks until the outcome is known or ctx ends, and returns the
// outcome. An ended ctx ends only this wait, not the job; an outcome that is
// already known is returned even if ctx has ended.
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	if f.state.Load() == futureResolved {
		return f.val, f.err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		if f.state.Load() != futureResolved {
			var zero T
			return zero, ctx.Err()
		}
	}
	return f.val, f.err
}

// Result returns the outcome if it is known; ok is false while the job is
// pending. It never blocks.
func (f *Future[T]) Result() (r Result[T], ok bool) {
	if f.state.Load() != futureResolved {
		return r, false
	}
	return Result[T]{Value: f.val, Err: f.err}, true
}

// resolve records the outcome, with tag, the resolver's note on how it
// came about (0 unless the Batcher sets one; see joinItemErrors). It
// reports false if the Future was already resolved; callers own the
// exactly-once rule and treat false as a bug. It takes no lock.
func (f *Future[T]) resolve(v T, err error, tag uint32) bool {
	if !f.state.CompareAndSwap(futurePending, futureResolving) {
		return false
	}
	f.val, f.err, f.tag = v, err, tag
	f.state.Store(futureResolved)
	if p := atomic.LoadPointer(&f.ch); p != nil {
		close(ptrChan(p))
	}
	return true
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

// isResolved reports whether the outcome is known.
func (f *Future[T]) isResolved() bool { return f.state.Load() == futureResolved }
