package crew

import (
	"math"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// RateLimiterStats is what a rate limiter has done since it was made, read
// with Stats. Each counter only grows. The fields are read one by one, not
// as one atomic snapshot: while jobs come and go, a sum of them may be off
// by the calls in flight.
type RateLimiterStats struct {
	Limit rate.Limit // the rate now, as given to the constructor or SetLimit
	Burst int        // the bucket size now, as given

	Admitted        uint64 // jobs Admit let through
	RefusedAtSubmit uint64 // jobs Admit refused (ErrRateLimited at Submit)
	Started         uint64 // jobs Start let through with a token
	Waited          uint64 // of Started, those that waited for their token
	GaveBack        uint64 // of Started, tokens given back: a later guard of the Chain refused the job at its Start
	RefusedAtStart  uint64 // jobs Start refused: the token would come too late, or never
	Canceled        uint64 // jobs whose ctx ended before or while Start waited
	Abandoned       uint64 // admitted jobs that never reached Start (Guard.Abandon)

	// Pending is the jobs admitted and not yet gone (started, refused,
	// cancelled or abandoned): queued in a pool, or waiting in Start.
	// Waiting is those of them waiting in Start for their token now.
	Pending int
	Waiting int
}

// Stats returns the limiter's counters. It takes no lock: a few atomic
// loads.
func (l *RateLimiter) Stats() RateLimiterStats {
	s := l.n.stats()
	s.Waiting = int(l.waiting.Load())
	return s
}

// limiterCounts are a limiter's counters, its shape for Stats, and the
// counts Admit estimates from. A job is counted once in admitted when Admit
// lets it through, and once in left when it goes: with a token, or counted
// in one of the reasons too. Writers add to left before the reason and
// readers read the reasons before left, so a reading never shows more jobs
// gone for a reason than gone.
type limiterCounts struct {
	admitted atomic.Uint64
	left     atomic.Uint64

	refusedAdmit atomic.Uint64
	refusedStart atomic.Uint64
	canceled     atomic.Uint64
	abandoned    atomic.Uint64
	waited       atomic.Uint64
	gaveBack     atomic.Uint64

	limitBits atomic.Uint64 // float64 bits of the rate.Limit given
	burstN    atomic.Int64
}

// leave counts a job gone, for reason why (nil: with a token).
func (c *limiterCounts) leave(why *atomic.Uint64) {
	c.left.Add(1)
	if why != nil {
		why.Add(1)
	}
}

func (c *limiterCounts) setShape(limit rate.Limit, burst int) {
	c.limitBits.Store(math.Float64bits(float64(limit)))
	c.burstN.Store(int64(burst))
}

func (c *limiterCounts) limit() rate.Limit {
	return rate.Limit(math.Float64frombits(c.limitBits.Load()))
}

func (c *limiterCounts) burst() int { return int(c.burstN.Load()) }

func (c *limiterCounts) stats() RateLimiterStats {
	s := RateLimiterStats{
		Limit:           c.limit(),
		Burst:           c.burst(),
		RefusedAtSubmit: c.refusedAdmit.Load(),
		RefusedAtStart:  c.refusedStart.Load(),
		Canceled:        c.canceled.Load(),
		Abandoned:       c.abandoned.Load(),
		Waited:          c.waited.Load(),
		GaveBack:        c.gaveBack.Load(),
	}
	left := c.left.Load()
	s.Admitted = c.admitted.Load() // after left: never fewer admitted than gone
	s.Started = left - min(left, s.RefusedAtStart+s.Canceled+s.Abandoned)
	s.Pending = int(s.Admitted - left)
	return s
}
