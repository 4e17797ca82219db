package crew

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/crew-go/crew/internal/gcra"
)

// RateLimiter is a Guard that bounds how often jobs start: in any window of
// length w, at most burst + limit*w jobs behind it start (guarantee 7). It
// is a token bucket refilled at limit tokens a second and holding at most
// burst; a job takes one token when a worker is about to start it, so
// tokens pace starts, not Submits.
//
// Exactness: the bucket counts time in whole nanoseconds, in integers. A
// token comes every 1/limit seconds rounded up to the nanosecond, so the
// rate is exactly limit when that is a whole number of nanoseconds (1, 10,
// 1000, 10000 a second...) and otherwise lower by less than limit/1e9 of
// itself; above 1e9 a second it is one token a nanosecond. Each token is
// granted at an instant, and the instants keep the bound with no tolerance,
// cancellations and SetLimit included. A job starts at its instant or as
// soon after as the Go scheduler runs its goroutine.
//
// At Submit (Admit) it never waits. It works out when the job's token
// would come, after the tokens of the jobs admitted before it that will
// start before it and have not started yet. If that is not strictly before
// the job's ctx deadline, or is later than WithMaxWait allows, it refuses
// the job at once with a *RejectedError matching ErrRateLimited. Its
// RetryAfter is how much later the same job would fit if nothing else
// changed: retried after exactly that long, with the same bound, it is
// admitted. (A Submit that meets another job in the instant that job takes
// its token counts it twice, so it may refuse a job that would just have
// fit, or say one token later than it need; it never errs the other way.)
// A job with neither a deadline nor WithMaxWait is admitted,
// unless no token can ever come (limit 0 and the burst spent): that is
// refused with RetryAfter 0.
//
// At start (Start) it takes the token, waiting for it until ctx ends. If
// things changed since Submit (SetLimit lowered the rate, urgent jobs came
// first) so that the token would come too late, it refuses the job at once
// with ErrRateLimited. A job whose ctx ends while it waits, or that never
// reaches Start, never took a token: the jobs behind it move up, and it does
// not count against the limit. A job that a later guard of its Chain
// refuses at Start (an open Breaker, say) never starts either, and its
// token goes back as if never taken, so a backlog the breaker refuses costs
// no tokens. Winding the bucket back past a token is only sound while every
// token taken after it is back too, so if one of those was spent on a job
// that started, the earlier token stays spent. The token of a job that
// started is spent whatever its outcome. A later guard whose Start waits
// and then lets the job through delays its start past its token's instant:
// the bound is on the instants.
//
// Priority: a job's priority is the one WithPriority put in its Submit ctx.
// At Submit, only jobs of higher or equal priority admitted before it count
// as ahead of it, since a PriorityPool starts those first. Among Starts
// waiting for tokens, higher priorities get them first, and equal ones in
// the order they came; a Start that finds no one waiting and a token there
// takes it, whatever its priority. So in Chain(NewPriorityPool(n), limiter)
// urgent jobs are admitted while the urgent backlog alone fits their
// deadlines, and take tokens ahead of less urgent jobs. The estimate is an
// approximation: a PriorityPool ages waiting jobs (WithAging), so an old
// job of low priority may start before a newer urgent one the estimate put
// first, and urgent jobs that come later take tokens that an admitted job
// counted on, which may then be refused at start. Over a pool that ignores
// priority, give all jobs one priority, or the estimate for urgent ones is
// too hopeful.
//
// Jobs waiting for their tokens hold workers, so the pool needs workers for
// the jobs running plus those waiting. With too few, the bucket fills while
// no worker asks, tokens above burst are lost, and the rate falls short.
//
// A RateLimiter is safe for concurrent use, and one RateLimiter may guard
// several pools, which then share its rate. While no Start waits and tokens
// are there, Admit is one atomic add (a compare-and-swap with a deadline or
// a max wait) and Start a clock reading, a compare-and-swap and an atomic
// add: no lock and no allocation; Done does nothing. A job with a priority
// other than 0 also takes the limiter's mutex briefly in each, to count
// it by priority. Otherwise Admit and Start take the mutex: Admit is then
// O(P) for P priorities among the jobs admitted and not started; a Start
// that waits joins the line in O(L) for L priorities waiting, plus O(n)
// when it overtakes n waiters of lower priority (it refuses those that can
// no longer make their deadlines), allocates its place in line and a
// timer, and only the first in line keeps a timer running. SetLimit and
// SetBurst are O(n) in the Starts waiting.
type RateLimiter struct {
	// What every call reads and few write comes first, apart from the
	// counters that every call writes: on separate cache lines, a core's
	// write to a counter does not take the others' copies of these away.
	cfg  rateLimitConfig
	base time.Time // the epoch of the bucket's nanoseconds

	// bucket is replaced whole, under mu, when the limit or burst changes;
	// the old one is frozen first, so no take lands on it afterwards.
	bucket atomic.Pointer[gcra.Bucket]

	// seen is a clock reading, never later than now, so that Admit can
	// tell without the clock that the tokens are there (see admitFast).
	seen atomic.Int64

	// waiting counts the Starts in line; while it is 0, a Start may take a
	// token without mu. Written under mu.
	waiting atomic.Int32

	afterClock func() // tests only: called after Start reads the clock
	afterWake  func() // tests only: called when a waiting Start wakes

	_ [64]byte
	n limiterCounts

	// mu guards what follows, and orders the slow paths: Admit's estimate,
	// Start's line, and the replacement of bucket.
	mu sync.Mutex
	// levels counts the admitted jobs not yet gone (started, refused,
	// cancelled or abandoned) by priority, for the priorities other than
	// 0; those of priority 0 are the rest of the pending jobs.
	levels map[int]int64
	line   waitLine
	held   []heldToken // tokens that could not go back yet (giveBack)
}

