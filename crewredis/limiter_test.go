package crewredis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// take runs Admit and Start once and returns Start's error.
func take(ctx context.Context, l *RateLimiter) error {
	t, err := l.Admit(ctx)
	if err != nil {
		return err
	}
	t, err = l.Start(ctx, t)
	if err == nil {
		l.Done(t, nil, 0)
	}
	return err
}

func TestNewRateLimiterPanics(t *testing.T) {
	r := newTestRedis(t)
	c := r.client(t)
	tests := []struct {
		name string
		give func()
	}{
		{"nil client", func() { NewRateLimiter(nil, "k", 1, 1) }},
		{"empty key", func() { NewRateLimiter(c, "", 1, 1) }},
		{"zero limit", func() { NewRateLimiter(c, "k", 0, 1) }},
		{"NaN limit", func() { NewRateLimiter(c, "k", rate.Limit(nanValue()), 1) }},
		{"zero burst", func() { NewRateLimiter(c, "k", 1, 0) }},
		{"span too long", func() { NewRateLimiter(c, "k", 1e-9, 1<<20) }},
		{"negative lifetime", func() { WithTokenLifetime(-1) }},
		{"negative max wait", func() { WithMaxWait(-1) }},
		{"zero request timeout", func() { WithRequestTimeout(0) }},
		{"bad local fallback", func() { FailLocal(0, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.PanicsWithValue(t, panicValue(tt.give), tt.give)
			assert.Contains(t, panicValue(tt.give), "crew: ")
		})
	}
}

func nanValue() float64 { var z float64; return z / z }

// panicValue returns what f panics with, "" if it does not.
func panicValue(f func()) (v string) {
	defer func() {
		if r := recover(); r != nil {
			v, _ = r.(string)
		}
	}()
	f()
	return ""
}

func TestRateLimiterInfNeverCallsRedis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(newTestRedis(t).client(t), "k", rate.Inf, 1)
		defer l.Close()
		for range 100 {
			require.NoError(t, take(t.Context(), l))
		}
		assert.Zero(t, l.Stats().Requests)
	})
}

// A token is good only until E after its request was sent: tokens leased
// ahead and left unused are dropped, never used later, even when no new
// lease can come (Redis hangs).
func TestRateLimiterTokenExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 1000, 50)
		defer l.Close()
		ctx := t.Context()
		// A demand rate, so that the limiter leases ahead.
		for i := 0; i < 200 || !l.hasToken() && i < 1000; i++ {
			require.NoError(t, take(ctx, l))
			time.Sleep(2 * time.Millisecond)
			synctest.Wait()
		}
		require.True(t, l.hasToken(), "tokens were leased ahead")
		r.hang()
		time.Sleep(l.TokenLifetime())
		before := l.Stats()
		err := take(ctx, l)
		assert.ErrorIs(t, err, crew.ErrRateLimited, "FailClosed: no token but old ones")
		after := l.Stats()
		assert.Greater(t, after.Expired, before.Expired, "the tokens left were dropped")
	})
}

// A lease whose reply comes after its lifetime is over is dropped whole:
// the round trip took longer than E, so its tokens may be older than E.
func TestRateLimiterLeaseArrivingDeadIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.clientLatency(t, 150*time.Millisecond), "k", 100, 10,
			WithRequestTimeout(time.Second))
		defer l.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		assert.ErrorIs(t, take(ctx, l), context.DeadlineExceeded)
		s := l.Stats()
		assert.Positive(t, s.Granted)
		assert.Equal(t, s.Granted, s.Expired)
	})
}

// With tokens on hand, Start neither calls Redis nor waits, also while
// Redis hangs.
func TestRateLimiterHotPathNeverWaitsOnRedis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 1000, 20)
		defer l.Close()
		ctx := t.Context()
		for i := 0; i < 50 || !l.hasToken() && i < 1000; i++ {
			require.NoError(t, take(ctx, l))
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		require.True(t, l.hasToken())
		r.hang()
		for l.hasToken() {
			begin := time.Now()
			requests := l.Stats().Requests
			require.NoError(t, take(ctx, l))
			assert.Zero(t, time.Since(begin), "no wait")
			if l.cur.Load() != nil && l.cur.Load().n.Load() > 0 {
				assert.Equal(t, requests, l.Stats().Requests, "no request for a token on hand")
			}
		}
	})
}

func TestRateLimiterMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.clientLatency(t, 30*time.Millisecond), "k", 10, 1, WithMaxWait(10*time.Millisecond))
		defer l.Close()
		begin := time.Now()
		err := take(t.Context(), l)
		var re *crew.RejectedError
		require.ErrorAs(t, err, &re)
		assert.ErrorIs(t, err, crew.ErrRateLimited)
		assert.Equal(t, "ratelimit", re.Guard)
		assert.Equal(t, 10*time.Millisecond, time.Since(begin))
	})
}

func TestRateLimiterMaxWaitZeroTakesOnlyTokensOnHand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateLimiter(newTestRedis(t).client(t), "k", 10, 1, WithMaxWait(0), WithName("quota"))
		defer l.Close()
		var re *crew.RejectedError
		require.ErrorAs(t, take(t.Context(), l), &re)
		assert.Equal(t, "quota", re.Guard)
		synctest.Wait() // the lease the refusal asked for arrives
		assert.NoError(t, take(t.Context(), l))
	})
}

func TestRateLimiterWaitEndsWithCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 1, 1)
		defer l.Close()
		require.NoError(t, take(t.Context(), l)) // the only token for a second
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- take(ctx, l) }()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		assert.Zero(t, l.waiting.Load())
	})
}

// Jobs waiting for a token start in the order they came.
func TestRateLimiterLineIsFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 10, 1)
		defer l.Close()
		require.NoError(t, take(t.Context(), l))
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				assert.NoError(t, take(t.Context(), l))
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			})
			synctest.Wait() // i is in line before i+1 comes
		}
		wg.Wait()
		assert.Equal(t, []int{0, 1, 2, 3, 4}, order)
	})
}

func TestRateLimiterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 1, 1)
		require.NoError(t, take(t.Context(), l))
		done := make(chan error)
		go func() { done <- take(t.Context(), l) }()
		synctest.Wait()
		require.NoError(t, l.Close())
		assert.ErrorIs(t, <-done, crew.ErrClosed, "a waiting Start")
		_, err := l.Admit(t.Context())
		assert.ErrorIs(t, err, crew.ErrClosed)
		_, err = l.Start(t.Context(), 0)
		assert.ErrorIs(t, err, crew.ErrClosed)
		assert.NoError(t, l.Close(), "idempotent")
	})
}

// The limiter in a Chain paces a pool's jobs.
func TestRateLimiterInChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 100, 10)
		defer l.Close()
		pool := crew.Chain(crew.NewPool[time.Time](4), l)
		begin := time.Now()
		var fs []*crew.Future[time.Time]
		for range 60 {
			f, err := pool.Submit(t.Context(), func(context.Context) (time.Time, error) { return time.Now(), nil })
			require.NoError(t, err)
			fs = append(fs, f)
		}
		var last time.Time
		for _, f := range fs {
			at, err := f.Wait(t.Context())
			require.NoError(t, err)
			if at.After(last) {
				last = at
			}
		}
		require.NoError(t, pool.Close(t.Context()))
		// 10 at once, then 50 more at 100 a second.
		assert.GreaterOrEqual(t, last.Sub(begin), 500*time.Millisecond)
		assert.Equal(t, uint64(60), pool.Stats().Completed)
	})
}

var _ crew.Guard = (*RateLimiter)(nil)

func TestFailModeString(t *testing.T) {
	assert.Equal(t, "closed", FailClosed.String())
	assert.Equal(t, "open", FailOpen.String())
	assert.Equal(t, "local(25/s, 5)", FailLocal(25, 5).String())
	assert.True(t, errors.Is(errLimiterClosed, crew.ErrClosed))
}
