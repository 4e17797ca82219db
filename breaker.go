package crew

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CircuitState is the state of a Breaker's circuit: a plain value, copied
// freely.
type CircuitState int

// The circuit states.
const (
	StateClosed   CircuitState = iota // calls go through; failures are counted
	StateOpen                         // calls are refused until ResetTimeout has passed
	StateHalfOpen                     // a few probe calls go through to test the downstream
)

// String returns "closed", "open" or "half-open".
func (s CircuitState) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	}
	return "CircuitState(" + strconv.Itoa(int(s)) + ")"
}

// BreakerConfig configures NewBreaker, which copies it: changing a
// BreakerConfig later does not change a Breaker. The zero value is a usable
// configuration: every zero field takes its default.
type BreakerConfig struct {
	// Name is the Guard named in the Breaker's rejections (default "breaker").
	Name string

	// FailureThreshold is the number of consecutive failures that opens the
	// circuit (default 5). Ignored when FailureRatio is set.
	FailureThreshold int

	// ResetTimeout is how long the circuit stays open before it lets a round
	// of probes through (default 30s).
	ResetTimeout time.Duration

	// HalfOpenMaxRequests is the number of probes a half-open round admits
	// (default 1). They may run at once; the circuit closes when that many
	// have succeeded in a row.
	HalfOpenMaxRequests int

	// ProbeTimeout bounds a half-open round (default ResetTimeout): when
	// probe slots have been in use without a break for this long and the
	// round is still undecided (a probe hangs, or waits in a queue), the
	// round counts as failed and the circuit opens again, as of that moment.
	// Probes that report later are ignored.
	ProbeTimeout time.Duration

	// FailureRatio, when above 0, replaces FailureThreshold: the circuit
	// opens when, over the last Window, at least MinimumCalls calls ended
	// and the share of failures among them is at least FailureRatio (at most
	// 1).
	FailureRatio float64
	// Window is the sliding time window of FailureRatio (default 10s). It is
	// kept in 10 slices, so it covers between 9/10 of Window and Window.
	Window time.Duration
	// MinimumCalls is the number of calls in Window below which
	// FailureRatio does not open the circuit (default 10).
	MinimumCalls int

	// SlowCallThreshold, when above 0, makes a call that ran longer than it
	// count as a failure. Its result still goes to its caller.
	SlowCallThreshold time.Duration

	// IsFailure tells failures from successes (default: err != nil). It is
	// not asked about errors the Breaker never counts: context.Canceled
	// (also wrapped; context.DeadlineExceeded is a failure) and any
	// *RejectedError, which other guards return. A *PanicError is always a
	// failure. It must be safe for concurrent use.
	IsFailure func(err error) bool

	// OnStateChange, if set, is called after each change of state, outside
	// the Breaker's lock, on the goroutine that made the change (a call to
	// Admit, Start, Done, Abandon, Execute, State, Trip or Reset), before that
	// call returns. It may call the Breaker's methods. Changes made at the
	// same time on several goroutines reach it concurrently and possibly out
	// of order.
	OnStateChange func(from, to CircuitState)
}

// Breaker is a circuit breaker: a Guard that stops calls to a failing
// downstream and lets a few probes through after a pause to find out whether
// it has recovered. Use it in a Chain, or alone with Execute.
//
// Closed, it counts failures: FailureThreshold consecutive ones, or a
// FailureRatio over a Window, open the circuit. Open, it refuses every job
// at Submit at once with a *RejectedError{Guard: "breaker", Err:
// ErrCircuitOpen} whose RetryAfter is the time left open; jobs queued before
// it opened are refused the same way when a worker takes them. After
// ResetTimeout it is half-open (State says so as soon as the time has come;
// there is no timer goroutine): it admits HalfOpenMaxRequests probes and
// refuses the rest at once; that many successes in a row close the circuit,
// any failure opens it again, and ProbeTimeout bounds a round that does not
// decide. A probe that is cancelled, refused by another guard, or never
// starts gives its slot back.
//
// Every permit is stamped with the generation of the state that granted it;
// each change of state starts a new generation, and the outcome of a call
// from an older one is ignored, so a slow call that began while closed
// cannot decide a half-open round. Context cancellation and other guards'
// rejections are neither failures nor successes.
//
// A Breaker is safe for concurrent use and may guard several pools. While
// closed, its Admit, Start and a successful Done take no lock and do not
// allocate (a few nanoseconds); failures, other states and FailureRatio take
// one mutex.
type Breaker struct {
	cfg   BreakerConfig // defaults filled in; read-only
	ratio bool          // FailureRatio mode

	// Lock-free views, written under mu: cur is gen<<2 | state, fails the
	// consecutive failures while closed.
	cur   atomic.Uint64
	fails atomic.Int64

	mu        sync.Mutex
	state     CircuitState
	gen       uint64
	openUntil time.Time // open: when half-open begins
	taken     int       // half-open: slots taken (reserved + running + succeeded)
	reserved  int       // half-open: slots taken at Admit whose job has not started
	successes int       // half-open: successful probes in this round
	roundEnd  time.Time // half-open: when an undecided round fails; zero while no slot is in use
	win       window    // FailureRatio mode: outcomes while closed
}

