package crew_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// TestSharedRateLimiterSharesTheBucket: jobs and other code take tokens
// from one rate.Limiter; Submit sees the tokens the other code took.
func TestSharedRateLimiterSharesTheBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := rate.NewLimiter(10, 2)
		require.True(t, lim.Allow())
		require.True(t, lim.Allow()) // the other code spent the burst
		g := crew.NewSharedRateLimiter(lim, crew.WithMaxWait(150*time.Millisecond))
		var log startLog
		p := crew.Chain(crew.NewPool[int](2), g)
		t0 := time.Now()
		_, err := p.Submit(context.Background(), log.job(1))
		require.NoError(t, err, "its token comes at 100ms")
		_, err = p.Submit(context.Background(), log.job(2))
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 50*time.Millisecond)
		closePool(t, p)
		assert.Equal(t, []time.Duration{100 * time.Millisecond}, log.offsets(t0))
		assert.False(t, lim.Allow(), "the job took its token from the shared bucket")
		s := g.Stats()
		assert.Equal(t, crew.RateLimiterStats{Limit: 10, Burst: 2, Admitted: 1, RefusedAtSubmit: 1, Started: 1, Waited: 1}, s)
	})
}

// TestSharedRateLimiterPacesStarts: without other users the adapter paces
// starts like the limiter it wraps.
func TestSharedRateLimiterPacesStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		p := crew.Chain(crew.NewPool[int](4), crew.NewSharedRateLimiter(rate.NewLimiter(10, 2)))
		t0 := time.Now()
		for i := range 5 {
			_, err := p.Submit(context.Background(), log.job(i))
			require.NoError(t, err)
		}
		closePool(t, p)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, 0, 100 * ms, 200 * ms, 300 * ms}, log.offsets(t0))
	})
}

// TestSharedRateLimiterCancelAndRefuse: a wait ctx ends is cancelled and
// its reservation given back to x/time; a wait longer than the deadline
// allows is refused at start.
func TestSharedRateLimiterCancelAndRefuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := rate.NewLimiter(1, 1)
		g := crew.NewSharedRateLimiter(lim)
		ctx := context.Background()
		tk, err := g.Admit(ctx)
		require.NoError(t, err)
		_, err = g.Start(ctx, tk)
		require.NoError(t, err)

		cctx, cancel := context.WithCancel(ctx)
		tk, err = g.Admit(cctx)
		require.NoError(t, err)
		done := make(chan error)
		go func() { _, err := g.Start(cctx, tk); done <- err }()
		synctest.Wait()
		assert.Equal(t, 1, g.Stats().Waiting)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		assert.InDelta(t, 0, lim.Tokens(), 1e-9, "the reservation went back")

		dl, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel2()
		lim.SetLimit(0.5) // after Admit: the token now comes in 2s
		tk, err = g.Admit(ctx)
		require.NoError(t, err)
		_, err = g.Start(dl, tk)
		var re *crew.RejectedError
		require.ErrorAs(t, err, &re)
		assert.ErrorIs(t, err, crew.ErrRateLimited)
		s := g.Stats()
		assert.Equal(t, uint64(1), s.Canceled)
		assert.Equal(t, uint64(1), s.RefusedAtStart)
		assert.Zero(t, s.Pending)
	})
}

// TestSharedRateLimiterCountsAWaiterOnce: a job waiting in Start has
// reserved its token, so Submit's estimate counts it once, not as both a
// reservation and a job ahead.
func TestSharedRateLimiterCountsAWaiterOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := crew.NewSharedRateLimiter(rate.NewLimiter(10, 1), crew.WithMaxWait(250*time.Millisecond))
		ctx := context.Background()
		tk, err := g.Admit(ctx)
		require.NoError(t, err)
		_, err = g.Start(ctx, tk) // the token at 0
		require.NoError(t, err)
		tk, err = g.Admit(ctx)
		require.NoError(t, err)
		started := make(chan error)
		go func() { _, err := g.Start(ctx, tk); started <- err }() // reserves the token of 100ms
		synctest.Wait()
		_, err = g.Admit(ctx)
		require.NoError(t, err, "second in line: 200ms")
		_, err = g.Admit(ctx)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 50*time.Millisecond)
		require.NoError(t, <-started)
	})
}
