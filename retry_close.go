package crew

import "context"

// Closing a Retry: stop intake, let the accepted jobs finish their
// retries, close the base; or give up.

func (r *retryPool[T]) Close(ctx context.Context) error {
	if ctx == nil {
		return errNilContextClose
	}
	r.stopIntake()
	if o, ok := r.base.(jobOwner); ok && o.ownsJob(ctx) {
		// Called from a job of base, with its ctx: waiting would wait for
		// the caller. base stops intake too and drains after the job, so
		// later attempts are refused and their jobs end.
		_ = r.base.Close(ctx)
		return errCloseFromJob
	}
	first := false
	r.closeStart.Do(func() { first = true })
	if !first {
		select {
		case <-r.closeDone:
		case <-ctx.Done():
			r.giveUp(ctx.Err())
			_ = r.base.Close(ctx) // base gives up on the attempts it holds
			<-r.closeDone
		}
		return r.closeErr
	}
	select {
	case <-r.drained:
	case <-ctx.Done():
		r.giveUp(ctx.Err())
	}
	err := r.base.Close(ctx)
	<-r.drained // base resolved every attempt it held
	r.waitsMu.Lock()
	if r.gaveUp {
		err = r.giveUpErr
	}
	r.waitsMu.Unlock()
	r.closeErr = err
	close(r.closeDone)
	return err
}

// stopIntake makes later Submits return ErrClosed, and first attempts
// waiting for room in a crew pool's queue give up.
func (r *retryPool[T]) stopIntake() {
	r.intake.Do(func() {
		close(r.closing)
		if r.state.Or(1)>>1 == 0 {
			r.drain()
		}
	})
}

// jobOwner is implemented by crew's pools, and a Chain of one, to tell a
// ctx of one of their own jobs.
type jobOwner interface {
	ownsJob(ctx context.Context) bool
}