// NewBreaker returns a closed Breaker configured by cfg.
//
// NewBreaker panics if a count or duration in cfg is negative, or if
// FailureRatio is not within [0, 1].
func NewBreaker(cfg BreakerConfig) *Breaker {
	switch {
	case cfg.FailureThreshold < 0, cfg.HalfOpenMaxRequests < 0, cfg.MinimumCalls < 0:
		panic(fmt.Sprintf("crew: NewBreaker: FailureThreshold (%d), HalfOpenMaxRequests (%d) and MinimumCalls (%d) must be >= 0",
			cfg.FailureThreshold, cfg.HalfOpenMaxRequests, cfg.MinimumCalls))
	case cfg.ResetTimeout < 0, cfg.ProbeTimeout < 0, cfg.Window < 0, cfg.SlowCallThreshold < 0:
		panic(fmt.Sprintf("crew: NewBreaker: ResetTimeout (%v), ProbeTimeout (%v), Window (%v) and SlowCallThreshold (%v) must be >= 0",
			cfg.ResetTimeout, cfg.ProbeTimeout, cfg.Window, cfg.SlowCallThreshold))
	case !(cfg.FailureRatio >= 0 && cfg.FailureRatio <= 1):
		panic(fmt.Sprintf("crew: NewBreaker: FailureRatio (%v) must be within [0, 1]", cfg.FailureRatio))
	}
	cfg.Name = orDefault(cfg.Name, "breaker")
	cfg.FailureThreshold = orDefault(cfg.FailureThreshold, 5)
	cfg.ResetTimeout = orDefault(cfg.ResetTimeout, 30*time.Second)
	cfg.HalfOpenMaxRequests = orDefault(cfg.HalfOpenMaxRequests, 1)
	cfg.ProbeTimeout = orDefault(cfg.ProbeTimeout, cfg.ResetTimeout)
	cfg.Window = orDefault(cfg.Window, 10*time.Second)
	cfg.MinimumCalls = orDefault(cfg.MinimumCalls, 10)
	b := &Breaker{cfg: cfg, ratio: cfg.FailureRatio > 0, gen: 1}
	b.cur.Store(b.gen << 2)
	b.win = window{width: cfg.Window / windowSlices, base: time.Now()}
	return b
}

// orDefault returns v, or def if v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// State returns the circuit's state now. An open circuit whose ResetTimeout
// has passed is half-open.
func (b *Breaker) State() CircuitState {
	if s := CircuitState(b.cur.Load() & 3); s == StateClosed {
		return s
	}
	var ev transitions
	b.mu.Lock()
	b.advanceLocked(time.Now(), &ev)
	s := b.state
	b.mu.Unlock()
	b.emit(&ev)
	return s
}

// Trip opens the circuit now, for ResetTimeout, whatever its state.
func (b *Breaker) Trip() {
	var ev transitions
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now, &ev)
	b.openLocked(now, &ev)
	b.mu.Unlock()
	b.emit(&ev)
}

// Reset closes the circuit now and forgets the failures counted so far.
func (b *Breaker) Reset() {
	var ev transitions
	b.mu.Lock()
	b.advanceLocked(time.Now(), &ev)
	b.setLocked(StateClosed, &ev)
	b.mu.Unlock()
	b.emit(&ev)
}

