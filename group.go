package crew

import (
	"context"
	"errors"
	"sync"
)

// Group submits many jobs to one pool and waits for all of them: one
// Wait, results in the order the jobs were submitted. Create it with
// NewGroup. It is safe for concurrent use: any number of goroutines may
// Submit, while one or more Wait.
//
// A Group costs one Future per job (the pool's) and a slot in a slice;
// with WithCancelOnError, also a closure per job.
type Group[T any] struct {
	pool        Pool[T]
	ctx         context.Context
	cancel      context.CancelCauseFunc // nil without WithCancelOnError
	cancelFirst bool

	mu    sync.Mutex
	futs  []*Future[T]
	first error // the first job error seen, with WithCancelOnError
}

// GroupOption configures NewGroup. Options are immutable values, safe to
// reuse and to share between goroutines.
type GroupOption interface {
	applyGroup(*groupConfig)
}

type groupConfig struct {
	cancelOnError bool
}

type groupOptionFunc func(*groupConfig)

func (o groupOptionFunc) applyGroup(c *groupConfig) { o(c) }

// WithCancelOnError makes the first job of the Group that returns an error
// or panics cancel the Group's ctx: the jobs still queued leave the queue
// without running (their results are the ctx error) and the running ones
// see their ctx end. Wait then returns that first error.
func WithCancelOnError() GroupOption {
	return groupOptionFunc(func(c *groupConfig) { c.cancelOnError = true })
}

// NewGroup returns a Group whose jobs run on p with ctx: its values (a
// priority, a run timeout) and its cancellation reach every job. With
// WithCancelOnError the Group's jobs run with a ctx of its own, derived
// from ctx, which also ends when Wait returns: submit a Group's jobs
// before waiting for them.
//
// NewGroup panics if ctx or p is nil.
func NewGroup[T any](ctx context.Context, p Pool[T], opts ...GroupOption) *Group[T] {
	if ctx == nil || isNil(p) {
		panic("crew: NewGroup: the ctx and the pool must not be nil")
	}
	var c groupConfig
	for _, o := range opts {
		if o != nil {
			o.applyGroup(&c)
		}
	}
	g := &Group[T]{pool: p, ctx: ctx}
	if c.cancelOnError {
		g.ctx, g.cancel = context.WithCancelCause(ctx)
		g.cancelFirst = true
	}
	return g
}

// Submit submits job to the Group's pool with the Group's ctx. It may wait
// for room as the pool's Submit does. If the pool refuses the job, Submit
// returns the refusal and the job is not part of the Group.
func (g *Group[T]) Submit(job Job[T]) error {
	if job == nil {
		return errNilJob
	}
	if g.cancelFirst {
		inner := job
		job = func(ctx context.Context) (v T, err error) {
			defer func() {
				if err != nil {
					g.fail(err)
				}
			}()
			defer catch(&err) // a panic is a failure too; the pool sees the same *PanicError
			return inner(ctx)
		}
	}
	f, err := g.pool.Submit(g.ctx, job)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.futs = append(g.futs, f)
	g.mu.Unlock()
	return nil
}

// fail records the first job error and cancels the Group's ctx with it.
func (g *Group[T]) fail(err error) {
	g.mu.Lock()
	first := g.first == nil
	if first {
		g.first = err
	}
	g.mu.Unlock()
	if first {
		g.cancel(err)
	}
}

// Wait waits for every job submitted so far and returns their results in
// the order they were submitted, with the first error: with
// WithCancelOnError the one that cancelled the rest, otherwise the error of
// the earliest submitted job that failed; nil if none did. If ctx ends
// first, Wait returns ctx.Err() and no results; the jobs go on.
func (g *Group[T]) Wait(ctx context.Context) ([]Result[T], error) {
	if ctx == nil {
		return nil, errors.New("crew: Group.Wait called with a nil context.Context (use context.Background())")
	}
	g.mu.Lock()
	futs := g.futs[:len(g.futs):len(g.futs)]
	g.mu.Unlock()
	results := make([]Result[T], len(futs))
	var firstErr error
	for i, f := range futs {
		select {
		case <-f.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		v, err := f.Wait(ctx)
		results[i] = Result[T]{Value: v, Err: err}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	g.mu.Lock()
	if g.first != nil {
		firstErr = g.first
	}
	g.mu.Unlock()
	if g.cancel != nil {
		g.cancel(context.Canceled) // as errgroup does: the Group's ctx ends with Wait
	}
	return results, firstErr
}
