package crew

import (
	"time"
)

// work is a worker's loop: take the next job, run it, park when there is
// none, retire when the pool shrinks or closes.
func (e *engine[T]) work(w *worker) {
	var current *task[T] // the job running now, for goexit
	exited := false
	defer func() {
		if !exited {
			e.goexit(w, current) // the job called runtime.Goexit
		}
	}()
	e.notifyScale() // this worker's start
	e.mu.Lock()
	e.claims--
	e.mu.Unlock()
	var done *task[T] // the last job's record, to recycle at the next take
	for {
		if e.nworkers.Load() > e.nlimit.Load() && e.retireOverLimit(w) {
			break
		}
		t := e.q.take(done)
		done = nil
		if t == nil {
			if e.park(w) {
				continue
			}
			break // retired
		}
		if e.gaveUp.Load() { // queued after Close gave up: it will not run
			e.drop(t)
			continue
		}
		if t.watched() && !t.x.state.CompareAndSwap(taskQueued, taskTaken) {
			continue // its ctx watcher, or Close, took it out first and owns it
		}
		current = t
		if e.runOne(w, t) {
			done = t
		}
		current = nil
	}
	if done != nil {
		e.q.recycle(done)
	}
	exited = true
	e.notifyScale() // this worker's exit
}

// runOne runs t, counts it, frees its place and delivers its outcome. It
// reports whether t may be recycled.
func (e *engine[T]) runOne(w *worker, t *task[T]) (reusable bool) {
	if e.ctl != nil {
		e.busy.Add(1)
	}
	v, kind, times, err, reusable := e.run(w, t)
	counts, overload := false, false
	if e.ctl != nil && kind.ran() {
		counts, overload, err = e.judge(err)
		if err != nil && kind == outcomeOK {
			kind = outcomeFailed // the judge panicked
		}
	}
	if e.obs != nil {
		e.obs.jobDone(JobInfo{Wait: time.Duration(times.start - t.Enq), Run: times.elapsed(), Ran: kind.ran(), Err: err})
	}
	var busy int64
	if e.ctl != nil {
		busy = e.busy.Add(-1) + 1
	}
	e.drain.add(w.counts.count(kind), 1) // this worker's jobs mark the pool's drain

	var d delivery[T]
	if t.fut != nil || t.x != nil {
		d = t.outcome(v, err, kind)
	}
	if counts {
		e.mu.Lock()
		scaled := e.setLimitLocked(e.ctl.observe(times.elapsed(), overload, e.limit, int(busy)))
		e.mu.Unlock()
		if scaled {
			e.notifyScale()
		}
	}
	// Its place is free before its outcome is out, so a caller who sees the
	// outcome and submits again finds the room; counted first, so Stats
	// read after a Wait include the job.
	e.inflight.Add(-1)
	e.freed()
	d.deliver()
	return reusable
}

// retireOverLimit retires w if the pool has more workers than its limit
// (it fell), and reports whether it did. Called with mu released.
func (e *engine[T]) retireOverLimit(w *worker) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.workers <= e.limit {
		return false
	}
	e.retireLocked(w)
	return true
}

// judge asks the controller, with mu released, what a job's error says
// (it calls LimitConfig.IsOverload). A panic there is contained: the job's
// outcome becomes the *PanicError, and the job is left out of the windows.
func (e *engine[T]) judge(err error) (counts, overload bool, out error) {
	defer catch(&out)
	out = err
	counts, overload = e.ctl.judge(err)
	return counts, overload, out
}

// setLimitLocked moves the limit to n, clamped to [max(min, 1), max], and
// reports whether it changed. A higher limit starts workers for queued jobs
// at once, and is room for blocked Submits; under a lower one, idle workers
// above it are woken to retire and busy ones retire as they finish.
// Requires mu held.
func (e *engine[T]) setLimitLocked(n int) bool {
	n = min(max(n, e.min, 1), e.max)
	if n == e.limit {
		return false
	}
	e.limit = n
	e.setBound()
	e.scaleGen++
	for surplus := e.workers - n; surplus > 0 && e.idle.Len() > 0; surplus-- {
		e.idleN.Add(-1)
		e.claims++ // claimed like a dispatch; the worker retires at once
		e.idle.PopFront().wake <- struct{}{}
	}
	e.dispatchLocked()
	e.grantLocked()
	return true
}

