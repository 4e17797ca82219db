package crew

import (
	"context"
	"fmt"
	"time"
)

// WithRunTimeout returns a copy of ctx that gives a job submitted with it a
// deadline d after the job starts running: the time it spends queued, or
// waiting in a guard's Start (for a rate limiter's token), does not count.
// Under Retry every attempt gets d anew. ctx's own deadline, if any, still
// bounds everything: the job runs with the earlier of the two.
//
// Every crew pool and Chain honours it, and so does Execute (from when fn
// starts). A Batcher ignores it: its items' ctxs do not reach the BatchFunc
// (see WithBatchTimeout). The job ctx made for it costs a timer and a few
// allocations per start.
//
// WithRunTimeout panics if ctx is nil or d <= 0.
func WithRunTimeout(ctx context.Context, d time.Duration) context.Context {
	if ctx == nil {
		panic("crew: WithRunTimeout: nil context.Context")
	}
	if d <= 0 {
		panic(fmt.Sprintf("crew: WithRunTimeout(%v): the timeout must be > 0", d))
	}
	return context.WithValue(ctx, runTimeoutKey{}, d)
}

// runTimeoutKey is the ctx key of WithRunTimeout.
type runTimeoutKey struct{}

// withRunTimeout returns the ctx a job runs with once its guards let it
// start: ctx itself, or, if the submitter asked for a run timeout, a child
// of ctx with that deadline and its cancel func (nil otherwise). ctx is the
// job ctx, which carries the submitter's values.
func withRunTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Value(runTimeoutKey{}).(time.Duration)
	if !ok {
		return ctx, nil
	}
	return context.WithTimeout(ctx, d)
}