// Execute runs fn behind the breaker, without a pool: it returns a
// *RejectedError at once if the circuit refuses the call, ctx.Err() if ctx
// has ended, and fn's error otherwise. A panic in fn is recovered and
// returned as a *PanicError, and counts as a failure. fn runs on the
// calling goroutine.
func (b *Breaker) Execute(ctx context.Context, fn func(context.Context) error) error {
	switch {
	case ctx == nil:
		return errors.New("crew: Breaker.Execute called with a nil context.Context (use context.Background())")
	case fn == nil:
		return errors.New("crew: Breaker.Execute called with a nil function")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	adm, err := b.Admit(ctx)
	if err != nil {
		return err
	}
	t, err := b.Start(ctx, adm)
	if err != nil {
		return err
	}
	return b.run(ctx, fn, t)
}

// run calls fn and reports its outcome to Done exactly once, also when fn
// panics or calls runtime.Goexit.
func (b *Breaker) run(ctx context.Context, fn func(context.Context) error, t Ticket) (err error) {
	var begin time.Time
	if b.cfg.SlowCallThreshold > 0 {
		begin = time.Now()
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		} else {
			err = &PanicError{Value: "runtime.Goexit called by the function", Stack: debug.Stack()}
		}
		b.Done(t, err, b.since(begin))
	}()
	err = fn(ctx)
	returned = true
	b.Done(t, err, b.since(begin))
	return err
}

func (b *Breaker) since(begin time.Time) time.Duration {
	if begin.IsZero() {
		return 0
	}
	return time.Since(begin)
}

// Ticket kinds, in the low two bits; the generation is in the others.
const (
	ticketCall  Ticket = 1 // admitted while closed
	ticketProbe Ticket = 2 // a half-open probe
)

// Admit implements Guard: it refuses at once while the circuit is open, or
// half-open with every probe slot taken; a job admitted while half-open
// reserves a slot, and its ticket says so, with the generation.
func (b *Breaker) Admit(context.Context) (Ticket, error) {
	if c := b.cur.Load(); CircuitState(c&3) == StateClosed {
		return Ticket(c) | ticketCall, nil
	}
	var ev transitions
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now, &ev)
	var t Ticket
	var err error
	switch b.state {
	case StateClosed:
		t = Ticket(b.gen<<2) | ticketCall
	case StateOpen:
		err = b.openErrLocked(now)
	case StateHalfOpen:
		if b.taken < b.cfg.HalfOpenMaxRequests {
			b.takeLocked(now)
			b.reserved++
			t = Ticket(b.gen<<2) | ticketProbe
		} else {
			err = b.rejected(0)
		}
	}
	b.mu.Unlock()
	b.emit(&ev)
	return t, err
}

// Start implements Guard. It never waits: it refuses a job the circuit no
// longer lets through (it opened after the job was admitted, so a job
// queued before a trip never becomes a half-open probe) and otherwise hands
// out a permit stamped with the current generation. A job that reserved a
// probe slot at Admit, in this half-open round, takes it.
func (b *Breaker) Start(_ context.Context, admitted Ticket) (Ticket, error) {
	c := b.cur.Load()
	if CircuitState(c&3) == StateClosed {
		return Ticket(c) | ticketCall, nil
	}
	var ev transitions
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now, &ev)
	var t Ticket
	var err error
	switch b.state {
	case StateClosed:
		t = Ticket(b.gen<<2) | ticketCall
	case StateOpen:
		err = b.openErrLocked(now)
	case StateHalfOpen:
		if b.holdsSlotLocked(admitted) {
			b.reserved--
			t = Ticket(b.gen<<2) | ticketProbe
		} else {
			err = b.rejected(0) // admitted before this round: not a probe
		}
	}
	b.mu.Unlock()
	b.emit(&ev)
	return t, err
}

// Done implements Guard: it counts the outcome of a job Start let through,
// unless its permit is from an older generation.
func (b *Breaker) Done(t Ticket, err error, elapsed time.Duration) {
	kind := t & 3
	v := b.classify(err, elapsed)
	if kind == ticketCall {
		if v == outcomeIgnored {
			return
		}
		if v == outcomeSuccess && !b.ratio && b.fails.Load() == 0 {
			return // closed, nothing to reset (or stale: ignored either way)
		}
		if b.cur.Load() != uint64(t&^3) {
			return // stale: the circuit left that closed generation
		}
	} else if kind != ticketProbe {
		return
	}
	var ev transitions
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now, &ev)
	if uint64(t>>2) == b.gen {
		if kind == ticketCall {
			b.recordLocked(now, v, &ev)
		} else {
			switch v {
			case outcomeIgnored:
				b.releaseLocked()
			case outcomeSuccess:
				b.successes++
				if b.successes >= b.cfg.HalfOpenMaxRequests {
					b.setLocked(StateClosed, &ev)
				}
			default:
				b.openLocked(now, &ev)
			}
		}
	}
	b.mu.Unlock()
	b.emit(&ev)
}

