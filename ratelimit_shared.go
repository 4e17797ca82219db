package crew

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// SharedRateLimiter is a Guard that takes its tokens from a *rate.Limiter
// (golang.org/x/time/rate) that other code uses too, so that crew's jobs
// and that code share one rate. It behaves like RateLimiter where it can:
// tokens pace starts, Submit (Admit) never waits and refuses at once a job
// whose token could not come before its ctx deadline or WithMaxWait, with a
// *RejectedError matching ErrRateLimited; Start waits for the token until
// ctx ends.
//
// It is less exact than RateLimiter, and says where:
//
//   - x/time keeps its bucket in floating point and truncates times to the
//     nanosecond, so a start may come a nanosecond early: a window may hold
//     billionths of a token more than burst + limit*w.
//   - A cancelled wait gives back what x/time's Reservation.Cancel gives
//     back: nothing of a reservation that later ones follow. Jobs behind
//     it keep their times.
//   - x/time takes the time from its caller, read before its lock. Calls
//     from several goroutines can reach it out of order, and it then
//     refills a span twice (golang/go#56287).
//   - Admit's estimate sees the tokens in the bucket and crew's own jobs,
//     not what the other code will take; priorities are ignored, and the
//     jobs that wait are served in the order they reserved.
//   - Setting the limit or burst is the rate.Limiter's business: jobs
//     already waiting keep their times.
//
// A SharedRateLimiter is safe for concurrent use. Admit is an atomic add
// without a bound, and a clock reading and the bucket's lock with one;
// Start is a clock reading and the bucket's lock, and a job that waits
// allocates a timer. Done does nothing.
type SharedRateLimiter struct {
	lim     *rate.Limiter
	cfg     rateLimitConfig
	n       limiterCounts
	waiting atomic.Int32
}

// NewSharedRateLimiter returns a Guard that takes one token from lim for
// each job it starts. Options: WithMaxWait. It panics if lim is nil.
func NewSharedRateLimiter(lim *rate.Limiter, opts ...RateLimitOption) *SharedRateLimiter {
	if lim == nil {
		panic("crew: NewSharedRateLimiter: the rate.Limiter is nil")
	}
	return &SharedRateLimiter{lim: lim, cfg: newRateLimitConfig(opts)}
}

// Admit implements Guard. It never waits; see SharedRateLimiter.
func (s *SharedRateLimiter) Admit(ctx context.Context) (Ticket, error) {
	_, dl := ctx.Deadline()
	limit := s.lim.Limit()
	if (!dl && s.cfg.maxWait < 0) || limit == rate.Inf {
		s.n.admitted.Add(1)
		return 0, nil
	}
	now := time.Now()
	budget := s.budget(ctx, now)
	tokens := s.lim.TokensAt(now)
	for {
		left := s.n.left.Load()
		adm := s.n.admitted.Load()
		// Jobs waiting in Start have reserved their tokens: tokens is
		// already short of them.
		ahead := max(int64(adm-left)-int64(s.waiting.Load()), 0)
		delay := floatTokenDelay(float64(ahead+1)-tokens, limit)
		if delay > budget {
			s.n.refusedAdmit.Add(1)
			return 0, sharedRefusal(delay, budget)
		}
		if s.n.admitted.CompareAndSwap(adm, adm+1) {
			return 0, nil
		}
	}
}

// Start implements Guard: it reserves a token from the rate.Limiter and
// waits for it until ctx ends, or refuses the job at once if the token
// would come after its bound.
func (s *SharedRateLimiter) Start(ctx context.Context, _ Ticket) (Ticket, error) {
	if err := ctx.Err(); err != nil {
		s.n.leave(&s.n.canceled)
		return 0, err
	}
	now := time.Now()
	r := s.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if !r.OK() || delay == rate.InfDuration {
		s.n.leave(&s.n.refusedStart)
		return 0, rateLimited(0) // no token will come
	}
	if delay == 0 {
		s.n.leave(nil)
		return 0, nil
	}
	if budget := s.budget(ctx, now); delay > budget {
		r.CancelAt(now)
		s.n.leave(&s.n.refusedStart)
		return 0, sharedRefusal(delay, budget)
	}
	s.waiting.Add(1)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		s.n.leave(nil)
		s.waiting.Add(-1) // after left: never counted out twice
		s.n.waited.Add(1)
		return 0, nil
	case <-ctx.Done():
		r.Cancel()
		s.n.leave(&s.n.canceled)
		s.waiting.Add(-1)
		return 0, ctx.Err()
	}
}

// Done implements Guard; it does nothing.
func (s *SharedRateLimiter) Done(Ticket, error, time.Duration) {}

// Abandon implements Guard: the job no longer counts in Admit's estimate.
func (s *SharedRateLimiter) Abandon(Ticket) { s.n.leave(&s.n.abandoned) }

// Stats returns the limiter's counters, with the rate.Limiter's limit and
// burst now. It takes no lock of crew's.
func (s *SharedRateLimiter) Stats() RateLimiterStats {
	st := s.n.stats()
	st.Limit, st.Burst = s.lim.Limit(), s.lim.Burst()
	st.Waiting = int(s.waiting.Load())
	return st
}

func (s *SharedRateLimiter) ignoresElapsed() bool { return true } // see untimedGuard

// budget returns how long a job with ctx may wait for its token from now:
// up to WithMaxWait, and strictly less than the time to ctx's deadline.
func (s *SharedRateLimiter) budget(ctx context.Context, now time.Time) time.Duration {
	b := time.Duration(math.MaxInt64)
	if s.cfg.maxWait >= 0 {
		b = s.cfg.maxWait
	}
	if dl, ok := ctx.Deadline(); ok {
		b = min(b, max(dl.Sub(now), 0)-1)
	}
	return b
}

// floatTokenDelay is how long limit takes to make need tokens, rounded up
// to the nanosecond; rate.InfDuration if never.
func floatTokenDelay(need float64, limit rate.Limit) time.Duration {
	switch {
	case need <= 0:
		return 0
	case limit <= 0:
		return rate.InfDuration
	}
	d := math.Ceil(need / float64(limit) * 1e9)
	if d >= math.MaxInt64 {
		return rate.InfDuration
	}
	return time.Duration(d)
}

// sharedRefusal is the rejection of a job whose token comes after delay
// when it may wait budget.
func sharedRefusal(delay, budget time.Duration) error {
	if delay == rate.InfDuration {
		return rateLimited(0)
	}
	return rateLimited(int64(delay - budget))
}
