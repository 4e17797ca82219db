package crew

import "time"

// Phases: the state as the lock-free paths see it, in the low two bits of
// Breaker.cur. They differ from CircuitState so that one bit tells a closed
// circuit (ramping up or not) from the others.
const (
	phaseClosed    = 0
	phaseRamp      = 1 // closed, ramping up
	phaseOpen      = 2
	phaseHalfOpen  = 3
	phaseNotClosed = 2 // the bit that open and half-open have
)

// publishLocked makes the lock-free paths see the generation and phase.
// Requires mu held.
func (b *Breaker) publishLocked() {
	p := uint64(phaseClosed)
	switch {
	case b.state == StateOpen:
		p = phaseOpen
	case b.state == StateHalfOpen:
		p = phaseHalfOpen
	case b.ramping:
		p = phaseRamp
	}
	b.cur.Store(b.gen<<2 | p)
}

// advanceLocked makes the state catch up with the time: an open circuit
// whose time is up is half-open, a half-open round past its deadline failed
// at that deadline, and a ramp that has run its course is over. Requires mu
// held.
func (b *Breaker) advanceLocked(now time.Time) {
	for {
		switch {
		case b.state == StateOpen && !now.Before(b.openUntil):
			b.setLocked(StateHalfOpen, b.openUntil)
		case b.state == StateHalfOpen && !b.roundEnd.IsZero() && !now.Before(b.roundEnd):
			b.openLocked(b.roundEnd)
		case b.ramping && !now.Before(b.since.Add(b.cfg.RampUp)):
			b.ramping = false // the same generation: calls admitted meanwhile still count
			b.publishLocked()
		default:
			return
		}
	}
}

// openLocked opens the circuit at time at, for ResetTimeout. Requires mu held.
func (b *Breaker) openLocked(at time.Time) {
	b.setLocked(StateOpen, at)
	b.openUntil = at.Add(b.cfg.ResetTimeout)
}

// closeRoundLocked closes the circuit after a successful half-open round,
// ramping up if RampUp asks for it. Requires mu held.
func (b *Breaker) closeRoundLocked(now time.Time) {
	b.setLocked(StateClosed, now)
	if b.cfg.RampUp > 0 {
		b.ramping, b.credit = true, 1 // the first call passes
		b.publishLocked()
	}
}

// setLocked moves to state s at time at, in a new generation, forgetting
// the counts of the old one; permits of the old generation become stale.
// Requires mu held.
func (b *Breaker) setLocked(s CircuitState, at time.Time) {
	if s != b.state {
		b.hooks.addLocked(b.state, s)
		if s == StateOpen {
			b.counts.trips++
		}
	}
	b.state, b.ramping, b.since = s, false, at
	b.gen++
	b.taken, b.reserved, b.successes = 0, 0, 0
	b.roundEnd = time.Time{}
	b.fails.Store(0)
	b.win.Reset()
	b.counts.newWindowLocked(b.ok.load())
	b.publishLocked()
}

// recordLocked counts outcome v of a call admitted in the current closed
// generation. Requires mu held.
func (b *Breaker) recordLocked(now time.Time, v verdict) {
	failed := v == verdictFailure
	if failed {
		b.counts.failedLocked()
		b.fails.Add(1)
	} else {
		b.ok.add()
		b.fails.Store(0)
	}
	if !b.ratio {
		if failed && b.fails.Load() >= int64(b.cfg.FailureThreshold) {
			b.openLocked(now)
		}
		return
	}
	c := b.win.Add(now, failed)
	if c.Failures > 0 && c.Calls >= b.cfg.MinimumCalls &&
		float64(c.Failures) >= b.cfg.FailureRatio*float64(c.Calls) {
		b.openLocked(now)
	}
}

// probeDoneLocked counts outcome v of a probe of the current half-open
// round. Requires mu held.
func (b *Breaker) probeDoneLocked(now time.Time, v verdict) {
	switch v {
	case verdictIgnored:
		b.releaseLocked()
	case verdictSuccess:
		b.ok.add()
		b.counts.probeSuccesses++
		b.successes++
		if b.successes >= b.cfg.HalfOpenMaxRequests {
			b.closeRoundLocked(now)
		}
	default:
		b.counts.failedLocked()
		b.counts.probeFailures++
		b.openLocked(now)
	}
}

// takeLocked takes a half-open probe slot. Requires mu held.
func (b *Breaker) takeLocked(now time.Time) {
	if b.taken == b.successes { // no slot in use: the round's clock starts
		b.roundEnd = now.Add(b.cfg.ProbeTimeout)
	}
	b.taken++
}

// releaseLocked gives back a half-open slot whose probe ended undecided.
// Requires mu held.
func (b *Breaker) releaseLocked() {
	b.taken--
	if b.taken == b.successes {
		b.roundEnd = time.Time{} // no slot in use: nothing can hang
	}
}
