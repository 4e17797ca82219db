package crew

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/crew-go/crew/internal/list"
)

// RateLimiter is a Guard that bounds how often jobs start: in any window of
// length w, at most burst + limit*w jobs behind it start. It is a token
// bucket (golang.org/x/time/rate) refilled at limit tokens a second and
// holding at most burst tokens; a job takes one token when a worker is about
// to start it, waiting for it if need be, so tokens pace starts, not Submits.
//
// At Submit (Admit) it never waits. It works out when the job's token would
// come, from the tokens in the bucket now and the jobs admitted before it
// that have not started yet (taking them to start in order as their tokens
// come), and if that is later than the job's ctx deadline or WithMaxWait
// allows, it rejects the job at once with a *RejectedError matching
// ErrRateLimited. Its RetryAfter is how much later the job would have fit
// at the current backlog. A job with neither a deadline nor WithMaxWait is
// always admitted.
//
// At start (Start) it takes the token, waiting for it on a timer until ctx
// ends. If the wait would pass ctx's deadline or the max wait (the picture
// at Submit changed: SetLimit lowered the rate) it refuses the job at once
// with ErrRateLimited and puts the token back. A wait that ctx ends gives
// its token back to the jobs behind it, and an admitted job that never
// starts gives up its place in line; neither counts against the limit.
// Starts keep the bound to the nanosecond, checked with no tolerance under
// fake time; the one exception is that x/time gives a token back with its
// times truncated to the nanosecond, so after a cancelled wait a start may
// come up to a nanosecond early (limit*1ns of a token).
//
// Jobs waiting for their tokens hold workers, so the pool needs workers for
// the jobs running plus those waiting. With too few, the bucket fills while
// no worker asks, and with a small burst that time is lost: at 10,000
// starts a second with burst 1, 256 workers keep the achieved rate within
// 0.5% of the limit on a busy 2-core machine, 64 workers fall 2-15% short.
//
// A RateLimiter is safe for concurrent use, and one RateLimiter may guard
// several pools, which then share its rate. When tokens are there,
// Admit+Start+Done costs about as much as rate.Limiter.Wait: 150 against
// 140 ns a call with two callers at once on a shared 2-core machine, 133
// against 124 with one. Admit is one atomic add (a CAS with a bound);
// Start is a clock reading, one mutex and the bucket's lock (Start says
// why not less). It does not allocate; a job that waits allocates a timer.
type RateLimiter struct {
	lim     *rate.Limiter
	maxWait time.Duration // < 0: no bound of its own, only ctx's deadline

	// base is when the limiter was made. The times it hands the bucket are
	// base plus time.Since(base), which reads only the monotonic clock
	// where time.Now reads the wall clock too (63 against 77 ns on the
	// 2-core test machine); the bucket compares times by their monotonic
	// readings alone.
	base time.Time

	// pending counts the jobs Admit let through that have not reached
	// Start or Abandon. floor (float64 bits) is a lower bound on the tokens
	// in the bucket: time only adds tokens, and each Start lowers floor by
	// the one it takes. While pending+1 <= floor, a job will find its token
	// at once and Admit needs neither the clock nor a lock.
	pending atomic.Int64
	floor   atomic.Uint64

	// mu makes Start's taking a token and leaving pending one step, and
	// the slow path of Admit's reading of both a consistent snapshot, so
	// that no job is counted twice or not at all. It also orders the
	// updates of floor, and the times handed to the bucket (see at). Every
	// call that changes the bucket is made with mu held. Taken before the
	// bucket's own lock.
	mu    sync.Mutex
	last  time.Duration // since base: the latest time handed to the bucket; guarded by mu
	lastT time.Time     // base + last; guarded by mu
	limit rate.Limit    // as given; the bucket runs at bucketRate(limit); guarded by mu
	// waiters are the Starts waiting for their tokens, in the order they
	// reserved them (see leave); guarded by mu.
	waiters list.List[tokenWaiter]

	afterClock func() // tests only: called by Start after it reads the clock
}

