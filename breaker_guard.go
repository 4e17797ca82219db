package crew

import (
	"context"
	"errors"
	"time"
)

// Ticket kinds, in the low two bits; the generation is in the others.
const (
	ticketCall  Ticket = 1 // admitted while closed
	ticketProbe Ticket = 2 // a half-open probe
)

// Admit implements Guard: it refuses at once while the circuit is open,
// half-open with every probe slot taken, or ramping up and over its share;
// a job admitted while half-open reserves a slot, and its ticket says so,
// with the generation. Closed, it takes no lock.
func (b *Breaker) Admit(context.Context) (Ticket, error) {
	if c := b.cur.Load(); c&3 == phaseClosed {
		return Ticket(c) | ticketCall, nil
	}
	return b.admitSlow()
}

func (b *Breaker) admitSlow() (Ticket, error) {
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	var t Ticket
	var err error
	switch {
	case b.state == StateClosed && (!b.ramping || b.rampAdmitLocked(now)):
		t = Ticket(b.gen<<2) | ticketCall
	case b.state == StateHalfOpen && b.taken < b.cfg.HalfOpenMaxRequests:
		b.takeLocked(now)
		b.reserved++
		b.counts.probes++
		t = Ticket(b.gen<<2) | ticketProbe
	default:
		err = b.refuseLocked(now)
	}
	b.unlockAndDeliver()
	return t, err
}

// Start implements Guard. It never waits: it refuses a job the circuit no
// longer lets through (it opened after the job was admitted, so a job
// queued before a trip never becomes a half-open probe) and otherwise hands
// out a permit stamped with the current generation. A job that reserved a
// probe slot at Admit, in this half-open round, takes it. Closed (ramping
// up or not), it lets every admitted job through.
func (b *Breaker) Start(_ context.Context, admitted Ticket) (Ticket, error) {
	if c := b.cur.Load(); c&phaseNotClosed == 0 { // closed, ramping up or not
		return Ticket(c&^3) | ticketCall, nil
	}
	return b.startSlow(admitted)
}

func (b *Breaker) startSlow(admitted Ticket) (Ticket, error) {
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	var t Ticket
	var err error
	switch {
	case b.state == StateClosed:
		t = Ticket(b.gen<<2) | ticketCall
	case b.holdsSlotLocked(admitted):
		b.reserved--
		t = Ticket(b.gen<<2) | ticketProbe
	default: // open, or half-open and admitted before this round
		err = b.refuseLocked(now)
	}
	b.unlockAndDeliver()
	return t, err
}

// Done implements Guard: it counts the outcome of a job Start let through,
// unless its permit is from an older generation. Closed, a success takes no
// lock.
func (b *Breaker) Done(t Ticket, err error, elapsed time.Duration) {
	if t&3 == ticketCall && err == nil && !b.ratio &&
		(b.cfg.SlowCallThreshold <= 0 || elapsed <= b.cfg.SlowCallThreshold) {
		// A success of a call admitted while closed, the common case: count
		// it without the lock, unless it is stale or has failures to reset.
		if b.cur.Load()>>2 != uint64(t>>2) {
			return
		}
		if b.fails.Load() == 0 {
			b.ok.add()
			return
		}
	}
	if kind := t & 3; kind == ticketCall || kind == ticketProbe {
		b.count(t, b.classify(t, err, elapsed))
	}
}

// count records outcome v of the call with permit t.
func (b *Breaker) count(t Ticket, v verdict) {
	if t&3 == ticketCall {
		if v == verdictIgnored || b.cur.Load()>>2 != uint64(t>>2) {
			return // not a call's verdict, or stale: the circuit left that closed generation
		}
		if v == verdictSuccess && !b.ratio && b.fails.Load() == 0 {
			b.ok.add() // nothing to reset
			return
		}
	}
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	if uint64(t>>2) == b.gen {
		if t&3 == ticketCall {
			b.recordLocked(now, v)
		} else {
			b.probeDoneLocked(now, v)
		}
	}
	b.unlockAndDeliver()
}

// Abandon implements Guard: a job that reserved a probe slot at Admit, in
// the half-open round still going on, gives the slot back.
func (b *Breaker) Abandon(admitted Ticket) {
	if admitted&3 != ticketProbe || b.cur.Load()&3 != phaseHalfOpen {
		return // it holds no slot, or its round is over
	}
	b.mu.Lock()
	b.advanceLocked(time.Now()) // a round past its deadline has failed already
	if b.holdsSlotLocked(admitted) {
		b.reserved--
		b.releaseLocked()
	}
	b.unlockAndDeliver()
}

// holdsSlotLocked reports whether Admit's ticket reserved a probe slot in
// the half-open round going on now. Requires mu held.
func (b *Breaker) holdsSlotLocked(admitted Ticket) bool {
	return b.state == StateHalfOpen && admitted&3 == ticketProbe &&
		uint64(admitted>>2) == b.gen && b.reserved > 0
}

// verdict is what the breaker counts a call's outcome as.
type verdict int

const (
	verdictSuccess verdict = iota
	verdictFailure
	verdictIgnored
)

// classify decides what the outcome of the call with permit t counts as.
func (b *Breaker) classify(t Ticket, err error, elapsed time.Duration) verdict {
	slow := b.cfg.SlowCallThreshold > 0 && elapsed > b.cfg.SlowCallThreshold
	if err == nil {
		if slow {
			return verdictFailure
		}
		return verdictSuccess
	}
	if _, ok := errors.AsType[*PanicError](err); ok {
		return verdictFailure
	}
	if _, ok := errors.AsType[*RejectedError](err); ok || errors.Is(err, context.Canceled) {
		return verdictIgnored
	}
	if b.cfg.IsFailure == nil || slow {
		return verdictFailure
	}
	return b.askIsFailure(t, err)
}

// askIsFailure asks cfg.IsFailure about err. A panic in it makes the call a
// failure and is reported in Stats; if it calls runtime.Goexit, the call is
// counted as a failure before its goroutine goes, so that a probe slot is
// not left taken.
func (b *Breaker) askIsFailure(t Ticket, err error) verdict {
	returned := false
	defer func() {
		if !returned { // runtime.Goexit: Done will not go on
			b.callbackPanicked(goexitError())
			b.count(t, verdictFailure)
		}
	}()
	failed, perr := b.isFailure(err)
	returned = true
	switch {
	case perr != nil:
		b.callbackPanicked(perr)
		return verdictFailure
	case failed:
		return verdictFailure
	}
	return verdictSuccess
}

// isFailure calls cfg.IsFailure, turning a panic into a *PanicError.
func (b *Breaker) isFailure(err error) (failed bool, perr error) {
	defer catch(&perr)
	return b.cfg.IsFailure(err), nil
}
