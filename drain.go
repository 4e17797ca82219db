package crew

import (
	"math"
	"time"
)

// drainMeter estimates how soon a full queue has room again, from how fast
// jobs have been leaving it, for the RetryAfter of an ErrQueueFull refusal
// (guarantee 11). It reads the clock once per drainStride jobs, so the
// workers pay next to nothing for it. The owner's mutex guards it.
type drainMeter struct {
	born       time.Time // when counting began
	left       uint64    // jobs that left so far: ran, or never will
	last, prev drainMark // the two latest marks, one drainStride or more apart
}

// drainMark is the number of jobs that had left at a time.
type drainMark struct {
	at   time.Time
	left uint64
}

// drainStride is how many jobs leave between two clock readings.
const drainStride = 32

func newDrainMeter() drainMeter { return drainMeter{born: time.Now()} }

// add counts n jobs that left.
func (m *drainMeter) add(n uint64) {
	m.left += n
	if m.left-m.last.left >= drainStride {
		m.prev, m.last = m.last, drainMark{at: time.Now(), left: m.left}
	}
}

// retryAfter estimates when a Submit that finds the queue full, with ahead
// blocked Submits before it, would find room: one job's share of the recent
// drain time per Submit served before it, itself included; 0 if no job has
// left yet (unknown).
func (m *drainMeter) retryAfter(ahead int) time.Duration {
	var per float64
	switch {
	case !m.prev.at.IsZero():
		per = float64(m.last.at.Sub(m.prev.at)) / float64(m.last.left-m.prev.left)
	case m.left > 0:
		per = float64(time.Since(m.born)) / float64(m.left)
	default:
		return 0
	}
	d := math.Ceil(per * float64(ahead+1))
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(time.Duration(d), time.Millisecond)
}

// queueFull is the refusal of a full queue, with the meter's estimate.
func (m *drainMeter) queueFull(ahead int) error {
	return &RejectedError{Guard: "queue", RetryAfter: m.retryAfter(ahead), Err: ErrQueueFull}
}