// Abandon implements Guard: a job that reserved a probe slot at Admit, in
// the half-open round still going on, gives the slot back.
func (b *Breaker) Abandon(admitted Ticket) {
	if admitted&3 != ticketProbe || CircuitState(b.cur.Load()&3) != StateHalfOpen {
		return // it holds no slot, or its round is over
	}
	var ev transitions
	b.mu.Lock()
	b.advanceLocked(time.Now(), &ev) // a round past its deadline has failed already
	if b.holdsSlotLocked(admitted) {
		b.reserved--
		b.releaseLocked()
	}
	b.mu.Unlock()
	b.emit(&ev)
}

// holdsSlotLocked reports whether Admit's ticket reserved a probe slot in
// the half-open round going on now. Requires mu held.
func (b *Breaker) holdsSlotLocked(admitted Ticket) bool {
	return b.state == StateHalfOpen && admitted&3 == ticketProbe &&
		uint64(admitted>>2) == b.gen && b.reserved > 0
}

// Outcomes as the breaker counts them.
const (
	outcomeSuccess = iota
	outcomeFailure
	outcomeIgnored
)

// classify decides what an outcome counts as.
func (b *Breaker) classify(err error, elapsed time.Duration) int {
	slow := b.cfg.SlowCallThreshold > 0 && elapsed > b.cfg.SlowCallThreshold
	if err == nil {
		if slow {
			return outcomeFailure
		}
		return outcomeSuccess
	}
	if _, ok := errors.AsType[*PanicError](err); ok {
		return outcomeFailure
	}
	if _, ok := errors.AsType[*RejectedError](err); ok || errors.Is(err, context.Canceled) {
		return outcomeIgnored
	}
	if b.cfg.IsFailure == nil || b.cfg.IsFailure(err) || slow {
		return outcomeFailure
	}
	return outcomeSuccess
}

// recordLocked counts the outcome of a call admitted in the current closed
// generation. Requires mu held.
func (b *Breaker) recordLocked(now time.Time, v int, ev *transitions) {
	if !b.ratio {
		if v == outcomeSuccess {
			b.fails.Store(0)
		} else if b.fails.Add(1) >= int64(b.cfg.FailureThreshold) {
			b.openLocked(now, ev)
		}
		return
	}
	calls, fails := b.win.add(now, v == outcomeFailure)
	if calls >= b.cfg.MinimumCalls && float64(fails) >= b.cfg.FailureRatio*float64(calls) {
		b.openLocked(now, ev)
	}
}

// advanceLocked makes the state catch up with the time: an open circuit
// whose time is up is half-open, and a half-open round past its deadline
// failed at that deadline. Requires mu held.
func (b *Breaker) advanceLocked(now time.Time, ev *transitions) {
	for {
		switch {
		case b.state == StateOpen && !now.Before(b.openUntil):
			b.setLocked(StateHalfOpen, ev)
		case b.state == StateHalfOpen && !b.roundEnd.IsZero() && !now.Before(b.roundEnd):
			b.openLocked(b.roundEnd, ev)
		default:
			return
		}
	}
}

// openLocked opens the circuit at time at, for ResetTimeout. Requires mu held.
func (b *Breaker) openLocked(at time.Time, ev *transitions) {
	b.setLocked(StateOpen, ev)
	b.openUntil = at.Add(b.cfg.ResetTimeout)
}

// setLocked moves to state s in a new generation, forgetting the counts of
// the old one; permits of the old generation become stale. Requires mu held.
func (b *Breaker) setLocked(s CircuitState, ev *transitions) {
	if s != b.state {
		ev.add(b.state, s)
	}
	b.state = s
	b.gen++
	b.taken, b.reserved, b.successes = 0, 0, 0
	b.roundEnd = time.Time{}
	b.fails.Store(0)
	b.win.reset()
	b.cur.Store(b.gen<<2 | uint64(s))
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

// openErrLocked is the rejection while open. Requires mu held.
func (b *Breaker) openErrLocked(now time.Time) error {
	return b.rejected(b.openUntil.Sub(now))
}

func (b *Breaker) rejected(after time.Duration) error {
	return &RejectedError{Guard: b.cfg.Name, RetryAfter: after, Err: ErrCircuitOpen}
}

// emit reports the recorded changes of state to OnStateChange. Called
// without mu held.
func (b *Breaker) emit(ev *transitions) {
	if b.cfg.OnStateChange == nil {
		return
	}
	for _, t := range ev.list[:ev.n] {
		b.cfg.OnStateChange(t[0], t[1])
	}
}

// transitions records the changes of state made under one hold of mu, to
// report them after it is released. One hold makes at most three: open to
// half-open, a failed round back to open, and the change asked for.
type transitions struct {
	n    int
	list [4][2]CircuitState
}

func (t *transitions) add(from, to CircuitState) {
	t.list[t.n] = [2]CircuitState{from, to}
	t.n++
}
