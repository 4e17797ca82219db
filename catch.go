package crew

import (
	"context"
	"runtime/debug"
)

// Every call into user code that could panic (a job, a BatchFunc, a
// guard, a callback) is made through catch, which turns the panic into a
// *PanicError, so that no panic of user code ends the program from one of
// crew's goroutines.

// catch, deferred, turns a panic into a *PanicError in *err:
//
//	defer catch(&err)
func catch(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}

// goexitError is the outcome of user code that called runtime.Goexit,
// which ends its goroutine without a panic to recover.
func goexitError() error {
	return &PanicError{Value: "runtime.Goexit called", Stack: debug.Stack()}
}

// call runs job, turning a panic into a *PanicError.
func call[T any](ctx context.Context, job Job[T]) (v T, err error) {
	defer catch(&err)
	return job(ctx)
}