// RateLimitOption configures NewRateLimiter. Options are immutable values,
// safe to reuse and to share between goroutines.
type RateLimitOption interface {
	applyRateLimit(*RateLimiter)
}

type rateLimitOptionFunc func(*RateLimiter)

func (o rateLimitOptionFunc) applyRateLimit(l *RateLimiter) { o(l) }

// WithMaxWait bounds how long a job may wait for its token: a job that would
// wait longer is rejected with ErrRateLimited instead, at Submit when the
// backlog already shows it, else at start. With 0, only a token that is
// available at once is taken. Without WithMaxWait a job waits as long as its
// ctx allows. It panics if d is negative.
func WithMaxWait(d time.Duration) RateLimitOption {
	if d < 0 {
		panic(fmt.Sprintf("crew: WithMaxWait(%v): the max wait must be >= 0", d))
	}
	return rateLimitOptionFunc(func(l *RateLimiter) { l.maxWait = d })
}

// NewRateLimiter returns a RateLimiter that lets jobs start at limit a
// second on average, and up to burst at once after a quiet period. Limits
// below 1 work (rate.Every(10*time.Second) is 0.1). rate.Inf lets every job
// through and ignores burst. A zero limit lets burst jobs start and then
// rejects every job with ErrRateLimited until SetLimit raises it.
//
// NewRateLimiter panics if limit is negative or NaN, if burst is negative,
// or if burst is 0 with a finite limit (no job could ever start).
func NewRateLimiter(limit rate.Limit, burst int, opts ...RateLimitOption) *RateLimiter {
	checkRate("NewRateLimiter", limit, burst)
	now := time.Now()
	l := &RateLimiter{lim: rate.NewLimiter(bucketRate(limit), burst), limit: limit, maxWait: -1, base: now, lastT: now}
	l.resetFloor(now)
	for _, o := range opts {
		if o != nil {
			o.applyRateLimit(l)
		}
	}
	return l
}

// Limit returns the current rate, in starts a second, as given to
// NewRateLimiter or SetLimit.
func (l *RateLimiter) Limit() rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// bucketRate is the rate the bucket runs at for limit: one token per 1/limit
// rounded up to a whole nanosecond, so that every token is due on the very
// nanosecond it is whole (see tokenDelay). When 1/limit is a whole number of
// nanoseconds (1/s, 10/s, 0.5/s, 1000/s...) that is limit itself.
// Otherwise (3/s: 333333333.3ns a token) no start could fall on the exact
// schedule: starts would land on the nanosecond after it, and a window from
// such a start to one the schedule puts on its nanosecond (the third token
// at 3/s is due at 1s exactly) would hold billionths of a token more than
// burst + limit*w allows. Rounding the token's time up costs less than a
// nanosecond per token: 0.0003% at 3,333/s, 0.03% at 333,333/s.
func bucketRate(limit rate.Limit) rate.Limit {
	if limit <= 0 || limit == rate.Inf {
		return limit
	}
	ns := 1e9 / float64(limit)
	whole := math.Ceil(ns - ns*1e-14) // floating-point noise above a whole number is not a fraction
	if whole == ns {
		return limit
	}
	return rate.Limit(1e9 / whole)
}

// Burst returns the current bucket size.
func (l *RateLimiter) Burst() int { return l.lim.Burst() }

// SetLimit changes the rate from now on; tokens already in the bucket stay.
// Jobs already waiting for a token keep the time they were given. It panics
// if limit is negative or NaN, or finite while the burst is 0.
func (l *RateLimiter) SetLimit(limit rate.Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	checkRate("SetLimit", limit, l.lim.Burst())
	now := l.at(time.Since(l.base))
	l.limit = limit
	l.lim.SetLimitAt(now, bucketRate(limit))
	l.resetFloor(now)
}

