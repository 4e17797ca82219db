package crew

import (
	"context"
	"errors"
	"time"
)

// span is when a job started and ended, in e.clock's readings; zero if
// the pool has no clock (no controller, no Observer).
type span struct{ start, end int64 }

// elapsed is how long the job ran.
func (s span) elapsed() time.Duration { return time.Duration(s.end - s.start) }

// run runs one job with its guards and reports how it left, its outcome,
// and, when a controller or an Observer needs it, when it started and
// ended.
//
// reusable reports that t may be recycled: its ctx watcher was stopped before
// it fired, or there was none.
func (e *engine[T]) run(w *worker, t *task[T]) (v T, kind outcome, times span, err error, reusable bool) {
	watched := t.watched()
	if watched {
		if reusable = t.x.stop(); !reusable {
			e.awaitWatcher(t)
		}
		if err := t.ctx.Err(); err != nil {
			t.guards().abandon(0)
			if e.clock != nil {
				times.start = e.clock()
				times.end = times.start
			}
			return v, outcomeCanceled, times, err, reusable
		}
	} else {
		reusable = true
	}
	ctx := e.jobContext(w, t)
	if watched {
		defer w.release() // the job has a ctx of its own to cancel
	}
	var refused bool
	v, times.start, times.end, refused, err = runGuarded(ctx, t.job, t.guards(), e.clock, !isBackground(t.ctx))
	if refused {
		kind, err := e.neverRan(t, err)
		return v, kind, times, err, reusable
	}
	if err != nil {
		return v, outcomeFailed, times, err, reusable
	}
	return v, outcomeOK, times, nil, reusable
}

// neverRan is what a job a guard refused at start resolves with, and how it
// counts, by the one rule for jobs that never ran (guarantee 1): the
// guard's error as a ctx error only if the submitter's ctx ended; ErrClosed
// if Close gave up (which cancels the job ctx a guard's Start waits on);
// otherwise the guard's refusal, counted as Refused.
func (e *engine[T]) neverRan(t *task[T], err error) (outcome, error) {
	switch {
	case t.ctx.Err() != nil:
		return outcomeCanceled, err
	case e.stopCtx.Err() != nil && errors.Is(err, context.Canceled):
		return outcomeCanceled, ErrClosed
	}
	return outcomeRefused, err
}

// goexit repairs the accounts when a job ends its worker with
// runtime.Goexit: the job resolves as a panic, the worker is replaced.
func (e *engine[T]) goexit(w *worker, t *task[T]) {
	w.release()
	if t != nil {
		if e.ctl != nil {
			e.busy.Add(-1)
		}
		w.counts.count(outcomeFailed)
		if e.obs != nil {
			e.obs.jobDone(JobInfo{Ran: true, Err: goexitError()})
		}
		done := t.outcome(*new(T), goexitError(), outcomeFailed) // t is not recycled
		done.deliver()
	}
	e.mu.Lock()
	e.retireLocked(w)
	if e.state == stateOpen && e.workers < e.min {
		e.startWorkerLocked() // the pool keeps its minimum
	}
	e.mu.Unlock()
	if t != nil {
		e.inflight.Add(-1)
		e.freed()
		e.mu.Lock()
		e.dispatchLocked() // its queued jobs may have lost their worker
		e.checkDoneLocked()
		e.mu.Unlock()
	}
	e.notifyScale()
}

