package crew

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew/internal/list"
)

// Deciding on a retry, and waiting for it.

// again decides whether attempt n of a job, which failed with err, is
// followed by another, and after what wait. It calls the policy's
// Retryable and OnRetry; a panic in either ends the job with the
// *PanicError, returned as final.
func (r *retryPool[T]) again(ctx context.Context, n int, err error) (wait time.Duration, retry bool, final error) {
	final = err
	defer catch(&final) // a panic in a callback: retry stays false
	p := &r.policy
	if n >= p.MaxAttempts || ctx.Err() != nil || errors.Is(err, ErrClosed) || r.closedHard() {
		return 0, false, err
	}
	if p.Retryable != nil {
		if !p.Retryable(err) {
			return 0, false, err
		}
	} else if _, panicked := errors.AsType[*PanicError](err); panicked {
		return 0, false, err
	}
	wait = r.waitFor(n, err)
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(dl) {
		return 0, false, err // the next attempt could not start in time
	}
	if !r.budget.withdraw() {
		return 0, false, err
	}
	if p.OnRetry != nil {
		p.OnRetry(n+1, err, wait)
	}
	return wait, true, err
}

// waitFor is the wait before the attempt after attempt n, which failed
// with err: at least err's RetryAfter, with up to a tenth more of jitter;
// else the back-off, BaseDelay doubled per attempt up to MaxDelay, drawn
// from its upper half.
func (r *retryPool[T]) waitFor(n int, err error) time.Duration {
	if after := retryAfter(err); after > 0 {
		return after + jitter(after/10)
	}
	d := r.policy.BaseDelay
	for i := 1; i < n && d < r.policy.MaxDelay; i++ {
		d = min(d, math.MaxInt64/2) * 2
	}
	d = min(d, r.policy.MaxDelay)
	return d - jitter(d/2)
}

// jitter returns a random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// retryAfter returns when err says to try again: the RetryAfter of the
// first *RejectedError in its chain, else of the first error with a
// RetryAfter() time.Duration method; 0 if none says.
func retryAfter(err error) time.Duration {
	if rej, ok := errors.AsType[*RejectedError](err); ok {
		return rej.RetryAfter
	}
	var ra retryAfterer
	if errors.As(err, &ra) {
		return ra.RetryAfter()
	}
	return 0
}

// retryAfterer is an error that says when to try again.
type retryAfterer interface {
	error
	RetryAfter() time.Duration
}

// retryWait is a job waiting between attempts.
type retryWait[T any] struct {
	list.Links[retryWait[T]] // the Retry's waits; the first field, where the list finds it

	r       *retryPool[T]
	ctx     context.Context
	job     Job[T]
	fut     *Future[T]
	attempt int         // the attempt to make
	timer   *time.Timer // fires when the wait is over
	stop    func() bool // stops the ctx watcher; nil when ctx cannot end
}

// schedule makes attempt n of job once wait has passed, resolving into fut.
func (r *retryPool[T]) schedule(ctx context.Context, job Job[T], fut *Future[T], n int, wait time.Duration) {
	w := &retryWait[T]{r: r, ctx: ctx, job: job, fut: fut, attempt: n}
	r.waitsMu.Lock()
	if r.gaveUp {
		r.waitsMu.Unlock()
		var zero T
		r.resolve(fut, zero, ErrClosed, outcomeCanceled)
		return
	}
	r.waits.PushBack(w)
	w.timer = time.AfterFunc(wait, w.fire)
	if ctx.Done() != nil {
		w.stop = context.AfterFunc(ctx, w.canceled)
	}
	r.waitsMu.Unlock()
}

// take removes w from the waiting jobs and reports whether it was there:
// of its timer, its ctx watcher and Close, the first to take it acts.
func (w *retryWait[T]) take() bool {
	r := w.r
	r.waitsMu.Lock()
	defer r.waitsMu.Unlock()
	return r.waits.Remove(w)
}

// fire makes the attempt w waited for.
func (w *retryWait[T]) fire() {
	if !w.take() {
		return
	}
	if w.stop != nil {
		w.stop()
	}
	r := w.r
	if _, err := r.attempt(w.ctx, w.job, w.fut, w.attempt); err != nil {
		d := delivery[T]{fut: w.fut, err: err, kind: outcomeCanceled, retry: r, ctx: w.ctx, job: w.job, attempt: w.attempt}
		d.deliver() // refused at Submit: attempt n failed
	}
}

// canceled ends w's job with its ctx error, once its ctx ends.
func (w *retryWait[T]) canceled() {
	if !w.take() {
		return
	}
	w.timer.Stop()
	var zero T
	w.r.resolve(w.fut, zero, w.ctx.Err(), outcomeCanceled)
}

// giveUp is Close's deadline path: no retry is scheduled any more, and the
// jobs waiting between attempts resolve with ErrClosed.
func (r *retryPool[T]) giveUp(err error) {
	r.waitsMu.Lock()
	if !r.gaveUp && r.state.Load()>>1 > 0 { // something to give up on
		r.gaveUp, r.giveUpErr = true, err
	}
	var ws []*retryWait[T]
	for w := r.waits.PopFront(); w != nil; w = r.waits.PopFront() {
		ws = append(ws, w)
	}
	r.waitsMu.Unlock()
	var zero T
	for _, w := range ws {
		w.timer.Stop()
		if w.stop != nil {
			w.stop()
		}
		r.resolve(w.fut, zero, ErrClosed, outcomeCanceled)
	}
}

func (r *retryPool[T]) closedHard() bool {
	r.waitsMu.Lock()
	defer r.waitsMu.Unlock()
	return r.gaveUp
}

// retryBudget caps retries at a share of the jobs submitted: a bucket of
// retry tokens (in thousandths) that each job fills by the ratio and each
// retry empties by one, up to the reserve. Zero: no budget.
type retryBudget struct {
	milli    atomic.Int64 // tokens now, in thousandths
	perJob   int64        // thousandths a job adds; 0: no budget
	capMilli int64        // the reserve, in thousandths
}

func (b *retryBudget) init(ratio float64, reserve int) {
	b.perJob = max(int64(math.Round(ratio*1000)), 1)
	b.capMilli = int64(min(reserve, math.MaxInt64/1000)) * 1000
	b.milli.Store(b.capMilli)
}

// deposit adds one job's share, up to the reserve.
func (b *retryBudget) deposit() {
	if b.perJob == 0 {
		return
	}
	for {
		m := b.milli.Load()
		if m >= b.capMilli || b.milli.CompareAndSwap(m, min(m+b.perJob, b.capMilli)) {
			return
		}
	}
}

// withdraw takes a retry token, and reports false if there is none.
func (b *retryBudget) withdraw() bool {
	if b.perJob == 0 {
		return true
	}
	for {
		m := b.milli.Load()
		if m < 1000 {
			return false
		}
		if b.milli.CompareAndSwap(m, m-1000) {
			return true
		}
	}
}