// RateLimitOption configures NewRateLimiter and NewSharedRateLimiter.
// Options are immutable values, safe to reuse and to share between
// goroutines.
type RateLimitOption interface {
	applyRateLimit(*rateLimitConfig)
}

type rateLimitConfig struct {
	maxWait time.Duration // < 0: no bound of its own, only ctx's deadline
}

type rateLimitOptionFunc func(*rateLimitConfig)

func (o rateLimitOptionFunc) applyRateLimit(c *rateLimitConfig) { o(c) }

// WithMaxWait bounds how long a job may wait for its token: a job that would
// wait longer is refused with ErrRateLimited instead, at Submit when the
// backlog already shows it, else at start. With 0, only a token that is
// there at once is taken. Without WithMaxWait a job waits as long as its ctx
// allows. WithMaxWait panics if d is negative.
func WithMaxWait(d time.Duration) RateLimitOption {
	if d < 0 {
		panic(fmt.Sprintf("crew: WithMaxWait(%v): the max wait must be >= 0", d))
	}
	return rateLimitOptionFunc(func(c *rateLimitConfig) { c.maxWait = d })
}

func newRateLimitConfig(opts []RateLimitOption) rateLimitConfig {
	c := rateLimitConfig{maxWait: -1}
	for _, o := range opts {
		if o != nil {
			o.applyRateLimit(&c)
		}
	}
	return c
}

// NewRateLimiter returns a RateLimiter that lets jobs start at limit a
// second on average, and up to burst at once after a quiet period; the
// bucket starts full. Limits below 1 work (rate.Every(10*time.Second) is
// 0.1). rate.Inf, or +Inf, lets every job through and ignores burst. A limit
// of 0 lets burst jobs start and then refuses every job at Submit with
// ErrRateLimited until SetLimit raises it; so does a positive limit too
// small for one token in 2^62 nanoseconds (146 years, below about 2.2e-10
// a second), which never becomes unlimited. A burst above what limit makes
// in 2^62 nanoseconds (math.MaxInt, say) means that many: the bucket never
// holds more than it can refill in that time.
//
// NewRateLimiter panics if limit is negative or NaN, if burst is negative,
// or if burst is 0 with a finite limit (no job could ever start).
func NewRateLimiter(limit rate.Limit, burst int, opts ...RateLimitOption) *RateLimiter {
	checkRate("NewRateLimiter", limit, burst)
	l := &RateLimiter{cfg: newRateLimitConfig(opts), base: time.Now()}
	p := gcra.New(float64(limit), burst)
	l.bucket.Store(gcra.NewBucket(p, p.Full(0)))
	l.n.setShape(limit, burst)
	return l
}

