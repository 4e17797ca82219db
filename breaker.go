package crew

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew/internal/window"
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

// Breaker is a circuit breaker: a Guard that stops calls to a failing
// downstream and lets a few probes through after a pause to find out whether
// it has recovered. Use it in a Chain, or alone with Execute.
//
// Closed, it lets calls through and counts failures: FailureThreshold
// consecutive ones, or a FailureRatio over a Window, open the circuit.
//
// Open, it refuses every job at Submit at once, and jobs queued before it
// opened are refused the same way when a worker takes them; none of them
// runs. After ResetTimeout it is half-open: State says so as soon as the
// time has come (there is no timer goroutine).
//
// Half-open, it admits HalfOpenMaxRequests probes and refuses the rest at
// once, also jobs queued before the round; that many successes in a row close
// the circuit, any failure opens it again, and ProbeTimeout bounds a round
// that does not decide. A probe that is cancelled, refused by another guard,
// or never starts gives its slot back. With RampUp set, a circuit that a
// round closed then admits a share of the calls that grows from none to all
// over RampUp, and refuses the others at Submit.
//
// Every permit is stamped with the generation of the state that granted it;
// each change of state starts a new generation, and the outcome of a call
// from an older one is ignored, so a slow call that began while closed
// cannot decide a half-open round. Context cancellation and other guards'
// rejections are neither failures nor successes. All of this is guarantee 8.
//
// Every refusal is a *RejectedError{Guard: cfg.Name, Err: ErrCircuitOpen}
// with a RetryAfter (guarantee 11), which spreads the callers who honour it
// (crew's Retry does) over RetrySpread, so that a backlog refused at once
// comes back one caller after another instead of as one herd that the
// half-open round would refuse again:
//
//   - refused while open: the time left until half-open, plus an offset in
//     [0, RetrySpread). A call made that much later finds the circuit
//     half-open or closed: the first ones back are the probes, and the
//     others keep arriving while the probes decide, most after the circuit
//     has closed;
//   - refused while half-open or ramping up: an offset in (0, RetrySpread],
//     from now.
//
// The offsets are deterministic: the k-th refusal of the Breaker gets
// RetrySpread × frac(k × 0.618...), the golden-ratio sequence, so any n
// refusals in a row cut the interval into gaps of at most three sizes, none
// wider than 2/n of it: n callers refused at once come back evenly over the
// whole spread, whatever n is. The arithmetic saturates: a RetryAfter is
// never negative nor wraps around.
//
// A Breaker is safe for concurrent use and may guard several pools; it
// starts no goroutine. Closed (and not ramping up), Admit, Start and a
// successful Done take no lock and do not allocate: a few atomic loads and
// one atomic add to a counter striped over cache lines, O(1), so Execute
// costs about what fn costs. A failure, FailureRatio mode (every outcome),
// the other states, State while not closed, and Stats take one mutex, held
// for O(1) work (O(10) for FailureRatio's window); a refusal allocates its
// *RejectedError. The callbacks (IsFailure, OnStateChange) run outside the
// mutex; BreakerConfig says on which goroutine, what they may call, and
// what happens when they panic.
type Breaker struct {
	cfg   BreakerConfig // defaults filled in; read-only
	ratio bool          // FailureRatio mode

	// Lock-free views and counters. cur (gen<<2 | phase) and fails (the
	// consecutive failures while closed) are written under mu and read
	// without it; ok counts successes without a lock.
	cur   atomic.Uint64
	fails atomic.Int64
	ok    stripedCounter

	// Callback panics, recorded from wherever the callback ran.
	callbackPanics atomic.Uint64
	lastPanic      atomic.Pointer[PanicError]

	mu        sync.Mutex
	state     CircuitState
	ramping   bool      // closed and ramping up (see RampUp)
	gen       uint64    // generation of the current state
	since     time.Time // when the current state began
	openUntil time.Time // open: when half-open begins
	taken     int       // half-open: slots taken (reserved + running + succeeded)
	reserved  int       // half-open: slots taken at Admit whose job has not started
	successes int       // half-open: successful probes in this round
	roundEnd  time.Time // half-open: when an undecided round fails; zero while no slot is in use
	credit    float64   // ramping: admissions owed (see rampAdmitLocked)
	win       window.Sliding
	counts    breakerCounts // the counters Stats reports
	hooks     hookQueue     // changes of state not yet delivered to OnStateChange
}

// NewBreaker returns a closed Breaker configured by cfg.
//
// NewBreaker panics if a count or duration in cfg is negative, or if
// FailureRatio is NaN or not within [0, 1].
func NewBreaker(cfg BreakerConfig) *Breaker {
	cfg = cfg.withDefaults()
	now := time.Now()
	b := &Breaker{cfg: cfg, ratio: cfg.FailureRatio > 0, gen: 1, since: now}
	b.hooks.on = cfg.OnStateChange
	b.cur.Store(b.gen << 2)
	b.win = window.New(cfg.Window, now)
	return b
}

// State returns the circuit's state now. An open circuit whose ResetTimeout
// has passed is half-open. A closed circuit ramping up is closed.
func (b *Breaker) State() CircuitState {
	if b.cur.Load()&phaseNotClosed == 0 {
		return StateClosed
	}
	b.mu.Lock()
	b.advanceLocked(time.Now())
	s := b.state
	b.unlockAndDeliver()
	return s
}

// Trip opens the circuit now, for ResetTimeout, whatever its state.
func (b *Breaker) Trip() {
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	b.openLocked(now)
	b.unlockAndDeliver()
}

// Reset closes the circuit now, without a ramp, and forgets the failures
// counted so far.
func (b *Breaker) Reset() {
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	b.setLocked(StateClosed, now)
	b.unlockAndDeliver()
}

// Execute runs fn behind the breaker, without a pool: it returns a
// *RejectedError at once if the circuit refuses the call, ctx.Err() if ctx
// has ended, and fn's error otherwise. A panic in fn is recovered and
// returned as a *PanicError, and counts as a failure. fn runs on the
// calling goroutine. Through a closed circuit it adds no allocation and no
// lock to fn's own cost.
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
		if !returned { // runtime.Goexit: Done still hears of it
			b.Done(t, goexitError(), elapsedSince(begin))
		}
	}()
	err = callFunc(ctx, fn)
	returned = true
	b.Done(t, err, elapsedSince(begin))
	return err
}

// callFunc calls fn, turning a panic into a *PanicError.
func callFunc(ctx context.Context, fn func(context.Context) error) (err error) {
	defer catch(&err)
	return fn(ctx)
}

// elapsedSince is the time since begin, or 0 for a zero begin.
func elapsedSince(begin time.Time) time.Duration {
	if begin.IsZero() {
		return 0
	}
	return time.Since(begin)
}

// ignoresElapsed: only the slow-call rule uses a job's run time.
func (b *Breaker) ignoresElapsed() bool { return b.cfg.SlowCallThreshold <= 0 }
