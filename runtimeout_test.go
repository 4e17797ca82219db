package crew_test

// Run timeouts (guarantee 14): the deadline counts from the job's start,
// anew for every attempt; queueing and a guard's wait do not count.

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestRunTimeoutCountsOnlyTheRun pins guarantee 14: the deadline starts
// when the job starts, not when it is submitted; queueing and waiting for
// a guard do not count.
func TestRunTimeoutCountsOnlyTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := crew.NewRateLimiter(1, 1)
		p := crew.Chain(crew.NewPool[int](1), lim)
		blk := occupy(t, p) // takes the token, holds the worker
		ctx := crew.WithRunTimeout(context.Background(), time.Second)
		submitted := time.Now()
		var started time.Time
		f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
			started = time.Now()
			dl, ok := ctx.Deadline()
			require.True(t, ok)
			assert.Equal(t, started.Add(time.Second), dl)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		require.NoError(t, err)
		time.Sleep(5 * time.Second) // queued behind blk
		close(blk.release)
		_, err = f.Wait(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, started.Sub(submitted), "queued, then the token came at once")
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestRunTimeoutUnderRetryIsPerAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Retry(crew.NewPool[int](1), crew.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
		var runs []time.Duration
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := crew.Do(crew.WithRunTimeout(ctx, time.Second), p, func(ctx context.Context) (int, error) {
			start := time.Now()
			<-ctx.Done()
			runs = append(runs, time.Since(start))
			return 0, ctx.Err()
		})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, runs, "each attempt got a second")
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestRunTimeoutTheCtxDeadlineStillBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[int](1)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := crew.Do(crew.WithRunTimeout(ctx, time.Hour), p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestWithRunTimeoutBadInput(t *testing.T) {
	assert.PanicsWithValue(t, "crew: WithRunTimeout(0s): the timeout must be > 0",
		func() { crew.WithRunTimeout(context.Background(), 0) })
	assert.Panics(t, func() { crew.WithRunTimeout(context.Background(), -time.Second) })
	assert.Panics(t, func() { crew.WithRunTimeout(nilCtx, time.Second) })
}

// TestRunTimeoutDoesNotCountAGuardsWait: a job that waits a second in the
// rate limiter's Start for its token, with a run timeout of 100ms, still
// runs, with its deadline 100ms after it started. Were the timeout running
// during the wait, the limiter would find the job's deadline before its
// token and refuse it, or the job would start with its ctx ended.
// (TestRunTimeoutCountsOnlyTheRun's job finds its token there.)
func TestRunTimeoutDoesNotCountAGuardsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[time.Duration](1), crew.NewRateLimiter(1, 1))
		_, err := crew.Do(context.Background(), p, func(context.Context) (time.Duration, error) { return 0, nil })
		require.NoError(t, err, "takes the token: the next comes in 1s")
		ctx := crew.WithRunTimeout(context.Background(), 100*time.Millisecond)
		submitted := time.Now()
		var started time.Time
		left, err := crew.Do(ctx, p, func(ctx context.Context) (time.Duration, error) {
			started = time.Now()
			dl, ok := ctx.Deadline()
			if !ok {
				return 0, errors.New("the job's ctx has no deadline")
			}
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			return dl.Sub(started), nil
		})
		require.NoError(t, err)
		assert.Equal(t, time.Second, started.Sub(submitted), "the job waited for its token")
		assert.Equal(t, 100*time.Millisecond, left, "the deadline counts from the start")
		require.NoError(t, p.Close(context.Background()))
	})
}
