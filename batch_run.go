package crew

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Running a batch: the goroutine that owns it calls the BatchFunc, judges
// what came back and resolves the items. See batch_internal.go for who owns
// what.

// batchResult is a batch's outcome before it is delivered to the items.
type batchResult[Out any] struct {
	outs []Out
	errs ItemErrors // per-item errors, or nil
	err  error      // when not nil, every item fails with it
	ran  bool       // the BatchFunc was called (Completed) or never (Canceled)
}

// run is a batch goroutine: it runs bt, then every batch that is due when it
// finishes, back to back, and exits when none is.
func (b *Batcher[In, Out]) run(bt *batch[In, Out]) {
	done := false
	defer func() {
		if !done { // the BatchFunc called runtime.Goexit: deliver, hand over
			if next := b.finish(bt, batchResult[Out]{err: goexitError(), ran: true}); next != nil {
				go b.run(next)
			}
		}
	}()
	for bt != nil {
		res := b.exec(bt)
		bt = b.finish(bt, res)
	}
	done = true
}

// finish counts and delivers bt's outcome, frees its slot and cuts the next
// due batch for the calling goroutine, if any.
func (b *Batcher[In, Out]) finish(bt *batch[In, Out], res batchResult[Out]) *batch[In, Out] {
	n := uint64(len(bt.futs))
	b.mu.Lock()
	b.busy -= len(bt.futs)
	switch {
	case !res.ran:
		b.count(outcomeCanceled, n)
	case res.err != nil:
		b.count(outcomeFailed, n)
	default:
		failed := uint64(0)
		for _, err := range res.errs {
			if err != nil {
				failed++
			}
		}
		b.count(outcomeFailed, failed)
		b.count(outcomeOK, n-failed)
	}
	b.mu.Unlock()
	if b.obs != nil {
		b.report(bt, res)
	}
	// Counted before resolving, so Stats read after a Wait include the item.
	// This goroutine owns the batch's Futures (see batch_pending.go).
	var zero Out
	switch {
	case res.err != nil:
		for _, f := range bt.futs {
			f.resolve(zero, res.err, bt.id)
		}
	case res.errs != nil:
		for i, f := range bt.futs {
			if err := res.errs[i]; err != nil {
				f.resolve(zero, err, tagNone)
			} else {
				f.resolve(res.outs[i], nil, tagNone)
			}
		}
	default:
		for i, f := range bt.futs {
			f.resolve(res.outs[i], nil, tagNone)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watchOut -= bt.stopped
	b.running.Remove(bt)
	b.freeBatchLocked(bt)
	now := b.now()
	next := b.cutLocked(now)
	b.pumpLocked(now)
	b.checkDoneLocked()
	return next
}

// report tells the Observer of each item of bt, before they resolve.
func (b *Batcher[In, Out]) report(bt *batch[In, Out], res batchResult[Out]) {
	for i := range bt.futs {
		err := res.err
		if err == nil && res.errs != nil {
			err = res.errs[i]
		}
		b.obs.jobDone(JobInfo{Wait: time.Duration(bt.start - bt.enqs[i]), Run: time.Duration(bt.ran), Ran: res.ran, Err: err})
	}
}

// exec calls the BatchFunc for bt, directly or as a job on b.runOn, and
// judges what it returned. It runs with b.mu released.
func (b *Batcher[In, Out]) exec(bt *batch[In, Out]) batchResult[Out] {
	bt.stopped = stopWatchers(bt.stops) // the items' ctxs no longer matter
	if b.obs != nil {
		bt.start = b.now()
		defer func() { bt.ran = b.now() - bt.start }()
	}
	ins := bt.ins
	ctx, cancel := b.ctx, context.CancelFunc(nil)
	if b.timeout > 0 {
		ctx, cancel = context.WithTimeout(b.ctx, b.timeout)
		defer cancel()
	}
	if b.runOn == nil {
		outs, err := callBatch(ctx, b.fn, ins)
		return judge(len(ins), outs, err)
	}
	return b.execOn(ctx, ins)
}

// execOn runs the batch as one job on b.runOn and waits for it.
func (b *Batcher[In, Out]) execOn(ctx context.Context, ins []In) batchResult[Out] {
	var (
		phase int // 1: the job started; 2: the BatchFunc returned
		outs  []Out
		ferr  error
	)
	job := func(jctx context.Context) (struct{}, error) {
		phase = 1
		outs, ferr = callBatch(jctx, b.fn, ins)
		phase = 2
		return struct{}{}, jobError(len(ins), ferr)
	}
	f, err := b.runOn.Submit(ctx, job)
	if err == nil {
		// The pool resolves f once the job ran or was dropped; waiting is
		// bounded by the job, as for a batch run directly. Resolving f
		// synchronizes with phase, outs and ferr.
		_, err = f.Wait(context.Background())
	}
	switch phase {
	case 2:
		return judge(len(ins), outs, ferr)
	case 1: // the job ended its goroutine: the pool reports it
		return batchResult[Out]{err: err, ran: true}
	}
	if b.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed)) {
		err = ErrClosed // Close gave up on the batch
	}
	return batchResult[Out]{err: err}
}

// jobError is the error a batch job reports to its pool's guards: an
// ItemErrors counts only if every item failed.
func jobError(n int, err error) error {
	var ie ItemErrors
	if errors.As(err, &ie) && len(ie) == n {
		for _, e := range ie {
			if e == nil {
				return nil
			}
		}
	}
	return err
}

// judge turns what a BatchFunc returned for n items into a batchResult.
func judge[Out any](n int, outs []Out, err error) batchResult[Out] {
	if err == nil {
		if len(outs) != n {
			return batchResult[Out]{err: countError(len(outs), "results", n), ran: true}
		}
		return batchResult[Out]{outs: outs, ran: true}
	}
	var ie ItemErrors
	if !errors.As(err, &ie) {
		return batchResult[Out]{err: err, ran: true}
	}
	if len(ie) != n {
		return batchResult[Out]{err: countError(len(ie), "ItemErrors", n), ran: true}
	}
	for _, e := range ie {
		if e == nil && len(outs) != n {
			return batchResult[Out]{err: countError(len(outs), "results", n), ran: true}
		}
	}
	return batchResult[Out]{outs: outs, errs: ie, ran: true}
}

func countError(got int, what string, n int) error {
	return fmt.Errorf("%w: %d %s for %d items", ErrResultCount, got, what, n)
}

// callBatch calls fn, turning a panic into a *PanicError.
func callBatch[In, Out any](ctx context.Context, fn BatchFunc[In, Out], ins []In) (outs []Out, err error) {
	defer catch(&err)
	return fn(ctx, ins)
}