// SetBurst changes the bucket size from now on; tokens above it are lost.
// It panics if burst is negative, or 0 while the limit is finite.
func (l *RateLimiter) SetBurst(burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	checkRate("SetBurst", l.lim.Limit(), burst)
	now := l.at(time.Since(l.base))
	l.lim.SetBurstAt(now, burst)
	l.resetFloor(now)
}

// Admit implements Guard. It never waits; see RateLimiter.
func (l *RateLimiter) Admit(ctx context.Context) (Ticket, error) {
	bounded := l.maxWait >= 0
	if !bounded {
		_, bounded = ctx.Deadline()
	}
	if !bounded {
		l.pending.Add(1)
		return 0, nil // no bound to check
	}
	for {
		p := l.pending.Load()
		if float64(p+1) <= l.getFloor() {
			if l.pending.CompareAndSwap(p, p+1) {
				return 0, nil // the token is there
			}
			continue
		}
		if err := l.admitSlow(ctx); err != errRetry {
			return 0, err
		}
	}
}

// errRetry tells Admit that pending moved while admitSlow estimated.
var errRetry = errors.New("retry")

// admitSlow estimates when the next job's token comes and admits it if that
// is within its bound.
func (l *RateLimiter) admitSlow(ctx context.Context) error {
	budget, _ := l.budget(ctx, time.Now())
	d := time.Since(l.base)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resetFloor(l.at(d))
	tokens := l.getFloor()
	p := l.pending.Load()
	need := float64(p+1) - tokens
	var delay time.Duration
	if need > 0 {
		delay = tokenDelay(need, l.lim.Limit())
	}
	if delay > budget {
		return rateLimited(delay, budget)
	}
	if !l.pending.CompareAndSwap(p, p+1) {
		return errRetry // an Admit or Abandon without the lock got in between
	}
	return nil
}

// Start implements Guard: it takes a token, waiting for it until ctx ends.
//
// When tokens are there, Start is a clock reading, then mu, then the
// bucket's AllowN under its own lock. Why not less:
//
//   - mu cannot go. The bucket takes the time from its caller, read outside
//     its lock, and a call with a time earlier than its last moves its
//     clock back and refills that span again (golang/go#56287). Only a lock
//     of ours around the call keeps the times in order (at); with the
//     bucket's lock alone, two Starts can reach it in the other order. mu
//     also keeps Admit's slow path exact: without it, a Start between its
//     AllowN and its leaving pending is counted twice there. The clock is
//     read before mu, which only orders the readings: a reading costs more
//     than the rest of the section.
//   - A token cannot be taken beside the bucket, from a count that provably
//     has it, and charged to the bucket later. The bucket holds at most
//     burst, so what a take leaves depends on when it happened. Charged at
//     a later time (a debt), refill the true bucket would have kept is
//     lost: at 100/s and burst 10, ten takes 20 ms apart charged together
//     leave the bucket empty where the true one holds 9, and a job with
//     WithMaxWait(0) is refused with a token there. Charged at an earlier
//     time (a lease), tokens not yet used are refilled twice and starts
//     exceed burst + limit*w. Charging each take at its own time needs the
//     takes in time order: mu again.
//
// So a start is one pass of the bucket under mu and its lock, as
// rate.Limiter.Wait is one clock reading and two passes under the bucket's
// lock. A lock-free bucket (a CAS on the time it would be empty) costs a
// third of this with two callers at once (43 against 132 ns,
// BenchmarkRateLimiterGuard), but it would replace x/time's bucket, not
// guard it.
func (l *RateLimiter) Start(ctx context.Context, _ Ticket) (Ticket, error) {
	if err := ctx.Err(); err != nil {
		l.pending.Add(-1)
		return 0, err
	}
	d := l.clock()
	at := l.base.Add(d)
	l.mu.Lock()
	now := l.atTime(d, at)
	l.setFloor(l.getFloor() - 1)
	l.pending.Add(-1)
	if l.lim.AllowN(now, 1) {
		l.mu.Unlock()
		return 0, nil
	}
	if l.lim.Limit() <= 0 {
		l.setFloor(l.getFloor() + 1) // no token taken
		l.mu.Unlock()
		return 0, rateLimited(rate.InfDuration, 0) // no token will come
	}
	w := &tokenWaiter{moved: make(chan struct{}, 1)}
	if !l.reserveLocked(w, now) {
		l.mu.Unlock()
		return 0, rateLimited(rate.InfDuration, 0) // burst 0 and a finite limit, set concurrently
	}
	l.waiters.PushBack(w)
	due := w.due
	l.mu.Unlock()
	// The wait is counted from the clock now, not from the reading the
	// token was taken at, which trails it when this goroutine lost the CPU.
	now = time.Now()
	delay := due.Sub(now)
	if delay <= 0 {
		l.leave(w, false)
		return 0, nil
	}
	if budget, bounded := l.budget(ctx, now); bounded && delay > budget {
		l.leave(w, true) // the floor stays a lower bound: it does not rise
		return 0, rateLimited(delay, budget)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.leave(w, false)
			return 0, nil
		case <-w.moved: // a wait ahead gave its token back
			l.mu.Lock()
			due = w.due
			l.mu.Unlock()
			t.Reset(time.Until(due))
		case <-ctx.Done():
			l.leave(w, true) // gives the token back to the jobs behind
			return 0, ctx.Err()
		}
	}
}

