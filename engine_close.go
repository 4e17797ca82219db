package crew

import (
	"context"
)

// close implements Pool.Close for every pool.
func (e *engine[T]) close(ctx context.Context) error {
	if ctx == nil {
		return errNilContextClose
	}
	fromJob := ctx.Value(nestedKey{e}) != nil
	e.mu.Lock()
	if e.state == stateOpen {
		e.state = stateClosing
		e.closed.Store(true)
		for e.waiters.n > 0 {
			e.rejected++
			answerLocked(e.waiters.pop(), ErrClosed)
		}
		for w := e.idle.pop(); w != nil; w = e.idle.pop() {
			e.claims++
			w.wake <- struct{}{}
		}
		e.checkDrainedLocked()
	}
	e.mu.Unlock()
	if fromJob {
		return errCloseFromJob // waiting would wait for the caller itself
	}
	select {
	case <-e.drained:
	case <-ctx.Done():
		e.giveUp(ctx.Err())
		<-e.drained
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closeErr
}

// giveUp is Close's deadline path: queued jobs resolve with ErrClosed and
// running jobs see their ctx cancelled. The first call that finds a job to
// give up on decides Close's result.
func (e *engine[T]) giveUp(err error) {
	e.mu.Lock()
	if e.state == stateDone || e.hardStop || (e.q.len() == 0 && e.busy == 0) {
		// Nothing to give up: the idle workers are retiring, and Close
		// reports the drain, not the ctx that ended meanwhile.
		e.mu.Unlock()
		return
	}
	e.hardStop, e.closeErr = true, err
	var dropped []*task[T]
	for t := e.q.pop(); t != nil; t = e.q.pop() {
		e.leaveLocked(t)
		dropped = append(dropped, t)
	}
	e.stopCancel()
	for w := e.all.head; w != nil; w = w.anext {
		w.cancelJob()
	}
	e.mu.Unlock()
	e.settle(ErrClosed, dropped...)
}

// checkDrainedLocked ends a closing pool once nothing is left to run and
// no onScale call is running. Requires mu held.
func (e *engine[T]) checkDrainedLocked() {
	if e.state == stateClosing && e.workers == 0 && e.q.len() == 0 && e.settling == 0 && !e.notifying {
		e.state = stateDone
		e.free, e.nfree = nil, 0
		e.stopCancel()
		close(e.drained)
	}
}

// stats implements Pool.Stats for every pool.
func (e *engine[T]) stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{
		Workers:   e.workers,
		Busy:      e.busy,
		Queued:    e.q.len(),
		Submitted: e.submitted,
		Rejected:  e.rejected,
		Completed: e.completed,
		Failed:    e.failed,
		Canceled:  e.canceled,
		Refused:   e.refused,
	}
}
