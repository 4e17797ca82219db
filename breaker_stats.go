package crew

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// BreakerStats is a snapshot of a Breaker's state and counters, as Stats
// returns it. A call counts once its outcome is known: a success or a
// failure as IsFailure and SlowCallThreshold decide. Cancellations, other
// guards' refusals and stale outcomes (of calls admitted before a change of
// state) are not counted.
type BreakerStats struct {
	State     CircuitState
	Since     time.Time // when State began (for half-open: the moment ResetTimeout ran out)
	OpenUntil time.Time // while open: when the circuit turns half-open; zero otherwise
	RampingUp bool      // closed and ramping up (see BreakerConfig.RampUp)

	// The window that decides the next change of state: with FailureRatio,
	// the last Window while closed; otherwise since State began. Calls
	// counts successes and failures; ConsecutiveFailures is the current run
	// of failures while closed.
	Calls               uint64
	Failures            uint64
	ConsecutiveFailures int

	// Counters since NewBreaker.
	TotalCalls     uint64 // calls counted, probes included
	TotalFailures  uint64 // of TotalCalls, failures
	Trips          uint64 // times the circuit opened: by failures, a failed round, or Trip
	Probes         uint64 // half-open probe slots handed out at Admit
	ProbeSuccesses uint64 // probes that succeeded
	ProbeFailures  uint64 // probes that failed (a round that timed out counts none)
	Refusals       uint64 // calls the Breaker refused, at Admit or at Start

	// Panics recovered from IsFailure and OnStateChange (each also
	// runtime.Goexit), and the last of them, with its stack.
	CallbackPanics    uint64
	LastCallbackPanic *PanicError
}

// Stats returns a snapshot of the Breaker's state and counters. It takes
// the Breaker's mutex for O(1) work (O(10) with FailureRatio) and, like
// State, may find that an open circuit's time is up. The counters are read
// together under the mutex, except that successes finishing at that moment
// on the lock-free path may or may not be in it. It may be called from
// OnStateChange.
func (b *Breaker) Stats() BreakerStats {
	now := time.Now()
	b.mu.Lock()
	b.advanceLocked(now)
	ok := b.ok.load()
	c := &b.counts
	s := BreakerStats{
		State:               b.state,
		Since:               b.since,
		RampingUp:           b.ramping,
		Calls:               ok - c.okAtWindow + c.windowFailures,
		Failures:            c.windowFailures,
		ConsecutiveFailures: int(b.fails.Load()),
		TotalCalls:          ok + c.failures,
		TotalFailures:       c.failures,
		Trips:               c.trips,
		Probes:              c.probes,
		ProbeSuccesses:      c.probeSuccesses,
		ProbeFailures:       c.probeFailures,
		Refusals:            c.refusals,
	}
	if b.state == StateOpen {
		s.OpenUntil = b.openUntil
	}
	if b.ratio && b.state == StateClosed {
		w := b.win.Counts(now)
		s.Calls, s.Failures = uint64(w.Calls), uint64(w.Failures)
	}
	b.unlockAndDeliver()
	s.CallbackPanics = b.callbackPanics.Load()
	s.LastCallbackPanic = b.lastPanic.Load()
	return s
}

// breakerCounts are the counters Stats reports that change under mu; the
// successes are counted lock-free in Breaker.ok.
type breakerCounts struct {
	okAtWindow     uint64 // Breaker.ok when the window began
	windowFailures uint64
	failures       uint64
	trips          uint64
	probes         uint64
	probeSuccesses uint64
	probeFailures  uint64
	refusals       uint64
}

// newWindowLocked starts a new window, ok successes in. Requires mu held.
func (c *breakerCounts) newWindowLocked(ok uint64) {
	c.okAtWindow, c.windowFailures = ok, 0
}

// failedLocked counts a failure. Requires mu held.
func (c *breakerCounts) failedLocked() {
	c.failures++
	c.windowFailures++
}

// stripedCounter is a counter that many goroutines add to at once without
// a lock and without all writing the same cache line: each add goes to one
// of its stripes, chosen by the runtime's per-thread random source. load
// sums the stripes; it sees every add that happened before it.
type stripedCounter struct {
	// The padding before the stripes keeps the first one off the cache
	// line of whatever precedes the counter (the Breaker's cur and fails,
	// read on every call): each stripe's word then shares a line with
	// nothing but padding, whatever the counter's alignment.
	_       [cacheLine]byte
	stripes [counterStripes]struct {
		n atomic.Uint64
		_ [cacheLine - 8]byte
	}
}

const (
	counterStripeBits = 3
	counterStripes    = 1 << counterStripeBits
	cacheLine         = 64
)

func (c *stripedCounter) add() {
	var here byte
	// The address of a stack variable tells goroutines apart (each has a
	// stack of its own) and stays put for one goroutine, so a goroutine
	// keeps writing the same cache line while others write theirs.
	h := (uint64(uintptr(unsafe.Pointer(&here))) >> 10) * goldenStep
	c.stripes[h>>(64-counterStripeBits)].n.Add(1)
}

func (c *stripedCounter) load() uint64 {
	var n uint64
	for i := range c.stripes {
		n += c.stripes[i].n.Load()
	}
	return n
}
