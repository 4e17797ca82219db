package crewredis

import (
	"context"
	"time"

	"github.com/crew-go/crew"
)

// localState is one replica's copy of the circuit, guarded by the
// Breaker's mu.
type localState struct {
	state     crew.CircuitState
	gen       uint64 // local generation, in tickets; +1 on every change
	rgen      int64  // the shared generation this copy follows; -1: none yet
	openUntil time.Time
	slots     int // half-open: probe slots Redis granted this replica this round
	taken     int // half-open: slots taken (reserved + running + succeeded)
	reserved  int // half-open: slots taken at Admit whose job has not started
	pending   int // half-open: jobs admitted provisionally, waiting for a slot
	successes int
	roundEnd  time.Time // half-open: when an undecided round fails; zero while no slot is in use
	win       ratioWindow
	down      bool          // Redis taken for down: decide alone
	slotCh    chan struct{} // closed when a slot request is answered; nil if none asked
	requests  uint64        // scripts run
	failures  uint64        // of requests: failed
	retry     bool          // down: the poll came, try Redis again
}

// pendingOps is what the syncer is to tell Redis, guarded by mu.
type pendingOps struct {
	sync     bool    // read the shared state
	trip     bool    // this replica tripped (or a probe failed) in generation tripGen
	tripGen  int64   // the shared generation the trip is about
	vote     bool    // closed with a quorum: a vote to trip generation tripGen
	slots    int     // probe slots wanted
	dones    []int64 // successful probes, by shared generation
	releases []int64 // slots given back, by shared generation
}

// Ticket kinds, in the low two bits; the local generation is in the others.
const (
	ticketCall    crew.Ticket = 1 // admitted while closed
	ticketProbe   crew.Ticket = 2 // a half-open probe with a slot
	ticketPending crew.Ticket = 3 // admitted half-open, waiting for a slot
)

// Admit implements crew.Guard. It never waits and never calls Redis:
// closed, it is an atomic load; open, it refuses at once with a
// *crew.RejectedError whose RetryAfter is the time left open; half-open,
// it takes a probe slot this replica holds, or admits the job
// provisionally and asks Redis for a slot, or refuses when as many jobs as
// the round has probes already wait.
func (b *Breaker) Admit(context.Context) (crew.Ticket, error) {
	if c := b.cur.Load(); crew.CircuitState(c&3) == crew.StateClosed {
		return crew.Ticket(c) | ticketCall, nil
	}
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	s := &b.st
	var t crew.Ticket
	var err error
	switch s.state {
	case crew.StateClosed:
		t = crew.Ticket(s.gen<<2) | ticketCall
	case crew.StateOpen:
		err = b.rejected(s.openUntil.Sub(now))
	case crew.StateHalfOpen:
		switch {
		case s.taken < b.slotsLocked():
			b.takeLocked(now)
			s.reserved++
			t = crew.Ticket(s.gen<<2) | ticketProbe
		case s.taken+s.pending < b.cfg.HalfOpenMaxRequests && !s.down:
			s.pending++
			b.ops.slots++
			if s.slotCh == nil {
				s.slotCh = make(chan struct{})
			}
			t = crew.Ticket(s.gen<<2) | ticketPending
			b.wake()
		default:
			err = b.rejected(0)
		}
	}
	b.mu.Unlock()
	b.events.deliver(b.cfg.OnStateChange)
	return t, err
}