// runGuarded runs job behind the guards of adm (nil: none): each guard's
// Start in order, then the job, then each guard's Done, innermost first.
// refused reports that a guard refused the job at Start: it did not run,
// and err is the refusal; a RateLimiter before that guard gets its token
// back. start and end are clock's readings as the job started (its guards'
// Start passed, or refused) and as it returned; clock is nil if the caller
// needs neither, and then the clock is read only if a guard may use the
// job's elapsed time, so a plain pool never reads it. lookup says whether
// ctx may carry a run timeout (WithRunTimeout), which starts as the job
// does, after the guards' Start.
func runGuarded[T any](ctx context.Context, job Job[T], adm *admission, clock func() int64, lookup bool) (v T, start, end int64, refused bool, err error) {
	if adm == nil {
		if clock == nil {
			v, err = callJob(ctx, job, lookup)
			return v, 0, 0, false, err
		}
		start = clock()
		v, err = callJob(ctx, job, lookup)
		return v, start, clock(), false, err
	}
	var small [4]Ticket // common chains keep their tickets on the stack
	tickets := small[:0]
	var held [4]heldToken // and the tokens their rate limiters took
	tokens := held[:0]
	guards, lims := adm.guards.g, adm.guards.lims
	for i, g := range guards {
		var t Ticket
		var gerr error
		if lims != nil {
			var tok heldToken
			if lims[i] != nil {
				tok, gerr = takeToken(lims[i], ctx, adm.tickets[i])
			} else {
				t, gerr = startGuard(g, ctx, adm.tickets[i])
			}
			tokens = append(tokens, tok)
		} else {
			t, gerr = startGuard(g, ctx, adm.tickets[i])
		}
		if gerr != nil {
			for j := i - 1; j >= 0; j-- {
				if lims != nil && lims[j] != nil {
					lims[j].giveBack(tokens[j]) // the job never starts (guarantee 7)
				}
				doneGuard(guards[j], tickets[j], gerr, 0)
			}
			adm.abandon(i + 1)
			if clock != nil {
				start = clock()
			}
			return v, start, start, true, gerr
		}
		tickets = append(tickets, t)
	}
	var begin time.Time // the clock if the caller has none and a guard needs one
	switch {
	case clock != nil:
		start = clock()
	case adm.guards.timed:
		begin = time.Now()
	}
	returned := false
	defer func() {
		if !returned { // runtime.Goexit: the guards still hear of it
			for j := len(tickets) - 1; j >= 0; j-- {
				doneGuard(guards[j], tickets[j], goexitError(), 0)
			}
		}
	}()
	v, err = callJob(ctx, job, lookup)
	returned = true
	var elapsed time.Duration
	switch {
	case clock != nil:
		end = clock()
		elapsed = time.Duration(end - start)
	case adm.guards.timed:
		elapsed = time.Since(begin)
	}
	jobErr := err
	for j := len(tickets) - 1; j >= 0; j-- {
		if perr := doneGuard(guards[j], tickets[j], jobErr, elapsed); perr != nil && err == jobErr {
			err = perr // the first guard that panicked decides the outcome
		}
	}
	return v, start, end, false, err
}

// clockSince returns a monotonic clock reading ns since epoch. Each pool
// has its own epoch, taken when it is made, so that a pool made in a
// synctest bubble reads the bubble's clock.
func clockSince(epoch time.Time) func() int64 {
	return func() int64 { return int64(time.Since(epoch)) }
}

// callJob runs job with its run timeout, if lookup says its ctx may carry
// one (WithRunTimeout), turning a panic into a *PanicError.
func callJob[T any](ctx context.Context, job Job[T], lookup bool) (T, error) {
	if lookup {
		if rctx, cancel := withRunTimeout(ctx); cancel != nil {
			defer cancel()
			ctx = rctx
		}
	}
	return call(ctx, job)
}

// untimedGuard is implemented by crew's own guards, to tell the engine when
// they have no use for a job's elapsed time, so it can skip the clock.
type untimedGuard interface {
	ignoresElapsed() bool
}

// wantElapsed reports whether some guard may use the elapsed time.
func wantElapsed(guards []Guard) bool {
	for _, g := range guards {
		if usesElapsed(g) {
			return true
		}
	}
	return false
}

// usesElapsed reports whether g may use a job's elapsed time.
func usesElapsed(g Guard) bool {
	u, ok := g.(untimedGuard)
	return !ok || !u.ignoresElapsed()
}
