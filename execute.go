package crew

import (
	"context"
	"errors"
	"reflect"
	"time"
)

// Execute makes one call to fn through g, without a pool: g's Admit, then
// its Start (which may wait, until ctx ends), then fn on the calling
// goroutine, then g's Done with fn's outcome. It returns g's refusal if g
// refused the call (fn did not run), ctx.Err() if ctx had ended, and fn's
// result otherwise. A panic in fn is recovered and returned as a
// *PanicError (a Breaker counts it as a failure); if fn calls
// runtime.Goexit, g still hears of it before the goroutine ends.
// WithRunTimeout in ctx bounds fn from when it starts. Guard methods are
// called as a Chain calls them, so a panic in one is a *PanicError too.
//
// Execute allocates nothing of its own; its cost is g's. It returns an
// error, and calls nothing, for a nil ctx, guard or fn.
func Execute[T any](ctx context.Context, g Guard, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	switch {
	case ctx == nil:
		return zero, errNilContextExecute
	case isNil(g):
		return zero, errNilGuard
	case fn == nil:
		return zero, errNilFunc
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	admitted, err := admitGuard(g, ctx)
	if err != nil {
		return zero, err
	}
	started, err := startGuard(g, ctx, admitted)
	if err != nil {
		return zero, err
	}
	var begin time.Time
	if usesElapsed(g) {
		begin = time.Now()
	}
	returned := false
	defer func() {
		if !returned { // runtime.Goexit: the guard still hears of it
			doneGuard(g, started, goexitError(), 0)
		}
	}()
	v, err := callJob(ctx, Job[T](fn), true)
	returned = true
	var elapsed time.Duration
	if !begin.IsZero() {
		elapsed = time.Since(begin)
	}
	if perr := doneGuard(g, started, err, elapsed); perr != nil {
		return zero, perr
	}
	return v, err
}

// isNil reports whether x is nil or holds a nil pointer (or other nil
// value), as Chain(p, (*Breaker)(nil)) would pass.
func isNil(x any) bool {
	if x == nil {
		return true
	}
	switch v := reflect.ValueOf(x); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

var (
	errNilContextExecute = errors.New("crew: Execute called with a nil context.Context (use context.Background())")
	errNilGuard          = errors.New("crew: Execute called with a nil Guard")
	errNilFunc           = errors.New("crew: Execute called with a nil function")
)