// Limit returns the current rate, in starts a second, as given to
// NewRateLimiter or SetLimit.
func (l *RateLimiter) Limit() rate.Limit { return l.n.limit() }

// Burst returns the current bucket size, as given to NewRateLimiter or
// SetBurst.
func (l *RateLimiter) Burst() int { return l.n.burst() }

// SetLimit changes the rate from now on. The tokens in the bucket stay
// (less a nanosecond's worth at most; at a limit of 0 only whole tokens
// count; leaving rate.Inf the bucket is full), and the jobs already
// waiting for a token get their times worked out anew at the new rate: one
// that can no longer make its deadline or max wait is refused then. For a
// window across the change, the bound is burst plus the tokens each rate
// makes over the part of the window it was in force. SetLimit panics if
// limit is negative or NaN, or finite while the burst is 0.
func (l *RateLimiter) SetLimit(limit rate.Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := l.n.burst()
	checkRate("SetLimit", limit, burst)
	l.n.setShape(limit, burst)
	l.reshapeLocked(gcra.New(float64(limit), burst))
}

// SetBurst changes the bucket size from now on: tokens above it are lost,
// and raising it adds none. Jobs already waiting get their times worked
// out anew, as with SetLimit. For a window across the change, the larger
// burst counts. SetBurst panics if burst is negative, or 0 while the limit
// is finite.
func (l *RateLimiter) SetBurst(burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.n.limit()
	checkRate("SetBurst", limit, burst)
	l.n.setShape(limit, burst)
	l.reshapeLocked(gcra.New(float64(limit), burst))
}

// Admit implements Guard. It never waits; see RateLimiter.
func (l *RateLimiter) Admit(ctx context.Context) (Ticket, error) {
	prio := priorityOf(ctx)
	_, dl := ctx.Deadline()
	bounded := dl || l.cfg.maxWait >= 0
	if prio == 0 {
		b := l.bucket.Load()
		if b.P.Kind != gcra.Zero {
			if !bounded {
				l.n.admitted.Add(1)
				return 0, nil // no bound to check, and a token will come
			}
			if l.admitFast(b) {
				return 0, nil
			}
		}
	}
	return l.admitSlow(ctx, prio, bounded)
}

// admitFast admits a job if, at the reading in seen, the bucket held a
// token for it and for every job admitted before it that has not started,
// whatever their priorities: tokens only grow with time, so they are there
// now. It reports false when it cannot tell without the clock.
func (l *RateLimiter) admitFast(b *gcra.Bucket) bool {
	for {
		left := l.n.left.Load() // before admitted, so the difference is never short
		adm := l.n.admitted.Load()
		w := b.Load()
		if w == gcra.Frozen {
			return false
		}
		seen := l.seen.Load()
		if b.P.Due(w, seen, int64(adm-left)) > seen {
			return false
		}
		if l.n.admitted.CompareAndSwap(adm, adm+1) {
			return true
		}
	}
}

// Start implements Guard: it takes a token, waiting for it until ctx ends.
func (l *RateLimiter) Start(ctx context.Context, admitted Ticket) (Ticket, error) {
	_, err := l.take(ctx, admitted)
	return 0, err
}

// take is Start, returning the token it took (zero if none), which a
// Chain gives back (giveBack) if a later guard refuses the job at its
// Start.
func (l *RateLimiter) take(ctx context.Context, admitted Ticket) (heldToken, error) {
	prio := ticketPriority(admitted)
	if err := ctx.Err(); err != nil {
		l.leave(prio, &l.n.canceled)
		return heldToken{}, err
	}
	if l.waiting.Load() == 0 { // no line: priority does not matter
		// The bucket before the clock: a reading taken before a SetLimit
		// then meets the old bucket, frozen, and goes the slow way.
		b := l.bucket.Load()
		now := l.clock()
		if took, ok, _ := b.TryTake(now); ok {
			if now-l.seen.Load() > seenStale {
				l.seen.Store(now)
			}
			l.leave(prio, nil)
			return heldToken{b, took}, nil
		}
	}
	return l.startSlow(ctx, prio)
}

// heldToken is a token a RateLimiter's Start took, kept by the Chain until
// its job starts.
type heldToken struct {
	b    *gcra.Bucket // nil: no token to give back
	took gcra.Took
}

