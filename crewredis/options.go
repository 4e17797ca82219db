package crewredis

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// LimiterOption configures NewRateLimiter. Options are immutable values,
// safe to reuse and to share between goroutines.
type LimiterOption interface {
	applyLimiter(*limiterConfig)
}

// BreakerOption configures NewBreaker. Options are immutable values, safe
// to reuse and to share between goroutines.
type BreakerOption interface {
	applyBreaker(*breakerConfig)
}

// Option is an option that applies to both NewRateLimiter and NewBreaker.
type Option interface {
	LimiterOption
	BreakerOption
}

// WithRequestTimeout bounds how long the limiter or breaker waits for one
// Redis request before it takes Redis for down and applies its fail mode
// (default: the limiter's token lifetime, 1s for the breaker). The request
// goes on in the background until the client gives up on it (see
// ClientOptions); no other is sent meanwhile. It panics if d is not
// positive.
func WithRequestTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("crew: crewredis.WithRequestTimeout(%v): the timeout must be > 0", d))
	}
	return requestTimeout(d)
}

type requestTimeout time.Duration

func (o requestTimeout) applyLimiter(c *limiterConfig) { c.requestTimeout = time.Duration(o) }
func (o requestTimeout) applyBreaker(c *breakerConfig) { c.requestTimeout = time.Duration(o) }

// WithTokenLifetime sets E, the token lifetime: a token leased from Redis
// may start a job only until E after the lease request was sent, measured
// on this process's monotonic clock (default 100ms). The cluster bound is
// burst + limit*(w + E) + 1 starts in any window w, so a shorter lifetime
// tightens it; a lease whose reply takes longer than E is dropped unused,
// so E must stay well above the Redis round trip. It panics if d is not
// positive.
func WithTokenLifetime(d time.Duration) LimiterOption {
	if d <= 0 {
		panic(fmt.Sprintf("crew: crewredis.WithTokenLifetime(%v): the lifetime must be > 0", d))
	}
	return limiterOptionFunc(func(c *limiterConfig) { c.lifetime = d })
}

// WithRefreshInterval sets the least time between two lease requests of one
// limiter (default 20ms). Longer means fewer Redis commands per start and
// larger leases; shorter means a replica whose demand jumps waits less for
// its next lease. It panics if d is negative.
func WithRefreshInterval(d time.Duration) LimiterOption {
	if d < 0 {
		panic(fmt.Sprintf("crew: crewredis.WithRefreshInterval(%v): the interval must be >= 0", d))
	}
	return limiterOptionFunc(func(c *limiterConfig) { c.gap = d })
}

// WithMaxWait bounds how long Start waits for a token: a job that would
// wait longer is refused with crew.ErrRateLimited. With 0, a job starts only
// if a token is on hand. Without it a job waits as long as its ctx allows.
// It panics if d is negative.
func WithMaxWait(d time.Duration) LimiterOption {
	if d < 0 {
		panic(fmt.Sprintf("crew: crewredis.WithMaxWait(%v): the max wait must be >= 0", d))
	}
	return limiterOptionFunc(func(c *limiterConfig) { c.maxWait = d })
}

// WithName sets the Guard named in the limiter's rejections (default
// "ratelimit").
func WithName(name string) LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) {
		if name != "" {
			c.name = name
		}
	})
}

// WithFailMode sets what the limiter does when Redis is down and its leased
// tokens are spent or expired (default FailClosed).
func WithFailMode(m FailMode) LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) { c.fail = m })
}

// FailMode is what a RateLimiter does while Redis is down (a request failed
// or took longer than the request timeout) and it has no valid token left.
// It is a plain value, copied freely.
type FailMode struct {
	kind  failKind
	limit rate.Limit
	burst int
}

type failKind int

const (
	failClosed failKind = iota
	failOpen
	failLocal
)

var (
	// FailClosed refuses jobs with crew.ErrRateLimited, at once: no job
	// starts later than the token lifetime after the last lease request
	// that Redis answered, so guarantee 15's bound holds through the outage.
	FailClosed = FailMode{kind: failClosed}
	// FailOpen lets every job start: the downstream gets no protection
	// from this limiter until Redis answers again.
	FailOpen = FailMode{kind: failOpen}
)

// FailLocal paces jobs with a local token bucket of limit starts a second
// and the given burst while Redis is down, as crew.NewRateLimiter would.
// Give each replica its share (the cluster limit over the replica count)
// to keep the cluster near its limit. It panics if limit is not positive
// or NaN, or burst < 1.
func FailLocal(limit rate.Limit, burst int) FailMode {
	if !(limit > 0) || burst < 1 {
		panic(fmt.Sprintf("crew: crewredis.FailLocal(%v, %d): limit must be > 0 and burst >= 1", limit, burst))
	}
	return FailMode{kind: failLocal, limit: limit, burst: burst}
}

// String returns "closed", "open" or "local(limit/s, burst)".
func (m FailMode) String() string {
	switch m.kind {
	case failOpen:
		return "open"
	case failLocal:
		return fmt.Sprintf("local(%v/s, %d)", float64(m.limit), m.burst)
	}
	return "closed"
}

type limiterOptionFunc func(*limiterConfig)

func (o limiterOptionFunc) applyLimiter(c *limiterConfig) { o(c) }

type breakerOptionFunc func(*breakerConfig)

func (o breakerOptionFunc) applyBreaker(c *breakerConfig) { o(c) }

// ClientOptions returns go-redis options for addr with the timeouts that
// suit crewredis: a dead or unreachable server fails a request within a
// quarter of a second instead of go-redis's defaults (5s to dial, 3s to
// read), and a request's context deadline reaches the socket
// (ContextTimeoutEnabled), so that Close is not held up by a request to a
// dead server. Adjust the result as you like before redis.NewClient; set
// the same fields on a cluster or failover client's options.
func ClientOptions(addr string) *redis.Options {
	const d = 250 * time.Millisecond
	return &redis.Options{
		Addr:                  addr,
		DialTimeout:           d,
		ReadTimeout:           d,
		WriteTimeout:          d,
		PoolTimeout:           d,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // the limiter and breaker retry on their own schedule
		DialerRetries:         1,
		DisableIdentity:       true,
	}
}
