package crew

// How OnStateChange calls are delivered: one at a time, in the order of the
// changes, outside the lock.
//
// A change is made under mu and appended to the queue there, so the queue's
// order is the order of the changes. Whoever releases mu with changes
// waiting and nobody delivering becomes the deliverer: it calls the hook for
// each waiting change in turn, taking mu only to pop the next one, until the
// queue is empty. A goroutine that makes a change while another delivers
// just appends it and returns; the deliverer finds it before it stops
// (popping the last change and clearing the flag happen under the same
// hold of mu). So there is never more than one hook call at a time, none is
// lost, and a hook that changes the state (Trip, Reset, a probe via
// Execute) or reads it (State, Stats) never waits for anything: its own
// changes are delivered by the loop it runs in, after it returns.

// hookQueue holds the changes of state made but not yet delivered to
// OnStateChange. It is guarded by Breaker.mu.
type hookQueue struct {
	on         func(from, to CircuitState) // BreakerConfig.OnStateChange; read-only
	list       []stateChange
	next       int  // index in list of the next change to deliver
	delivering bool // a goroutine is in deliver
}

type stateChange struct{ from, to CircuitState }

// addLocked queues a change for OnStateChange, if it is set. Requires mu
// held.
func (q *hookQueue) addLocked(from, to CircuitState) {
	if q.on != nil {
		q.list = append(q.list, stateChange{from, to})
	}
}

// unlockAndDeliver releases mu and then, if changes are waiting and no
// other goroutine is delivering, delivers them. Requires mu held.
func (b *Breaker) unlockAndDeliver() {
	q := &b.hooks
	if q.delivering || q.next == len(q.list) {
		b.mu.Unlock()
		return
	}
	q.delivering = true
	b.mu.Unlock()
	b.deliver()
}

// deliver calls OnStateChange for each waiting change, in order, until none
// is left. Called without mu held, by the goroutine that set delivering.
func (b *Breaker) deliver() {
	finished := false
	defer func() {
		if !finished {
			// The hook called runtime.Goexit: this goroutine is going away.
			// The changes still waiting go to the next caller that
			// releases mu (any call but a closed circuit's lock-free ones).
			b.mu.Lock()
			b.hooks.delivering = false
			b.mu.Unlock()
		}
	}()
	q := &b.hooks
	for {
		b.mu.Lock()
		if q.next == len(q.list) {
			q.list, q.next = q.list[:0], 0
			q.delivering = false
			b.mu.Unlock()
			finished = true
			return
		}
		c := q.list[q.next]
		q.next++
		b.mu.Unlock()
		b.callHook(c)
	}
}

// callHook calls OnStateChange, recovering a panic.
func (b *Breaker) callHook(c stateChange) {
	returned := false
	defer func() {
		if !returned { // runtime.Goexit
			b.callbackPanicked(goexitError())
		}
	}()
	perr := b.hook(c)
	returned = true
	if perr != nil {
		b.callbackPanicked(perr)
	}
}

// hook calls OnStateChange, turning a panic into a *PanicError.
func (b *Breaker) hook(c stateChange) (perr error) {
	defer catch(&perr)
	b.hooks.on(c.from, c.to)
	return nil
}

// callbackPanicked records perr, a *PanicError from a callback (a panic, or
// runtime.Goexit).
func (b *Breaker) callbackPanicked(perr error) {
	pe, _ := perr.(*PanicError)
	b.lastPanic.Store(pe)
	b.callbackPanics.Add(1)
}