// giveBack returns the token of a job that a later guard of its Chain
// refused at Start, so that the job, which never started, costs no token
// (guarantee 7). The bucket is then exactly as if the token had never been
// taken; that is only sound while no token taken since is still out, so
// if one is, the give-back waits (up to maxHeld of them) until that one
// comes back, or for good if it is spent on a job that starts. The first
// job waiting in line is woken to look at the bucket again, its turn
// starting now.
func (l *RateLimiter) giveBack(t heldToken) {
	if t.b == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.b.GiveBack(t.took) {
		if len(l.held) == maxHeld {
			l.held = slices.Delete(l.held, 0, 1) // the oldest is spent
		}
		l.held = append(l.held, t)
		return
	}
	l.n.gaveBack.Add(1)
	for given := true; given; { // tokens taken before t that could not go back then
		given = false
		for i, h := range l.held {
			if h.b.GiveBack(h.took) {
				l.held = slices.Delete(l.held, i, i+1)
				l.n.gaveBack.Add(1)
				given = true
				break
			}
		}
	}
	if h := l.line.head(); h != nil {
		// Its turn began at the instant of a token taken before; it starts
		// no sooner than now, or it and the one after it could both take
		// tokens at instants now past, and start together.
		h.since = max(h.since, l.now())
		h.signal()
	}
}

// maxHeld bounds the tokens waiting to be given back: more than the
// starts in flight at once is rare, as a spent token blocks the give-backs
// of those taken before it for good.
const maxHeld = 64

// seenStale is how old seen may grow before a Start that read the clock
// refreshes it: a store on every Start would cost as much as the rest.
const seenStale = int64(time.Millisecond)

// Done implements Guard. A token is spent once its job starts, whatever
// the outcome, so Done does nothing. (A Chain gives back the token of a
// job that a later guard refused at Start, before it calls Done.)
func (l *RateLimiter) Done(Ticket, error, time.Duration) {}

// Abandon implements Guard: the job no longer counts among those that
// Admit sees ahead. It took no token.
func (l *RateLimiter) Abandon(admitted Ticket) {
	l.leave(ticketPriority(admitted), &l.n.abandoned)
}

// leave records that an admitted job of priority prio is gone without a
// token, counting it in why.
func (l *RateLimiter) leave(prio int, why *atomic.Uint64) {
	if prio == 0 {
		l.n.leave(why)
		return
	}
	l.mu.Lock()
	l.leaveLocked(prio, why)
	l.mu.Unlock()
}

// leaveLocked is leave, or the count of a start when why is nil. Requires
// mu held.
func (l *RateLimiter) leaveLocked(prio int, why *atomic.Uint64) {
	if prio != 0 {
		// An empty level stays, unless there are many: the next job of
		// that priority then finds its entry.
		if l.levels[prio]--; l.levels[prio] <= 0 && len(l.levels) > maxIdleLevels {
			delete(l.levels, prio)
		}
	}
	l.n.leave(why)
}

// maxIdleLevels is how many priorities levels keeps, empty or not, before
// it forgets those that empty.
const maxIdleLevels = 16

// now reads the clock: nanoseconds since base.
func (l *RateLimiter) now() int64 { return int64(time.Since(l.base)) }

// clock is now for Start, with the tests' hook.
func (l *RateLimiter) clock() int64 {
	d := l.now()
	if l.afterClock != nil {
		l.afterClock()
	}
	return d
}

// Priorities travel from Admit to Start and Abandon in the Ticket.
func priorityTicket(prio int) Ticket        { return Ticket(uint64(int64(prio))) }
func ticketPriority(t Ticket) int           { return int(int64(t)) }
func (l *RateLimiter) ignoresElapsed() bool { return true } // see untimedGuard

// checkRate panics on a limit and burst no job could work with.
func checkRate(fn string, limit rate.Limit, burst int) {
	switch {
	case limit < 0 || math.IsNaN(float64(limit)):
		panic(fmt.Sprintf("crew: %s: limit %v must be >= 0", fn, limit))
	case burst < 0:
		panic(fmt.Sprintf("crew: %s: burst %d must be >= 0", fn, burst))
	case burst == 0 && float64(limit) < math.MaxFloat64:
		panic(fmt.Sprintf("crew: %s: burst must be >= 1 with a finite limit (%v)", fn, limit))
	}
}
