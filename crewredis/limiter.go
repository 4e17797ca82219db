package crewredis

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// RateLimiter is a crew.Guard that bounds job starts over every replica
// that shares its key: in any window of length w, all of them together
// start at most burst + limit*(w + E) + 1 jobs (guarantee 15), E being the
// token lifetime (WithTokenLifetime, 100ms by default).
//
// Redis holds one GCRA bucket per key. Each replica leases tokens from it
// ahead of need, a few at a time, with a Lua script that reads Redis's own
// clock (TIME), so the replicas' clocks never matter. A lease request is
// sent by a background goroutine, one at a time and no more often than the
// refresh interval (WithRefreshInterval, 20ms), and asks for what this
// replica's recent starts say it will need until its next lease could
// arrive. Each token may start a job only within [r, s+E) on this process's
// monotonic clock, s and r being when its request was sent and its reply
// received: Redis granted it at a moment between the two, so a token is
// never used before it was granted nor more than E after. A start at t
// therefore spends a token Redis granted within [t-E, t], and the starts in
// a window w spend grants from a window w+E, which the bucket bounds by
// burst + limit*(w+E); the +1 covers the rounding of the token interval to
// Redis's microseconds (always up: the rate never exceeds limit).
//
// The hot path never calls Redis: Admit is an atomic load; Start with a
// token on hand is an atomic load, a clock reading and an atomic add; Done
// and Abandon do nothing. A Start with no token on hand joins a
// first-come-first-served line, wakes the background goroutine and waits
// for the next lease, until its ctx ends (ctx.Err()) or WithMaxWait passes
// (crew.ErrRateLimited); a token that expires before its waiter runs is
// dropped, never used late. A token handed to a wait that is then
// cancelled goes to the next job in line.
//
// When Redis is down (a request failed or took longer than the request
// timeout) the tokens on hand stay valid until they expire; after that
// the fail mode decides (WithFailMode): FailClosed refuses at once,
// FailOpen lets jobs through, FailLocal paces them with a local bucket.
// No call waits on a dead Redis: Admit and Start learn that it is down
// from the background goroutine, which retries with a back-off from the
// refresh interval up to one second while jobs are asking, and the first
// reply restores normal operation.
//
// All replicas sharing a key must use the same limit and burst; the
// script takes them from each request. A RateLimiter is safe for concurrent
// use and may guard several pools, which then share its leases. It does
// not allocate on the hot path; a Start that waits allocates its place in
// line and a timer.
type RateLimiter struct {
	client   redis.UniversalClient
	key      string
	limit    rate.Limit
	burst    int
	interval int64 // µs per token in Redis, 1e6/limit rounded up
	cfg      limiterConfig
	base     time.Time // the monotonic clock's origin: the limiter's times are time.Since(base)
	inf      bool      // rate.Inf: every job starts, Redis is never asked

	// Read without mu on the hot path, written under mu.
	cur     atomic.Pointer[lease] // the lease Start takes from; nil: none
	waiting atomic.Int32          // jobs in line; while > 0 a new Start joins the line
	down    atomic.Bool           // Redis taken for down
	closed  atomic.Bool
	demand  atomic.Bool // a job found no token while Redis was down: keep retrying

	mu       sync.Mutex
	queue    []*lease      // leases after cur, in the order they expire; guarded by mu
	line     waiterList    // Starts waiting for a token, first come first; guarded by mu
	retryAt  time.Duration // while down: when the next request goes; guarded by mu
	fallback *rate.Limiter // FailLocal's bucket; nil otherwise

	kick chan struct{} // capacity 1: wakes the refresher
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the refresher and its request have returned
	once sync.Once

	stats limiterCounters
}

type limiterConfig struct {
	name           string
	lifetime       time.Duration
	gap            time.Duration
	requestTimeout time.Duration
	maxWait        time.Duration // < 0: no bound but ctx
	fail           FailMode
}

// LimiterStats are a RateLimiter's counts since it was made.
type LimiterStats struct {
	Requests uint64 // lease requests sent to Redis
	Failures uint64 // of Requests: failed, or answered after the request timeout
	Granted  uint64 // tokens leased
	Expired  uint64 // of Granted: dropped unused, their lifetime over
	Bypassed uint64 // starts the fail mode let through (FailOpen, FailLocal) while Redis was down
	Refused  uint64 // Admits and Starts refused with crew.ErrRateLimited
	Down     bool   // Redis is taken for down now
}

type limiterCounters struct {
	requests, failures, granted, expired, bypassed, refused atomic.Uint64
}

// maxSpan bounds burst*interval (µs) so that the script's numbers stay
// exact in Lua's doubles next to a Unix time in microseconds.
const maxSpan = 1 << 50