// tokenWaiter is a Start waiting for the token it reserved.
type tokenWaiter struct {
	list.Links[tokenWaiter] // the line of waiters; the first field, where the list finds it

	r     *rate.Reservation
	due   time.Time     // when the token is whole; guarded by mu
	moved chan struct{} // capacity 1: due moved earlier
}

// reserveLocked reserves a token for w at now and works out when it is
// whole: the bucket is then owed that many tokens, this one included.
// Worked out here (tokenDelay) rather than taken from the reservation,
// whose time x/time truncates to the nanosecond after floating-point maths:
// at 0.5/s its twelfth token came 21.999999999s after the first, a
// nanosecond early for guarantee 7. It reports false if no token will
// come. Requires mu held.
func (l *RateLimiter) reserveLocked(w *tokenWaiter, now time.Time) bool {
	w.r = l.lim.ReserveN(now, 1)
	w.due = now.Add(tokenDelay(-l.lim.TokensAt(now), l.lim.Limit()))
	return w.r.OK()
}

// leave takes w out of the line of waiters: its token has come, or, with
// giveBack, it will not start and its token goes back to the jobs behind.
//
// x/time gives back nothing of a reservation that later ones follow (their
// times stay), and what it gives back of the newest one it works out
// exactly. So the waiters behind w each take over the reservation and the
// time of the one ahead of them, moving up by one token, and the newest
// reservation, now nobody's, is the one given back. Every start still
// happens at a time x/time charged a token for.
func (l *RateLimiter) leave(w *tokenWaiter, giveBack bool) {
	d := time.Since(l.base)
	l.mu.Lock()
	defer l.mu.Unlock()
	if giveBack {
		r, due := w.r, w.due
		for b := w.Next(); b != nil; b = b.Next() {
			r, b.r = b.r, r
			due, b.due = b.due, due
			select {
			case b.moved <- struct{}{}:
			default:
			}
		}
		r.CancelAt(l.at(d))
	}
	l.waiters.Remove(w)
}

// clock reads the time for Start, as a duration since base. It is read
// before mu is taken, so that the clock's cost is not paid while others
// wait for mu.
func (l *RateLimiter) clock() time.Duration {
	d := time.Since(l.base)
	if l.afterClock != nil {
		l.afterClock()
	}
	return d
}

// at returns the time to hand the bucket for d, a clock reading (since
// base) taken before mu: d, or the latest time the bucket already has if
// that is later, which the caller's own reading may trail when it lost the
// CPU between reading the clock and taking mu. Either is a moment within
// the caller's call: the later one was read before mu was last released.
// Handed a time earlier than its last, golang.org/x/time/rate moves its
// clock back and refills that span again (golang/go#56287), creating tokens
// that break guarantee 7's bound. Requires mu held.
func (l *RateLimiter) at(d time.Duration) time.Time {
	return l.atTime(d, l.base.Add(d))
}

