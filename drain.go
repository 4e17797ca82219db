package crew

import (
	"math"
	"sync"
	"time"
)

// drainMeter estimates how soon a full queue has room again, from how fast
// jobs have been leaving it, for the RetryAfter of an ErrQueueFull refusal
// (guarantee 11). It reads the clock once per drainStride jobs, so the
// workers pay next to nothing for it. It is safe for concurrent use.
type drainMeter struct {
	born time.Time // when counting began

	mu         sync.Mutex
	left       uint64    // jobs counted into marks so far; guarded by mu
	last, prev drainMark // the two latest marks, one drainStride or more apart; guarded by mu
}

// drainMark is the number of jobs that had left at a time.
type drainMark struct {
	at   time.Time
	left uint64
}

// drainStride is how many jobs leave between two clock readings.
const drainStride = 32

func newDrainMeter() drainMeter { return drainMeter{born: time.Now()} }

// add counts n jobs that left, total being a counter of them (the
// completed or the canceled ones) after adding them: the meter reads the
// clock when total crosses a multiple of the stride, and otherwise does
// nothing, which keeps it off the workers' path.
func (m *drainMeter) add(total, n uint64) {
	if total/drainStride == (total-n)/drainStride {
		return // no multiple of the stride crossed
	}
	now := time.Now()
	m.mu.Lock()
	m.left += max(n, drainStride) // at least a stride left since the last mark
	m.prev, m.last = m.last, drainMark{at: now, left: m.left}
	m.mu.Unlock()
}

// retryAfter estimates when a Submit that finds the queue full, with ahead
// blocked Submits before it, would find room: one job's share of the recent
// drain time per Submit served before it, itself included; 0 if no job has
// left yet (unknown). left is how many jobs have left in all.
func (m *drainMeter) retryAfter(ahead int, left uint64) time.Duration {
	m.mu.Lock()
	last, prev := m.last, m.prev
	m.mu.Unlock()
	var per float64
	switch {
	case !prev.at.IsZero() && last.left > prev.left:
		per = float64(last.at.Sub(prev.at)) / float64(last.left-prev.left)
	case left > 0:
		per = float64(time.Since(m.born)) / float64(left)
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
func (m *drainMeter) queueFull(ahead int, left uint64) error {
	return &RejectedError{Guard: "queue", RetryAfter: m.retryAfter(ahead, left), Err: ErrQueueFull}
}
