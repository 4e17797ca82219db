package crew

import (
	"fmt"
	"time"
)

// BreakerConfig configures NewBreaker, which copies it: changing a
// BreakerConfig later does not change a Breaker. The zero value is a usable
// configuration: every zero field takes its default.
//
// Every count may be math.MaxInt and every duration math.MaxInt64 (about
// 292 years): they then mean "never" (a FailureThreshold never reached, a
// circuit open until Reset), and the arithmetic on them saturates instead of
// wrapping around.
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
	// opens when, over the last Window, at least MinimumCalls calls ended,
	// at least one of them failed, and the share of failures among them is
	// at least FailureRatio (at most 1).
	FailureRatio float64
	// Window is the sliding time window of FailureRatio (default 10s). It is
	// kept in 10 slices of Window/10 (rounded up to the nanosecond), so it
	// covers between 9/10 of Window and Window.
	Window time.Duration
	// MinimumCalls is the number of calls in Window below which
	// FailureRatio does not open the circuit (default 10).
	MinimumCalls int

	// SlowCallThreshold, when above 0, makes a call that ran longer than it
	// count as a failure. Its result still goes to its caller.
	SlowCallThreshold time.Duration

	// RetrySpread is the interval over which the RetryAfters of the
	// Breaker's refusals are spread, so that callers who honour them come
	// back one after another instead of all at once (default ResetTimeout/2,
	// at least 1ns). See Breaker for how RetryAfter is computed.
	RetrySpread time.Duration

	// RampUp, when above 0, makes the circuit ramp up after a successful
	// half-open round closes it: for RampUp it admits a share of the calls
	// that grows evenly from none to all (the first call always passes) and
	// refuses the others at Admit like a half-open circuit does. Failures
	// count as usual meanwhile. Reset closes without a ramp. Default 0: no
	// ramp.
	RampUp time.Duration

	// IsFailure tells failures from successes (default: err != nil). It is
	// not asked about errors the Breaker never counts: context.Canceled
	// (also wrapped; context.DeadlineExceeded is a failure) and any
	// *RejectedError, which other guards return. A *PanicError is always a
	// failure. It must be safe for concurrent use. It runs outside every
	// lock, on the goroutine that reports the call's outcome. If it panics,
	// the call counts as a failure and the panic is reported in
	// BreakerStats.CallbackPanics; the caller still gets the call's own
	// result.
	IsFailure func(err error) bool

	// OnStateChange, if set, is told of every change of state, one call at
	// a time and in the order of the changes, after the change and outside
	// every lock. Normally it runs on the goroutine that made the change
	// (inside the Admit, Start, Done, Abandon, Execute, State, Stats, Trip
	// or Reset that did), before that call returns; when another goroutine
	// is delivering earlier changes at that moment, that goroutine delivers
	// this one too, right after them, and the call that made it may return
	// first. By the time it runs the circuit may have changed again: those
	// changes are delivered next. It may call any method of the Breaker,
	// including ones that change the state; the changes it makes are
	// delivered after it returns. A panic in it is recovered and reported in
	// BreakerStats.CallbackPanics; the change stands and delivery goes on.
	OnStateChange func(from, to CircuitState)
}

// withDefaults checks cfg and fills in its defaults.
func (cfg BreakerConfig) withDefaults() BreakerConfig {
	switch {
	case cfg.FailureThreshold < 0, cfg.HalfOpenMaxRequests < 0, cfg.MinimumCalls < 0:
		panic(fmt.Sprintf("crew: NewBreaker: FailureThreshold (%d), HalfOpenMaxRequests (%d) and MinimumCalls (%d) must be >= 0",
			cfg.FailureThreshold, cfg.HalfOpenMaxRequests, cfg.MinimumCalls))
	case cfg.ResetTimeout < 0, cfg.ProbeTimeout < 0, cfg.Window < 0, cfg.SlowCallThreshold < 0,
		cfg.RetrySpread < 0, cfg.RampUp < 0:
		panic(fmt.Sprintf("crew: NewBreaker: ResetTimeout (%v), ProbeTimeout (%v), Window (%v), SlowCallThreshold (%v), RetrySpread (%v) and RampUp (%v) must be >= 0",
			cfg.ResetTimeout, cfg.ProbeTimeout, cfg.Window, cfg.SlowCallThreshold, cfg.RetrySpread, cfg.RampUp))
	case !(cfg.FailureRatio >= 0 && cfg.FailureRatio <= 1): // also NaN
		panic(fmt.Sprintf("crew: NewBreaker: FailureRatio (%v) must be within [0, 1]", cfg.FailureRatio))
	}
	cfg.Name = orDefault(cfg.Name, "breaker")
	cfg.FailureThreshold = orDefault(cfg.FailureThreshold, 5)
	cfg.ResetTimeout = orDefault(cfg.ResetTimeout, 30*time.Second)
	cfg.HalfOpenMaxRequests = orDefault(cfg.HalfOpenMaxRequests, 1)
	cfg.ProbeTimeout = orDefault(cfg.ProbeTimeout, cfg.ResetTimeout)
	cfg.Window = orDefault(cfg.Window, 10*time.Second)
	cfg.MinimumCalls = orDefault(cfg.MinimumCalls, 10)
	cfg.RetrySpread = orDefault(cfg.RetrySpread, max(cfg.ResetTimeout/2, 1))
	return cfg
}

// orDefault returns v, or def if v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