// notifyScale reports the latest workers and limit to onScale, with mu
// released. One goroutine at a time runs onScale, so reports arrive in
// order; a change made while another goroutine reports (also from inside
// onScale, which may call back into the pool) is reported by that goroutine
// when its call returns. Close waits for a running report (see doneLocked).
// A panic in onScale is contained: that report is lost, the next is made.
// Without onScale it does nothing. Must be called with mu released.
func (e *engine[T]) notifyScale() {
	if e.onScale == nil {
		return
	}
	e.mu.Lock()
	for !e.notifying && e.scaleSeen != e.scaleGen && e.state != stateDone {
		e.notifying = true
		e.scaleSeen = e.scaleGen
		workers, limit := e.workers, e.limit
		e.mu.Unlock()
		e.report(workers, limit)
		e.mu.Lock()
		e.notifying = false
	}
	e.checkDoneLocked()
	e.mu.Unlock()
}

// report calls onScale, containing a panic in it.
func (e *engine[T]) report(workers, limit int) {
	var dropped error
	defer catch(&dropped)
	e.onScale(workers, limit)
}

// park waits, the queue being empty, for a wake-up, and reports false if
// the worker retired instead: the pool is closing, over its limit, or the
// worker was idle for the idle timeout. Called with mu released.
//
// A parked worker waits on its wake channel alone, so a wake-up costs what
// it costs in a pool without an idle timeout. The idle timeout is a
// time.AfterFunc per worker, armed when the worker parks while it may
// retire (workers > min) and left running across wake-ups; when it fires,
// idleExpired wakes the worker if it has been idle long enough (and
// otherwise re-arms for the rest), and the worker decides here, in the
// same critical section as its retirement, whether the pool can spare it.
// A worker that cannot retire keeps no timer, so an idle pool at its
// minimum never wakes.
//
// The worker marks itself idle (idleN) before it looks at the queue once
// more, and a Submit queues its job before it looks for idle workers: of
// the two, one sees the other, so no job waits while a worker sleeps.
func (e *engine[T]) park(w *worker) bool {
	e.mu.Lock()
	if e.workers > e.limit || e.state != stateOpen {
		e.retireLocked(w)
		e.mu.Unlock()
		return false
	}
	e.idle.PushFront(w)
	e.idleN.Add(1)
	if e.idleTimeout > 0 && e.workers > e.min {
		w.idleAt = int64(time.Since(e.born))
		if !w.armed {
			w.armed = true
			if w.timer == nil {
				w.timer = time.AfterFunc(e.idleTimeout, func() { e.idleExpired(w) })
			} else {
				w.timer.Reset(e.idleTimeout)
			}
		}
	}
	e.mu.Unlock()
	if e.q.len() > 0 { // a job came as this worker went idle
		e.mu.Lock()
		back := e.idle.Remove(w)
		if back {
			e.idleN.Add(-1)
		}
		e.mu.Unlock()
		if back {
			return true
		}
		// A dispatch claimed this worker meanwhile: take its wake-up.
	}
	<-w.wake
	e.mu.Lock()
	defer e.mu.Unlock()
	if !w.expired {
		e.claims--
		return true
	}
	// Woken by idleExpired, unclaimed: retire if the pool can spare it,
	// else go on as if woken (take a job queued meanwhile, or park again).
	w.expired = false
	if e.workers > e.min {
		e.retireLocked(w)
		return false
	}
	return true
}

// idleExpired runs when w's idle timer fires. If w is still idle, has been
// for the idle timeout, and the pool is above its minimum, it takes w off
// the idle list and wakes it to retire (see park).
func (e *engine[T]) idleExpired(w *worker) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w.retired { // the worker is gone; Close was waiting for this callback
		w.retired = false
		e.settledLocked(1)
		return
	}
	w.armed = false
	if !e.idle.Contains(w) || e.workers <= e.min {
		return // busy (its next park re-arms), or it must stay
	}
	if left := e.idleTimeout - (time.Since(e.born) - time.Duration(w.idleAt)); left > 0 {
		w.armed = true // armed in an earlier idle spell
		w.timer.Reset(left)
		return
	}
	e.idle.Remove(w)
	e.idleN.Add(-1)
	w.expired = true
	w.wake <- struct{}{}
}

// retireLocked removes w from the pool, its counts going to the pool's.
// Requires mu held.
func (e *engine[T]) retireLocked(w *worker) {
	c := &w.counts
	e.completed.Add(c.completed.Load())
	e.failed.Add(c.failed.Load())
	e.canceled.Add(c.canceled.Load())
	e.refused.Add(c.refused.Load())
	e.all.remove(w)
	e.workers--
	e.nworkers.Add(-1)
	e.scaleGen++
	if w.timer != nil && !w.timer.Stop() && w.armed {
		// The timer fired and its callback waits for mu: Close must wait
		// for it too, or it would outlive the pool.
		w.retired = true
		e.settling++
	}
	e.dispatchLocked() // a queued job may need this worker's replacement
	e.checkDoneLocked()
}
