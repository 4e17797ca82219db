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
	scaled := false // this worker moved the limit and has not reported it
	// done is the finished job whose outcome is still to deliver: counted
	// already, it is delivered as soon as mu is released (or before the
	// worker parks or retires), so that touching the Future, which the
	// submitter's processor wrote last, stays out of the critical section.
	// An outcome that may run user code (a Retry's policy) is delivered at
	// once, with mu released.
	var done delivery[T]
	e.mu.Lock()
	e.claims--
	for {
		var t *task[T]
		if e.workers <= e.limit {
			t = e.q.pop()
		}
		if t == nil {
			done.deliver() // with mu held: before parking or retiring
		}
		if e.workers > e.limit {
			break // the limit dropped: retire
		}
		if t != nil {
			t.dequeued()
			e.busy++
			e.grantLocked()
			e.mu.Unlock()
			done.deliver()
			if scaled {
				scaled = false
				e.notifyScale()
			}
			current = t
			var takenAt int64
			if e.obs != nil {
				takenAt = e.q.stamp()
			}
			v, kind, elapsed, err, reusable := e.run(w, t)
			current = nil
			counts, overload := false, false
			if e.ctl != nil && kind.ran() {
				counts, overload, err = e.judge(err)
				if err != nil && kind == outcomeOK {
					kind = outcomeFailed // the judge panicked
				}
			}
			if e.obs != nil {
				e.obs.jobDone(JobInfo{Wait: time.Duration(takenAt - t.Enq), Run: elapsed, Ran: kind.ran(), Err: err})
			}
			e.mu.Lock()
			busy := e.busy
			e.busy--
			e.countLocked(kind, 1)
			done = t.outcome(v, err, kind)
			if reusable {
				e.recycleLocked(t)
			}
			if done.userCode() {
				e.settling++ // Close waits for the delivery
				e.mu.Unlock()
				done.deliver()
				e.mu.Lock()
				e.settling--
			}
			if counts {
				scaled = e.setLimitLocked(e.ctl.observe(elapsed, overload, e.limit, busy)) || scaled
			}
			continue
		}
		if scaled {
			scaled = false
			e.mu.Unlock()
			e.notifyScale()
			e.mu.Lock()
			continue
		}
		if e.state != stateOpen {
			break
		}
		if !e.park(w) {
			break // idle too long: retire
		}
	}
	e.retireLocked(w)
	e.mu.Unlock()
	exited = true
	e.notifyScale() // this worker's exit
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
// at once; under a lower one, idle workers above it are woken to retire and
// busy ones retire as they finish. Requires mu held.
func (e *engine[T]) setLimitLocked(n int) bool {
	n = min(max(n, e.min, 1), e.max)
	if n == e.limit {
		return false
	}
	e.limit = n
	e.scaleGen++
	for surplus := e.workers - n; surplus > 0 && e.idle.Len() > 0; surplus-- {
		e.claims++ // claimed like a dispatch; the worker retires at once
		e.idle.PopFront().wake <- struct{}{}
	}
	e.dispatchLocked()
	e.grantLocked() // a higher limit is room for blocked Submits
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

// park waits for a wake-up, and reports false if the worker should retire
// instead. Called and returns with mu held.
//
// A parked worker waits on its wake channel alone, so a wake-up costs what
// it costs in a pool without an idle timeout. The idle timeout is a
// time.AfterFunc per worker, armed when the worker parks while it may retire
// (workers > min) and left running across wake-ups; when it fires,
// idleExpired wakes the worker if it has been idle long enough (and
// otherwise re-arms for the rest), and the worker decides here, in the same
// critical section as its retirement, whether the pool can spare it. A
// worker that cannot retire keeps no timer, so an idle pool at its minimum
// never wakes.
func (e *engine[T]) park(w *worker) bool {
	e.idle.PushFront(w)
	// An idle worker is room (see hasRoomLocked): a blocked Submit gets it
	// now, and dispatch may hand this worker its job at once.
	e.grantLocked()
	if e.idleTimeout > 0 && e.workers > e.min {
		w.idleAt = time.Now()
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
	<-w.wake
	e.mu.Lock()
	if !w.expired {
		e.claims--
		return true
	}
	// Woken by idleExpired, unclaimed: retire if the pool can spare it,
	// else go on as if woken (take a job queued meanwhile, or park again).
	w.expired = false
	return e.workers <= e.min
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
	if left := e.idleTimeout - time.Since(w.idleAt); left > 0 {
		w.armed = true // armed in an earlier idle spell
		w.timer.Reset(left)
		return
	}
	e.idle.Remove(w)
	w.expired = true
	w.wake <- struct{}{}
}

// retireLocked removes w from the pool. Requires mu held.
func (e *engine[T]) retireLocked(w *worker) {
	e.all.remove(w)
	e.workers--
	e.scaleGen++
	if w.timer != nil && !w.timer.Stop() && w.armed {
		// The timer fired and its callback waits for mu: Close must wait
		// for it too, or it would outlive the pool.
		w.retired = true
		e.settling++
	}
	e.dispatchLocked() // a queued job may need this worker's replacement
	e.grantLocked()
	e.checkDoneLocked()
}