// Start implements crew.Guard. It refuses a job the circuit no longer lets
// through. A job admitted provisionally while half-open waits, until ctx
// ends or at most the request timeout, for Redis to grant this replica a
// probe slot, and runs as a probe or is refused.
func (b *Breaker) Start(ctx context.Context, admitted crew.Ticket) (crew.Ticket, error) {
	if c := b.cur.Load(); crew.CircuitState(c&3) == crew.StateClosed && admitted&3 != ticketPending {
		return crew.Ticket(c) | ticketCall, nil
	}
	if admitted&3 == ticketPending {
		return b.startPending(ctx, admitted)
	}
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	s := &b.st
	var t crew.Ticket
	var err error
	switch s.state {
	case crew.StateClosed:
		t = crew.Ticket(s.gen<<2) | ticketCall
	case crew.StateOpen:
		err = b.rejected(s.openUntil.Sub(now))
	case crew.StateHalfOpen:
		if admitted&3 == ticketProbe && uint64(admitted>>2) == s.gen && s.reserved > 0 {
			s.reserved--
			t = crew.Ticket(s.gen<<2) | ticketProbe
		} else {
			err = b.rejected(0) // admitted before this round: not a probe
		}
	}
	b.mu.Unlock()
	b.events.deliver(b.cfg.OnStateChange)
	return t, err
}

// startPending waits for the answer to the slot request a provisional
// admission made.
func (b *Breaker) startPending(ctx context.Context, admitted crew.Ticket) (crew.Ticket, error) {
	timer := time.NewTimer(b.bc.requestTimeout)
	defer timer.Stop()
	for {
		now := time.Now()
		b.mu.Lock()
		b.advanceLocked(now)
		s := &b.st
		if uint64(admitted>>2) != s.gen || s.state != crew.StateHalfOpen {
			b.mu.Unlock() // the round it was admitted in is over
			b.events.deliver(b.cfg.OnStateChange)
			return 0, b.rejected(0)
		}
		if s.taken < b.slotsLocked() {
			s.pending--
			b.takeLocked(now)
			t := crew.Ticket(s.gen<<2) | ticketProbe
			b.mu.Unlock()
			return t, nil
		}
		ch := s.slotCh
		b.mu.Unlock()
		b.events.deliver(b.cfg.OnStateChange)
		var err error
		if ch != nil {
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				err = ctx.Err()
			case <-timer.C:
				err = b.rejected(0)
			}
		} else {
			err = b.rejected(0) // asked and refused: every slot is taken
		}
		b.mu.Lock()
		if uint64(admitted>>2) == b.st.gen {
			b.st.pending--
		}
		b.mu.Unlock()
		return 0, err
	}
}

// Done implements crew.Guard: it counts the outcome of a job Start let
// through, unless its ticket is from an older generation.
func (b *Breaker) Done(t crew.Ticket, err error, elapsed time.Duration) {
	kind := t & 3
	v := b.classify(err, elapsed)
	if kind == ticketCall {
		if v == outcomeIgnored || v == outcomeSuccess && b.cfg.FailureRatio == 0 && b.fails.Load() == 0 {
			return
		}
		if b.cur.Load() != uint64(t&^3) {
			return // stale
		}
	} else if kind != ticketProbe {
		return
	}
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	s := &b.st
	if uint64(t>>2) == s.gen {
		switch {
		case kind == ticketCall:
			b.recordLocked(now, v)
		case v == outcomeIgnored:
			b.releaseLocked()
		case v == outcomeSuccess:
			s.successes++
			if s.down {
				if s.successes >= b.cfg.HalfOpenMaxRequests {
					b.setLocked(crew.StateClosed)
				}
			} else {
				b.ops.dones = append(b.ops.dones, s.rgen)
				b.wake()
			}
		default:
			b.tripLocked(now, false)
		}
	}
	b.mu.Unlock()
	b.events.deliver(b.cfg.OnStateChange)
}

// Abandon implements crew.Guard: a job that reserved a probe slot, or
// waits for one, and will not start gives it back.
func (b *Breaker) Abandon(admitted crew.Ticket) {
	kind := admitted & 3
	if kind != ticketProbe && kind != ticketPending {
		return
	}
	b.mu.Lock()
	s := &b.st
	if uint64(admitted>>2) == s.gen && s.state == crew.StateHalfOpen {
		if kind == ticketPending && s.pending > 0 {
			s.pending--
		} else if kind == ticketProbe && s.reserved > 0 {
			s.reserved--
			b.releaseLocked()
		}
	}
	b.mu.Unlock()
}

