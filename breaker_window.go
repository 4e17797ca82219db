package crew

import (
	"math"
	"time"
)

// window counts outcomes over a sliding time window, in windowSlices
// slices of width each. It is guarded by the Breaker's mu.
type window struct {
	width  time.Duration
	base   time.Time
	slices [windowSlices]windowSlice
}

const windowSlices = 10

type windowSlice struct {
	idx          int64 // which slice of time since base this one counts
	calls, fails int
}

// add counts one outcome at now and returns the totals over the window.
func (w *window) add(now time.Time, failed bool) (calls, fails int) {
	idx := w.index(now)
	s := &w.slices[idx%windowSlices]
	if s.idx != idx {
		*s = windowSlice{idx: idx}
	}
	s.calls++
	if failed {
		s.fails++
	}
	for _, s := range w.slices {
		if s.idx > idx-windowSlices && s.idx <= idx {
			calls += s.calls
			fails += s.fails
		}
	}
	return calls, fails
}

func (w *window) index(now time.Time) int64 {
	d := now.Sub(w.base)
	if d < 0 || w.width <= 0 {
		return 0
	}
	return min(int64(d/w.width), math.MaxInt64-windowSlices)
}

func (w *window) reset() { w.slices = [windowSlices]windowSlice{} }

// ignoresElapsed: only the slow-call rule uses a job's run time.
func (b *Breaker) ignoresElapsed() bool { return b.cfg.SlowCallThreshold <= 0 }