// NewRateLimiter returns a RateLimiter for the cluster-wide bucket at key:
// limit starts a second on average, up to burst at once, over every
// replica that uses the same key. It starts one goroutine, which Close
// stops, and sends nothing to Redis until a job asks for a token. Limits
// above a million a second are a million (Redis counts microseconds);
// rate.Inf lets every job start and never calls Redis.
//
// NewRateLimiter panics if client is nil, key is empty, limit is not
// positive or is NaN, burst is below 1, or burst tokens at limit span more
// than about 35 years.
func NewRateLimiter(client redis.UniversalClient, key string, limit rate.Limit, burst int, opts ...LimiterOption) *RateLimiter {
	switch {
	case client == nil:
		panic("crew: crewredis.NewRateLimiter: the Redis client is nil")
	case key == "":
		panic("crew: crewredis.NewRateLimiter: the key is empty")
	case !(limit > 0):
		panic(fmt.Sprintf("crew: crewredis.NewRateLimiter: limit %v must be > 0", limit))
	case burst < 1:
		panic(fmt.Sprintf("crew: crewredis.NewRateLimiter: burst %d must be >= 1", burst))
	}
	l := &RateLimiter{
		client: client, key: key, limit: limit, burst: burst, base: time.Now(),
		cfg:  limiterConfig{name: "ratelimit", lifetime: 100 * time.Millisecond, gap: 20 * time.Millisecond, maxWait: -1},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o.applyLimiter(&l.cfg)
		}
	}
	if l.cfg.requestTimeout == 0 {
		l.cfg.requestTimeout = l.cfg.lifetime
	}
	if l.cfg.fail.kind == failLocal {
		l.fallback = rate.NewLimiter(l.cfg.fail.limit, l.cfg.fail.burst)
	}
	if limit == rate.Inf {
		l.inf = true
		close(l.done)
		return l
	}
	// Rounded up, so the bucket never runs faster than limit.
	l.interval = int64(math.Ceil(1e6/float64(limit) - 1e-9))
	l.interval = max(l.interval, 1)
	if float64(l.interval)*float64(burst) > maxSpan {
		panic(fmt.Sprintf("crew: crewredis.NewRateLimiter: burst %d at limit %v spans too long", burst, limit))
	}
	go l.run()
	return l
}

// Admit implements crew.Guard. It never waits and never calls Redis. It
// refuses a job only when the limiter is closed (an error matching
// crew.ErrClosed), or when Redis is down, the fail mode is FailClosed and
// no token is on hand (crew.ErrRateLimited, RetryAfter the time to the next
// request to Redis).
func (l *RateLimiter) Admit(context.Context) (crew.Ticket, error) {
	if l.closed.Load() {
		return 0, errLimiterClosed
	}
	if l.down.Load() && l.cfg.fail.kind == failClosed && !l.hasToken() {
		return 0, l.refuseDown()
	}
	return 0, nil
}

// Start implements crew.Guard: it takes a token, waiting for one when none
// is on hand; see RateLimiter.
func (l *RateLimiter) Start(ctx context.Context, _ crew.Ticket) (crew.Ticket, error) {
	if l.waiting.Load() == 0 {
		if ls := l.cur.Load(); ls != nil {
			// The clock is read after the lease is loaded, so never before
			// the lease arrived; the start is this reading.
			now := time.Since(l.base)
			if now < ls.expires {
				if n := ls.n.Add(-1); n >= 0 {
					if n == 0 {
						l.wake() // the last of this lease: look ahead
					}
					return 0, nil
				}
			}
		}
	}
	if l.inf {
		return 0, nil
	}
	return l.startSlow(ctx)
}

// Done implements crew.Guard. A token is spent once its job starts, so Done
// does nothing. Unlike crew.RateLimiter, whose token a Chain gives back when
// a later guard refuses the job at Start, this limiter's token stays spent
// then: Done cannot tell that refusal from a job that ran and returned a
// *crew.RejectedError of its own, and giving a token back for a job that
// ran would break the cluster bound. Behind an open breaker, the jobs it
// refuses at start each spend a token.
func (l *RateLimiter) Done(crew.Ticket, error, time.Duration) {}

// Abandon implements crew.Guard. Admit took nothing, so Abandon does
// nothing.
func (l *RateLimiter) Abandon(crew.Ticket) {}

// Close stops the background goroutine, waiting for a Redis request in
// flight to return (at most the request timeout when the client honours
// context deadlines, see ClientOptions; else the client's read timeout),
// and drops the tokens on hand. Jobs waiting in Start and later calls to
// Admit and Start are refused with an error matching crew.ErrClosed. Close
// is idempotent, safe from any goroutine, and returns nil; when it returns,
// the limiter has no goroutine left. It does not close the Redis client.
func (l *RateLimiter) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		l.cur.Store(nil)
		l.queue = nil
		l.mu.Unlock()
		close(l.stop)
	})
	<-l.done
	return nil
}

// Stats returns the limiter's counts. It takes no lock.
func (l *RateLimiter) Stats() LimiterStats {
	c := &l.stats
	return LimiterStats{
		Requests: c.requests.Load(), Failures: c.failures.Load(),
		Granted: c.granted.Load(), Expired: c.expired.Load(),
		Bypassed: c.bypassed.Load(), Refused: c.refused.Load(),
		Down: l.down.Load(),
	}
}

// TokenLifetime returns E, the token lifetime in guarantee 15's bound.
func (l *RateLimiter) TokenLifetime() time.Duration { return l.cfg.lifetime }

// now is the limiter's clock: the monotonic time since base.
func (l *RateLimiter) now() time.Duration { return time.Since(l.base) }

// wake tells the refresher to look at the tokens again. It never blocks.
func (l *RateLimiter) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// ask tells the refresher that a job wanted a token it could not have, so
// that it asks Redis even though no job waits. It never blocks.
func (l *RateLimiter) ask() {
	l.demand.Store(true)
	l.wake()
}

// hasToken reports whether a token that is still valid is on hand.
func (l *RateLimiter) hasToken() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.onHandLocked(l.now()) > 0
}

var errLimiterClosed = fmt.Errorf("crewredis: rate limiter closed: %w", crew.ErrClosed)

// refuse is the limiter's rejection, retrying making sense after after.
func (l *RateLimiter) refuse(after time.Duration) error {
	l.stats.refused.Add(1)
	return &crew.RejectedError{Guard: l.cfg.name, RetryAfter: max(after, 0), Err: crew.ErrRateLimited}
}

// refuseDown refuses a job for want of a token while Redis is down, and
// asks the refresher to keep trying.
func (l *RateLimiter) refuseDown() error {
	l.ask()
	l.mu.Lock()
	after := l.retryAt - l.now()
	l.mu.Unlock()
	return l.refuse(after)
}
