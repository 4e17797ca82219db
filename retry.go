package crew

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew/internal/list"
)

// RetryPolicy says when and how Retry tries a failed job again. The zero
// value is ready to use: every zero field takes its default. Retry copies
// it, so changing a RetryPolicy later changes no pool.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts in all, the first included
	// (default 3; 1 means no retry). An attempt that a guard refused (an
	// open breaker, a token that would come too late) counts: leave room
	// for refusals in front of an outage, and let the ctx's deadline be
	// the real bound.
	MaxAttempts int

	// BaseDelay is the back-off before the second attempt (default 100ms).
	// It doubles for every further attempt that ran, up to MaxDelay, and
	// each wait is drawn at random from its upper half (jitter), so jobs
	// that failed together do not come back together. An attempt that a
	// guard refused waits its RetryAfter instead and does not lengthen the
	// back-off.
	BaseDelay time.Duration

	// MaxDelay caps one back-off (default 10s). It does not cap a
	// RetryAfter: an error that says when to come back is believed.
	MaxDelay time.Duration

	// Retryable reports whether an attempt's error is worth another try.
	// Default: every error but a *PanicError. Whatever it says, Retry never
	// tries again once the Submit's ctx has ended, nor after ErrClosed.
	// It runs outside every lock; a panic in it ends the job with that
	// *PanicError. It must be safe for concurrent use.
	Retryable func(error) bool

	// BudgetRatio, when above 0, caps the jobs retrying at once at this
	// share of the jobs live (accepted and not resolved; 0.2: one in five),
	// but at least BudgetReserve, as Envoy's retry budgets do. A job takes
	// its room at its first retry and keeps it until it resolves; a job
	// that finds no room ends with its last error. So an outage, where
	// every job fails, cannot multiply the load on the downstream by
	// MaxAttempts.
	BudgetRatio float64
	// BudgetReserve is the jobs that may retry at once whatever the share
	// (default 10, used only with BudgetRatio).
	BudgetReserve int

	// OnRetry, if set, is called each time a retry is scheduled: attempt is
	// the number of the attempt to come (2 for the first retry), err the
	// error it retries, wait how long it waits first. It runs outside every
	// lock, on the goroutine that saw the failure (a pool worker, a timer,
	// or the submitter's), and must not block. A panic in it ends the job
	// with that *PanicError instead of retrying.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Retry returns a Pool that runs each job on base and, when an attempt
