package crew

import "context"

// Go submits job to p without a Future: fire and forget. It is Submit
// without the Future's allocation: on crew's pools, and on a Chain or a
// Group's pool built on one, it allocates nothing. It waits for room,
// refuses and counts as Submit does, and the job runs as Submit's would:
// its guards see it, a panic is recovered. Nobody can wait for the job:
// its outcome is counted in Stats (Completed, Failed), told to its guards
// and to the pool's Observer (JobDone), and otherwise dropped. Use Submit
// or Do when the caller needs the result.
//
// On a Pool crew cannot see into, Go calls Submit and drops the Future.
func Go[T any](ctx context.Context, p Pool[T], job Job[T]) error {
	if g, ok := p.(goer[T]); ok {
		return g.Go(ctx, job)
	}
	_, err := p.Submit(ctx, job)
	return err
}

// goer is a Pool with a Go method.
type goer[T any] interface {
	Go(ctx context.Context, job Job[T]) error
}

// Go submits job without a Future (see the package-level Go).
func (p *WorkerPool[T]) Go(ctx context.Context, job Job[T]) error {
	_, err := p.e.submit(ctx, job, &jobSpec[T]{noFut: true})
	return err
}

// Go submits job without a Future (see the package-level Go).
func (p *PriorityPool[T]) Go(ctx context.Context, job Job[T]) error {
	_, err := p.e.submit(ctx, job, &jobSpec[T]{noFut: true})
	return err
}

// Go submits job without a Future (see the package-level Go).
func (p *AdaptivePool[T]) Go(ctx context.Context, job Job[T]) error {
	_, err := p.e.submit(ctx, job, &jobSpec[T]{noFut: true})
	return err
}

// Go submits job through the Chain's guards without a Future.
func (c *chain[T]) Go(ctx context.Context, job Job[T]) error {
	if ctx == nil || job == nil || c.isClosed() || c.eng == nil {
		_, err := c.Submit(ctx, job) // refused, or a base crew cannot see into
		return err
	}
	_, err := c.submit(ctx, job, jobSpec[T]{noFut: true})
	return err
}