// slotsLocked is how many probes this replica may run this round: what
// Redis granted it, or, with Redis down, the local allowance. Requires mu.
func (b *Breaker) slotsLocked() int {
	if b.st.down {
		return b.cfg.HalfOpenMaxRequests
	}
	return b.st.slots
}

// recordLocked counts a closed call's outcome. Requires mu held.
func (b *Breaker) recordLocked(now time.Time, v int) {
	if b.cfg.FailureRatio == 0 {
		if v == outcomeSuccess {
			b.fails.Store(0)
		} else if b.fails.Add(1) >= int64(b.cfg.FailureThreshold) {
			b.tripLocked(now, true)
		}
		return
	}
	calls, fails := b.st.win.add(now, v == outcomeFailure)
	if calls >= b.cfg.MinimumCalls && float64(fails) >= b.cfg.FailureRatio*float64(calls) {
		b.tripLocked(now, true)
	}
}

// tripLocked acts on a failure verdict: with a quorum (closed, Redis up)
// it votes and keeps calling; otherwise it opens the circuit here at once
// and tells Redis. Requires mu held.
func (b *Breaker) tripLocked(now time.Time, closed bool) {
	if closed && b.bc.quorum > 1 && !b.st.down {
		b.fails.Store(0)
		b.st.win.reset()
		b.ops.vote, b.ops.tripGen = true, b.st.rgen
		b.wake()
		return
	}
	b.ops.trip, b.ops.tripGen = true, b.st.rgen
	b.openLocked(now)
	b.wake()
}

// takeLocked takes a half-open probe slot. Requires mu held.
func (b *Breaker) takeLocked(now time.Time) {
	if b.st.taken == b.st.successes {
		b.st.roundEnd = now.Add(b.cfg.ProbeTimeout)
	}
	b.st.taken++
}

// releaseLocked gives back a slot whose probe ended undecided, here and in
// Redis. Requires mu held.
func (b *Breaker) releaseLocked() {
	s := &b.st
	s.taken--
	if s.taken == s.successes {
		s.roundEnd = time.Time{}
	}
	if !s.down {
		b.ops.releases = append(b.ops.releases, s.rgen)
		b.wake()
	}
}

// advanceLocked makes the state catch up with the time: open past its time
// is half-open, a half-open round past its deadline failed then. Requires
// mu held.
func (b *Breaker) advanceLocked(now time.Time) {
	for {
		s := &b.st
		switch {
		case s.state == crew.StateOpen && !now.Before(s.openUntil):
			b.setLocked(crew.StateHalfOpen)
			if !s.down {
				b.ops.sync = true // the shared state moves too: learn its generation
				b.wake()
			}
		case s.state == crew.StateHalfOpen && !s.roundEnd.IsZero() && !now.Before(s.roundEnd):
			b.openLocked(s.roundEnd)
		default:
			return
		}
	}
}

// openLocked opens the circuit here at time at, for ResetTimeout.
// Requires mu held.
func (b *Breaker) openLocked(at time.Time) {
	b.setLocked(crew.StateOpen)
	b.st.openUntil = at.Add(b.cfg.ResetTimeout)
}

// setLocked moves this replica to state s in a new local generation,
// forgetting the counts of the old one. Requires mu held.
func (b *Breaker) setLocked(state crew.CircuitState) {
	s := &b.st
	if state != s.state {
		b.events.add(s.state, state)
	}
	s.state = state
	s.gen++
	s.slots, s.taken, s.reserved, s.pending, s.successes = 0, 0, 0, 0, 0
	s.roundEnd = time.Time{}
	if s.slotCh != nil {
		close(s.slotCh) // provisional admissions of the old round give up
		s.slotCh = nil
	}
	b.ops.slots = 0
	b.fails.Store(0)
	s.win.reset()
	b.cur.Store(s.gen<<2 | uint64(state))
}