// atTime is at with base+d already worked out, so that Start need not do
// it while others wait for mu. Requires mu held.
func (l *RateLimiter) atTime(d time.Duration, t time.Time) time.Time {
	if d > l.last {
		l.last, l.lastT = d, t
	}
	return l.lastT
}

// Done implements Guard. A token is spent once its job starts, whatever
// the outcome, so Done does nothing.
func (l *RateLimiter) Done(Ticket, error, time.Duration) {}

// Abandon implements Guard: the job no longer counts in the backlog that
// Admit estimates from. It took no token.
func (l *RateLimiter) Abandon(Ticket) { l.pending.Add(-1) }

// resetFloor sets floor to the tokens in the bucket now, or +Inf when the
// limit is infinite. Requires mu held, or l not shared yet.
func (l *RateLimiter) resetFloor(now time.Time) {
	if l.lim.Limit() == rate.Inf {
		l.setFloor(math.Inf(1))
		return
	}
	l.setFloor(min(l.lim.TokensAt(now), float64(l.lim.Burst())))
}

func (l *RateLimiter) getFloor() float64  { return math.Float64frombits(l.floor.Load()) }
func (l *RateLimiter) setFloor(f float64) { l.floor.Store(math.Float64bits(f)) }

// budget returns how long a job with ctx may wait for a token from now, and
// whether there is a bound at all.
func (l *RateLimiter) budget(ctx context.Context, now time.Time) (time.Duration, bool) {
	budget, bounded := time.Duration(math.MaxInt64), false
	if l.maxWait >= 0 {
		budget, bounded = l.maxWait, true
	}
	if dl, ok := ctx.Deadline(); ok {
		budget, bounded = min(budget, max(dl.Sub(now), 0)), true
	}
	return budget, bounded
}

// tokenDelay is how long limit takes to produce need tokens: 0 if none are
// needed, rate.InfDuration if never.
func tokenDelay(need float64, limit rate.Limit) time.Duration {
	if need <= 0 || limit == rate.Inf {
		return 0
	}
	if limit <= 0 {
		return rate.InfDuration
	}
	d := need / float64(limit) * float64(time.Second)
	if d >= float64(math.MaxInt64) {
		return rate.InfDuration
	}
	// Rounded up to the nanosecond, except for floating-point noise above
	// a whole one: the maths above is off by a few parts in 1e16 of d, and
	// a real fraction of a nanosecond is larger than 1e-14 of d unless d
	// is over a day.
	return time.Duration(math.Ceil(d - d*1e-14))
}

// rateLimited is the rejection of a job whose token comes delay from now
// when it may wait only budget: retrying makes sense once the backlog has
// shrunk by the difference. RetryAfter is 0 when no token will come.
func rateLimited(delay, budget time.Duration) error {
	var after time.Duration
	if delay != rate.InfDuration {
		after = delay - budget
	}
	return &RejectedError{Guard: "ratelimit", RetryAfter: after, Err: ErrRateLimited}
}

// checkRate panics on a limit and burst no job could work with.
func checkRate(fn string, limit rate.Limit, burst int) {
	switch {
	case limit < 0 || math.IsNaN(float64(limit)):
		panic(fmt.Sprintf("crew: %s: limit %v must be >= 0", fn, limit))
	case burst < 0:
		panic(fmt.Sprintf("crew: %s: burst %d must be >= 0", fn, burst))
	case burst == 0 && limit != rate.Inf:
		panic(fmt.Sprintf("crew: %s: burst must be >= 1 with a finite limit (%v)", fn, limit))
	}
}

// ignoresElapsed: the limiter never uses a job's run time, so a Chain of
// crew guards need not read the clock for it.
func (l *RateLimiter) ignoresElapsed() bool { return true }
