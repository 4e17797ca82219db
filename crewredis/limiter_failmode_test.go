package crewredis

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call is one Admit+Start through a limiter, on the bubble's clock.
type call struct {
	begin, end time.Duration
	ok         bool
}

// runOutage runs one replica with two submitters whose jobs each take a
// millisecond, cuts Redis off at 500ms (outage: kill or hang) and brings it
// back at 1.5s, runs until 3s, and returns every call.
func runOutage(t *testing.T, outage func(*testRedis), opts ...LimiterOption) ([]call, *RateLimiter) {
	r := newTestRedis(t)
	l := NewRateLimiter(r.client(t), "outage", 200, 10, opts...)
	ctx, cancel := context.WithCancel(t.Context())
	begin := time.Now()
	var mu sync.Mutex
	var calls []call
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				c := call{begin: time.Since(begin)}
				err := take(ctx, l)
				c.end, c.ok = time.Since(begin), err == nil
				mu.Lock()
				calls = append(calls, c)
				mu.Unlock()
				if err != nil {
					backOff(err)
				} else {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	outage(r)
	time.Sleep(time.Second)
	r.revive()
	time.Sleep(runEnd - reviveAt)
	cancel()
	wg.Wait()
	require.NoError(t, l.Close())
	return calls, l
}

const (
	outageAt = 500 * time.Millisecond
	reviveAt = 1500 * time.Millisecond
	runEnd   = 3 * time.Second
	// backAt is when the limiter has leased again for sure: its back-off
	// while Redis is down is at most a second.
	backAt = reviveAt + maxBackoff + 100*time.Millisecond
)

// startsIn counts the calls that started a job within (from, to].
func startsIn(calls []call, from, to time.Duration) int {
	n := 0
	for _, c := range calls {
		if c.ok && c.end > from && c.end <= to {
			n++
		}
	}
	return n
}

// longestDuring returns the longest call that began within [from, to).
func longestDuring(calls []call, from, to time.Duration) time.Duration {
	var d time.Duration
	for _, c := range calls {
		if c.begin >= from && c.begin < to {
			d = max(d, c.end-c.begin)
		}
	}
	return d
}

func TestRateLimiterRedisKilled(t *testing.T) {
	const e = 100 * time.Millisecond
	tests := []struct {
		name  string
		mode  FailMode
		check func(t *testing.T, calls []call, s LimiterStats)
	}{
		{"closed", FailClosed, func(t *testing.T, calls []call, s LimiterStats) {
			assert.Zero(t, startsIn(calls, outageAt+e, reviveAt), "no start once the last tokens expired")
			assert.Zero(t, s.Bypassed)
		}},
		{"open", FailOpen, func(t *testing.T, calls []call, s LimiterStats) {
			assert.Greater(t, startsIn(calls, outageAt+e, reviveAt), 1000, "jobs run unlimited")
			assert.Positive(t, s.Bypassed)
		}},
		{"local", FailLocal(50, 5), func(t *testing.T, calls []call, s LimiterStats) {
			n := startsIn(calls, outageAt+e, reviveAt)
			assert.Positive(t, n)
			assert.LessOrEqual(t, n, 5+50+1, "the local bucket paces them")
			assert.Positive(t, s.Bypassed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls, l := runOutage(t, (*testRedis).kill, WithFailMode(tt.mode))
				s := l.Stats()
				tt.check(t, calls, s)
				if tt.mode.kind != failLocal {
					// A job that came before the next lease request was
					// due waits for it as it would with Redis up; that
					// request fails at once, and from then on no call waits.
					found := outageAt + 3*l.cfg.gap/2
					assert.LessOrEqual(t, longestDuring(calls, found, reviveAt), time.Millisecond,
						"no call waits on a dead Redis")
				}
				assert.Positive(t, s.Failures)
				assert.False(t, s.Down, "back up after the revival")
				assert.Greater(t, startsIn(calls, backAt, runEnd), 50, "leases again after the revival")
			})
		})
	}
}

// A server that stops answering is taken for down after the request
// timeout; FailClosed stops the starts within the token lifetime.
func TestRateLimiterRedisHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 30 * time.Millisecond
		calls, l := runOutage(t, (*testRedis).hang, WithRequestTimeout(timeout))
		assert.Zero(t, startsIn(calls, outageAt+l.TokenLifetime(), reviveAt))
		// At most until the next request is due, plus its timeout.
		assert.LessOrEqual(t, longestDuring(calls, outageAt, reviveAt), 3*l.cfg.gap/2+timeout,
			"no call waits longer than a refresh and the request timeout")
		assert.Greater(t, startsIn(calls, backAt, runEnd), 50)
	})
}
