package crew

import (
	"math"
	"math/bits"
	"time"
)

// How the Breaker lets a backlog back in after an outage.
//
// The failure this answers: a pool with a backlog, behind a breaker that
// opens. Every queued job is refused at start within microseconds, and if
// each refusal said "retry after the time left open", every caller would
// come back at the same instant; the half-open round admits one probe and
// refuses all the others again, at once, and they come back together
// again. So refusals say "come back" at moments spread over RetrySpread:
// those refused while open return over [half-open, half-open+RetrySpread),
// the first ones become the probes, and the rest keep arriving while the
// round decides, most of them after it closed the circuit; those refused
// while half-open (or ramping up) return over (now, now+RetrySpread]. The
// load after recovery then rises over RetrySpread instead of arriving as
// one herd.
//
// The offsets are a Weyl sequence with the golden ratio (k × 2^64/φ modulo
// 2^64, scaled to RetrySpread with an exact 64×64-bit product): any n in a
// row cut the interval into gaps of at most three sizes, the widest under
// 2/n of it, with no randomness, no shared generator and no float rounding.
// k is the Breaker's refusal count, which the lock guards anyway.
//
// RampUp adds a ramp the Breaker enforces, for callers who do not honour
// RetryAfter or many of whom run at once (Execute from many goroutines, no
// pool bounding them): after a round closes the circuit, Admit lets through
// a share of the calls that grows from 0 to 1 over RampUp. The share is kept
// exactly by error diffusion (each call adds the current share to a credit,
// a call passes when the credit reaches 1 and spends it), so admissions are
// evenly interleaved with refusals and need no random numbers.

// goldenStep is 2^64/φ, rounded to odd: the step of the offset sequence.
const goldenStep = 0x9E3779B97F4A7C15

// refuseLocked counts a refusal and returns it, with its RetryAfter: while
// open, the time left open plus an offset in [0, RetrySpread); otherwise an
// offset in (0, RetrySpread]. Requires mu held, with the state advanced to
// now.
func (b *Breaker) refuseLocked(now time.Time) error {
	b.counts.refusals++
	off := spreadOffset(b.cfg.RetrySpread, b.counts.refusals)
	after := b.cfg.RetrySpread - off
	if b.state == StateOpen {
		after = addSaturating(b.openUntil.Sub(now), off)
	}
	return &RejectedError{Guard: b.cfg.Name, RetryAfter: after, Err: ErrCircuitOpen}
}

// spreadOffset returns the k-th offset of the sequence, in [0, spread).
func spreadOffset(spread time.Duration, k uint64) time.Duration {
	hi, _ := bits.Mul64(uint64(spread), k*goldenStep)
	return time.Duration(hi)
}

// addSaturating returns a+b for non-negative a and b, or the largest
// Duration if that overflows.
func addSaturating(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// rampAdmitLocked decides whether a call arriving at now, while the circuit
// ramps up, passes. Requires mu held.
func (b *Breaker) rampAdmitLocked(now time.Time) bool {
	// A reader of the clock may arrive with a time just before the ramp
	// began: clamp the share to [0, 1].
	share := min(max(float64(now.Sub(b.since))/float64(b.cfg.RampUp), 0), 1)
	b.credit += share
	if b.credit >= 1 {
		b.credit--
		return true
	}
	return false
}
