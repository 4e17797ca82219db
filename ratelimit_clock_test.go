package crew

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRateLimiterBucketTimesInOrder: a Start that reads the clock and then
// loses the CPU before it takes its token must not get a token for that
// stale time after others took the tokens of later ones, or more jobs start
// than guarantee 7 allows. (x/time's bucket, which crew used before, moved
// its clock back to such a time and refilled the span twice:
// golang/go#56287.) The GCRA takes at max(word, time), so the stale reading
// finds no token and the Start waits, and reads the clock again.
func TestRateLimiterBucketTimesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := NewRateLimiter(1, 10, WithMaxWait(0))
		take := func() bool {
			if _, err := l.Admit(ctx); err != nil {
				return false
			}
			_, err := l.Start(ctx, 0)
			require.NoError(t, err, "admitted with WithMaxWait(0), so the token is there")
			return true
		}
		for range 10 {
			require.True(t, take())
		}
		time.Sleep(time.Second) // one token

		_, err := l.Admit(ctx)
		require.NoError(t, err)
		paused, resume := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		l.afterClock = func() {
			if first.CompareAndSwap(false, true) {
				close(paused)
				<-resume
			}
		}
		started := make(chan error)
		go func() {
			_, err := l.Start(ctx, 0) // reads the clock at 1s, then stalls
			started <- err
		}()
		<-paused
		time.Sleep(4 * time.Second) // 5s: five tokens
		require.True(t, take())     // 4 left
		close(resume)
		require.NoError(t, <-started) // 3 left

		n := 0
		for take() {
			n++
		}
		// From 0 to 5s at most burst + 5 = 15 jobs start: 10 at 0, two at
		// 5s (the stalled one starts then), so 3 more at 5s.
		assert.Equal(t, 3, n, "jobs started at 5s after the stalled one")
	})
}

// TestRateLimiterCancelledWaitTimeInOrder: a cancelled wait and a Start
// stalled on a stale clock reading, together, make no token twice: the
// stalled Start takes its token at the clock's time when it resumes, and
// the span before is not refilled.
func TestRateLimiterCancelledWaitTimeInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := NewRateLimiter(1, 10)
		t0 := time.Now()
		for range 10 {
			_, err := l.Admit(ctx)
			require.NoError(t, err)
			_, err = l.Start(ctx, 0)
			require.NoError(t, err)
		}

		_, err := l.Admit(ctx)
		require.NoError(t, err)
		paused, resume := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		l.afterClock = func() {
			if first.CompareAndSwap(false, true) {
				close(paused)
				<-resume
			}
		}
		started := make(chan error)
		go func() {
			_, err := l.Start(ctx, 0) // reads the clock at 0, then stalls
			started <- err
		}()
		<-paused

		wctx, cancel := context.WithCancel(ctx)
		_, err = l.Admit(wctx)
		require.NoError(t, err)
		waited := make(chan error)
		go func() {
			_, err := l.Start(wctx, 0) // waits for the token due at 1s
			waited <- err
		}()
		time.Sleep(500 * time.Millisecond)
		cancel() // gives the token back at 0.5s
		require.ErrorIs(t, <-waited, context.Canceled)

		time.Sleep(4500 * time.Millisecond)
		close(resume) // at 5s: it takes the token due at 1s
		require.NoError(t, <-started)
		require.Equal(t, 5*time.Second, time.Since(t0),
			"the wait is counted from the clock, not from the stale reading")

		time.Sleep(500 * time.Millisecond)
		l.cfg.maxWait = 0 // count the tokens there at 5.5s
		n := 0
		for {
			if _, err := l.Admit(ctx); err != nil {
				break
			}
			_, err := l.Start(ctx, 0)
			require.NoError(t, err)
			n++
		}
		// From 0 to 5.5s at most burst + 5.5 = 15.5 jobs start: 10 at 0,
		// the stalled one at 5s, so 4 more at 5.5s.
		assert.Equal(t, 4, n, "jobs started at 5.5s after the stalled one")
	})
}

// TestRateLimiterStartDoesNotTakeAWaitersToken: a Start that comes when a
// waiting job's token is due, but before that job has woken to take it,
// goes behind it in line; it does not take the token without the lock.
func TestRateLimiterStartDoesNotTakeAWaitersToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := NewRateLimiter(10, 1)
		tk, err := l.Admit(ctx)
		require.NoError(t, err)
		_, err = l.Start(ctx, tk) // the token at 0
		require.NoError(t, err)
		t0 := time.Now()

		paused, resume := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		l.afterWake = func() {
			if first.CompareAndSwap(false, true) {
				close(paused)
				<-resume
			}
		}
		started := func(tk Ticket) chan time.Duration {
			c := make(chan time.Duration, 1)
			go func() {
				_, err := l.Start(ctx, tk)
				assert.NoError(t, err)
				c <- time.Since(t0)
			}()
			return c
		}
		tk, err = l.Admit(ctx)
		require.NoError(t, err)
		head := started(tk)
		<-paused // its timer rang at 100ms; it has not taken the token yet
		require.Equal(t, 100*time.Millisecond, time.Since(t0))
		tk, err = l.Admit(ctx)
		require.NoError(t, err)
		later := started(tk)
		synctest.Wait()
		close(resume)
		assert.Equal(t, 100*time.Millisecond, <-head)
		assert.Equal(t, 200*time.Millisecond, <-later)
	})
}