// fails with an error worth another try, submits it to base again after a
// wait, until it succeeds, MaxAttempts is reached, or its ctx's deadline
// could not be met (guarantee 13). Submit returns one Future, which
// resolves once, with the last attempt's outcome.
//
// Every attempt is a Submit to base, so base's queue and guards (a Chain's
// rate limiter and breaker) see each one; between attempts the job holds no
// worker and no queue slot, only a timer. The wait before an attempt is at
// least the last error's RetryAfter (a *RejectedError's, or any error in
// the chain with a RetryAfter() time.Duration method), else the back-off.
// When the next attempt could not start before the ctx deadline, the job
// ends at once with the last error. A first attempt that base refuses at
// Submit is retried like any other (Submit then returns a Future), unless
// the refusal is not worth a retry: then Submit returns it. A job whose ctx
// ends while it waits between attempts resolves with the ctx error at once.
// WithRunTimeout gives every attempt its own deadline.
//
// Stats counts jobs, not attempts: Submitted, Completed, Failed, Canceled
// and Refused describe each job by its final outcome (Completed if its
// last attempt ran); Workers, Busy and Queued are base's. base's own Stats
// count every attempt.
//
// Close stops intake, lets the jobs it accepted finish, retries included,
// then closes base. If ctx ends first, jobs waiting between attempts
// resolve with ErrClosed at once, base's Close gives up on the attempts it
// holds (which are not retried), and Close returns ctx.Err() once every job
// has resolved. Called from one of base's jobs with that job's ctx, Close
// stops intake (Retry's and base's) and returns an error at once; the jobs
// then end as their next attempts are refused. Over a Pool crew cannot see
// into, Close cannot tell its jobs' ctxs (it would wait for itself), and a
// first attempt already waiting there for room is let in when room comes.
// Put Retry outermost: Retry(Chain(pool, limiter, breaker)).
//
// On a crew pool or a Chain of one, an attempt costs what a Submit to base
// costs, and a first attempt that succeeds allocates nothing more; a retry
// allocates its timer (and a ctx watcher when the ctx can end). On any
// other Pool each attempt also costs a goroutine that waits for it.
//
// Retry panics if base is nil, a count or delay in policy is negative, or
// BudgetRatio is NaN or infinite.
func Retry[T any](base Pool[T], policy RetryPolicy) Pool[T] {
	if isNil(base) {
		panic("crew: Retry: the base pool is nil")
	}
	p := policy
	switch {
	case p.MaxAttempts < 0, p.BudgetReserve < 0:
		panic(fmt.Sprintf("crew: Retry: MaxAttempts (%d) and BudgetReserve (%d) must be >= 0", p.MaxAttempts, p.BudgetReserve))
	case p.BaseDelay < 0, p.MaxDelay < 0:
		panic(fmt.Sprintf("crew: Retry: BaseDelay (%v) and MaxDelay (%v) must be >= 0", p.BaseDelay, p.MaxDelay))
	case !(p.BudgetRatio >= 0 && p.BudgetRatio < math.Inf(1)):
		panic(fmt.Sprintf("crew: Retry: BudgetRatio (%v) must be a finite number >= 0", p.BudgetRatio))
	}
	p.MaxAttempts = orDefault(p.MaxAttempts, 3)
	p.BaseDelay = orDefault(p.BaseDelay, 100*time.Millisecond)
	p.MaxDelay = orDefault(p.MaxDelay, 10*time.Second)
	p.BudgetReserve = orDefault(p.BudgetReserve, 10)
	r := &retryPool[T]{
		base:      base,
		policy:    p,
		closing:   make(chan struct{}),
		drained:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	if a, ok := base.(attemptSubmitter[T]); ok {
		if c, isChain := base.(*chain[T]); !isChain || c.eng != nil {
			r.via = a
		}
	}
	if p.BudgetRatio > 0 {
		r.budget.init(p.BudgetRatio, p.BudgetReserve)
	}
	return r
}

// attemptSubmitter is implemented by crew's pools, and by a Chain over one,
// so that every attempt of a Retry resolves the same Future and a first
// attempt costs no more than a plain Submit.
type attemptSubmitter[T any] interface {
	submitAttempt(ctx context.Context, job Job[T], spec jobSpec[T]) (*Future[T], error)
}

// retryPool is the Pool that Retry returns. It is safe for concurrent use.
//
// Every job it accepted is live until its Future resolves: in an attempt
// that base holds, or waiting between attempts (in waits, on a timer).
// live counts them, so that Close knows when they are all done.
type retryPool[T any] struct {
	base   Pool[T]
	via    attemptSubmitter[T] // base's path for attempts; nil: any other Pool
	policy RetryPolicy         // defaults filled in; read-only
	budget retryBudget         // in use when policy.BudgetRatio > 0

	// state is live<<1 | closing: Submit adds a live job and sees closing
	// in one atomic step; drained closes when closing and live is 0.
	state      atomic.Uint64
	closing    chan struct{} // closed when Close begins
	drained    chan struct{}
	drainOnce  sync.Once
	submitted  atomic.Uint64
	rejected   atomic.Uint64
	completed  atomic.Uint64
	failed     atomic.Uint64
	canceled   atomic.Uint64
	refused    atomic.Uint64
	intake     sync.Once     // stopIntake
	closeStart sync.Once     // the first Close, which does the closing
	closeDone  chan struct{} // closed once closeErr is final
	closeErr   error
	waitsMu    sync.Mutex
	waits      list.List[retryWait[T]] // jobs waiting between attempts; guarded by waitsMu
	gaveUp     bool                    // Close gave up: no more retries; guarded by waitsMu
	giveUpErr  error                   // the ctx error of the Close that gave up; guarded by waitsMu
}

func (r *retryPool[T]) Submit(ctx context.Context, job Job[T]) (*Future[T], error) {
	switch {
	case ctx == nil:
		r.rejected.Add(1)
		return nil, errNilContext
	case job == nil:
		r.rejected.Add(1)
		return nil, errNilJob
	}
	if !r.enter() {
		r.rejected.Add(1)
		return nil, ErrClosed
	}
	f, err := r.attempt(ctx, job, nil, tries{n: 1})
	if err == nil {
		r.submitted.Add(1)
		return f, nil
	}
	// Refused at once. A full queue is the caller's backpressure
	// (guarantee 3), not a failure to retry.
	retry := false
	var wait time.Duration
	tr := tries{n: 1}
	if !errors.Is(err, ErrQueueFull) {
		wait, retry, _ = r.again(ctx, &tr, false, err)
	}
	if !retry {
		r.rejected.Add(1)
		r.leave()
		return nil, err
	}
	f = new(Future[T])
	r.submitted.Add(1)
	r.schedule(ctx, job, f, tr.next(false), wait)
	return f, nil
}

func (r *retryPool[T]) Stats() Stats {
	b := r.base.Stats()
	return Stats{
		Workers:   b.Workers,
		Busy:      b.Busy,
		Queued:    b.Queued,
		Submitted: r.submitted.Load(),
		Rejected:  r.rejected.Load(),
		Completed: r.completed.Load(),
		Failed:    r.failed.Load(),
		Canceled:  r.canceled.Load(),
		Refused:   r.refused.Load(),
	}
}

func (r *retryPool[T]) isClosed() bool { return r.state.Load()&1 != 0 }

// live returns the jobs accepted and not resolved.
func (r *retryPool[T]) live() int64 { return int64(r.state.Load() >> 1) }

// enter counts a new live job, unless Retry is closing.
func (r *retryPool[T]) enter() bool {
	if r.state.Add(2)&1 != 0 {
		r.leave()
		return false
	}
	return true
}

// leave counts a live job out: its Future resolved, or it was refused.
func (r *retryPool[T]) leave() {
	if r.state.Add(^uint64(1)) == 1 { // closing, and none live
		r.drain()
	}
}

func (r *retryPool[T]) drain() { r.drainOnce.Do(func() { close(r.drained) }) }

// attempt submits attempt n of job to base, resolving into fut (nil: base
// makes the Future). A first attempt is new intake: if it waits for room in
// a crew pool's queue, Close ends the wait with ErrClosed. A later attempt
// belongs to a job Close lets finish.
func (r *retryPool[T]) attempt(ctx context.Context, job Job[T], fut *Future[T], tr tries) (*Future[T], error) {
	if r.via != nil {
		spec := jobSpec[T]{fut: fut, retry: r, tries: tr}
		if tr.n == 1 {
			spec.abort = r.closing
		}
		return r.via.submitAttempt(ctx, job, spec)
	}
	return r.attemptOn(ctx, job, fut, tr)
}

// attemptOn submits an attempt to a Pool crew cannot see into, and waits
// for it on a goroutine of its own.
func (r *retryPool[T]) attemptOn(ctx context.Context, job Job[T], fut *Future[T], tr tries) (*Future[T], error) {
	ran := new(atomic.Bool)
	af, err := r.base.Submit(ctx, func(ctx context.Context) (T, error) {
		ran.Store(true)
		return job(ctx)
	})
	if err != nil {
		return nil, err
	}
	if fut == nil {
		fut = new(Future[T])
	}
	go func() {
		v, err := af.Wait(context.Background()) // base resolves it, also on Close
		d := delivery[T]{fut: fut, v: v, err: err, kind: foreignKind(ran.Load(), err), retry: r, ctx: ctx, job: job, tries: tr}
		d.deliver()
	}()
	return fut, nil
}

// outcome takes an attempt's outcome: the job's final one, or a retry to
// schedule. It runs user code (Retryable, OnRetry) on failure, so callers
// hold no lock then.
func (r *retryPool[T]) outcome(d *delivery[T]) {
	if d.err == nil {
		r.resolve(d.fut, d.v, nil, d.kind, d.tries)
		return
	}
	wait, retry, err := r.again(d.ctx, &d.tries, d.kind.ran(), d.err)
	if !retry {
		var zero T
		r.resolve(d.fut, zero, err, d.kind, d.tries)
		return
	}
	r.schedule(d.ctx, d.job, d.fut, d.tries.next(d.kind.ran()), wait)
}

// resolve counts a job by its final outcome, resolves its Future, and
// counts it out.
func (r *retryPool[T]) resolve(fut *Future[T], v T, err error, k outcome, tr tries) {
	if tr.retrying {
		r.budget.done()
	}
	switch {
	case k.ran():
		r.completed.Add(1)
		if err != nil {
			r.failed.Add(1)
		}
	case k == outcomeRefused:
		r.canceled.Add(1)
		r.refused.Add(1)
	default:
		r.canceled.Add(1)
	}
	fut.resolve(v, err, 0)
	r.leave()
}

// foreignKind is how an attempt on a Pool crew cannot see into left, as
// far as Retry can tell: it ran, or a guard refused it, or it was dropped.
func foreignKind(ran bool, err error) outcome {
	switch {
	case ran && err == nil:
		return outcomeOK
	case ran:
		return outcomeFailed
	}
	if _, ok := errors.AsType[*RejectedError](err); ok {
		return outcomeRefused
	}
	return outcomeCanceled
}
