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

// tries is a Retry job's history, carried from attempt to attempt.
type tries struct {
	n        int  // this attempt's number, from 1
	ran      int  // attempts before this one that ran (reached the job)
	retrying bool // counted in the budget's retries (see retryBudget)
}

// next is the history of the attempt after t, which ran or not.
func (t tries) next(ran bool) tries {
	t.n++
	if ran {
		t.ran++
	}
	return t
}

// again decides whether the attempt tr of a job, which failed with err
// (having run, or not), is followed by another, and after what wait. It calls the policy's
// Retryable and OnRetry; a panic in either ends the job with the
// *PanicError, returned as final. It takes the budget's room for the job's
// first retry, and notes that in tr.
func (r *retryPool[T]) again(ctx context.Context, tr *tries, ran bool, err error) (wait time.Duration, retry bool, final error) {
	final = err
	defer catch(&final) // a panic in a callback: retry stays false
	p := &r.policy
	if tr.n >= p.MaxAttempts || ctx.Err() != nil || errors.Is(err, ErrClosed) || r.closedHard() {
		return 0, false, err
	}
	if p.Retryable != nil {
		if !p.Retryable(err) {
			return 0, false, err
		}
	} else if _, panicked := errors.AsType[*PanicError](err); panicked {
		return 0, false, err
	}
	wait = r.waitFor(tr.next(ran).ran, err)
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(dl) {
		return 0, false, err // the next attempt could not start in time
	}
	if !tr.retrying {
		if !r.budget.take(r.live()) {
			return 0, false, err
		}
		tr.retrying = true
	}
	if p.OnRetry != nil {
		p.OnRetry(tr.n+1, err, wait)
	}
	return wait, true, err
}

// waitFor is the wait before the next attempt of a job whose last attempt
// failed with err, ran attempts having run so far: at least err's
// RetryAfter, with up to a tenth more of jitter; else the back-off,
// BaseDelay doubled for every attempt that ran after the first, up to
// MaxDelay, drawn from its upper half. An attempt a guard refused (it did
// not run) says when to come back and does not lengthen the back-off.
func (r *retryPool[T]) waitFor(ran int, err error) time.Duration {
	if after := retryAfter(err); after > 0 {
		return after + jitter(after/10)
	}
	d := r.policy.BaseDelay
	for i := 1; i < ran && d < r.policy.MaxDelay; i++ {
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

	r     *retryPool[T]
	ctx   context.Context
	job   Job[T]
	fut   *Future[T]
	tries tries       // the attempt to make
	timer *time.Timer // fires when the wait is over
	stop  func() bool // stops the ctx watcher; nil when ctx cannot end
}

// schedule makes the attempt tr of job once wait has passed, resolving
// into fut.
func (r *retryPool[T]) schedule(ctx context.Context, job Job[T], fut *Future[T], tr tries, wait time.Duration) {
	w := &retryWait[T]{r: r, ctx: ctx, job: job, fut: fut, tries: tr}
	r.waitsMu.Lock()
	if r.gaveUp {
		r.waitsMu.Unlock()
		var zero T
		r.resolve(fut, zero, ErrClosed, outcomeCanceled, tr)
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
	if _, err := r.attempt(w.ctx, w.job, w.fut, w.tries); err != nil {
		d := delivery[T]{fut: w.fut, err: err, kind: outcomeCanceled, retry: r, ctx: w.ctx, job: w.job, tries: w.tries}
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
	w.r.resolve(w.fut, zero, w.ctx.Err(), outcomeCanceled, w.tries)
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
		r.resolve(w.fut, zero, ErrClosed, outcomeCanceled, w.tries)
	}
}

func (r *retryPool[T]) closedHard() bool {
	r.waitsMu.Lock()
	defer r.waitsMu.Unlock()
	return r.gaveUp
}

// retryBudget caps the jobs retrying at once at a share of the jobs live
// (accepted and not resolved), as Envoy's retry budgets do: a job takes
// its room at its first retry and gives it back when it resolves. So an
// outage, where every job fails, turns at most that share of the jobs into
// retries, and the rest end with their errors at once. Zero: no budget.
type retryBudget struct {
	ratio    float64
	reserve  int64
	retrying atomic.Int64 // jobs that took room and have not resolved
}

func (b *retryBudget) init(ratio float64, reserve int) {
	b.ratio, b.reserve = ratio, int64(reserve)
}

// take takes room for one more retrying job, with live jobs in all, and
// reports false if there is none.
func (b *retryBudget) take(live int64) bool {
	if b.ratio == 0 {
		return true
	}
	allowed := max(b.reserve, int64(b.ratio*float64(live)))
	for {
		n := b.retrying.Load()
		if n >= allowed {
			return false
		}
		if b.retrying.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// done gives back a retrying job's room.
func (b *retryBudget) done() {
	if b.ratio != 0 {
		b.retrying.Add(-1)
	}
}
