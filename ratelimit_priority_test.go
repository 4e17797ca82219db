package crew_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestRateLimiterUrgentJobsAdmittedAndStartedFirst is the trial that found
// the limiter blind to priority: Chain(NewPriorityPool(8), limiter), 300
// jobs of priority 0 and 100 of priority 10 submitted together (one urgent
// in four), a deadline on every job. The limiter judged every job's wait by
// the whole line, and admitted 7 of the 100 urgent jobs. Now an urgent
// job's wait counts only the urgent jobs ahead of it: all 100 are admitted
// and all start, before any job of priority 0 but those that took the
// burst at once.
func TestRateLimiterUrgentJobsAdmittedAndStartedFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, burst = 50, 5 // 5 + 149 tokens before a 3s deadline
		p := crew.Chain(crew.NewPriorityPool[int](8), crew.NewRateLimiter(limit, burst))
		t0 := time.Now()
		var mu sync.Mutex
		started := map[int][]time.Duration{} // by priority
		var futures []*crew.Future[int]
		admitted := map[int]int{}
		for i := range 400 {
			prio := 0
			if i%4 == 3 {
				prio = 10
			}
			ctx, cancel := context.WithTimeout(crew.WithPriority(context.Background(), prio), 3*time.Second)
			defer cancel()
			f, err := p.Submit(ctx, func(context.Context) (int, error) {
				mu.Lock()
				started[prio] = append(started[prio], time.Since(t0))
				mu.Unlock()
				return prio, nil
			})
			if err != nil {
				require.ErrorIs(t, err, crew.ErrRateLimited)
				continue
			}
			admitted[prio]++
			if prio == 10 {
				futures = append(futures, f)
			}
		}
		assert.Equal(t, 100, admitted[10], "urgent jobs admitted")
		assert.Positive(t, admitted[0], "jobs of priority 0 admitted while the whole line fits")
		for _, f := range futures {
			v, err := f.Wait(context.Background())
			require.NoError(t, err, "every urgent job starts before its deadline")
			assert.Equal(t, 10, v)
		}
		closePool(t, p)
		lastUrgent := started[10][len(started[10])-1]
		early := 0
		for _, d := range started[0] {
			if d < lastUrgent {
				early++
			}
		}
		assert.LessOrEqual(t, early, burst, "jobs of priority 0 that started before the last urgent one")
		t.Logf("admitted: %v; priority 0 started %d, %d before the last urgent job (%v)", admitted, len(started[0]), early, lastUrgent)
	})
}

// TestRateLimiterAdmitCountsOnlyJobsAhead: at Submit a job's wait counts
// the jobs admitted before it of higher or equal priority, not those below.
func TestRateLimiterAdmitCountsOnlyJobsAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(10, 1, crew.WithMaxWait(250*time.Millisecond))
		normal := context.Background()
		urgent := crew.WithPriority(context.Background(), 5)
		low := crew.WithPriority(context.Background(), -1)
		for range 3 { // tokens at 0, 100ms, 200ms
			_, err := l.Admit(normal)
			require.NoError(t, err)
		}
		_, err := l.Admit(normal)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 50*time.Millisecond) // 300ms
		for range 3 {
			_, err := l.Admit(urgent)
			require.NoError(t, err, "the jobs of priority 0 are not ahead of it")
		}
		_, err = l.Admit(urgent)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 50*time.Millisecond)
		_, err = l.Admit(normal)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 350*time.Millisecond) // six ahead
		_, err = l.Admit(low)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 350*time.Millisecond)
		assert.Equal(t, 6, l.Stats().Pending)
	})
}

// TestRateLimiterTokensGoToHigherPriorityFirst: among Starts waiting for
// tokens, higher priorities get them first, first come first served among
// equals.
func TestRateLimiterTokensGoToHigherPriorityFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(10, 1)
		t0 := time.Now()
		var mu sync.Mutex
		got := map[string]time.Duration{}
		var wg sync.WaitGroup
		start := func(name string, prio int) {
			ctx := crew.WithPriority(context.Background(), prio)
			tk, err := l.Admit(ctx)
			require.NoError(t, err)
			wg.Go(func() {
				_, err := l.Start(ctx, tk)
				assert.NoError(t, err)
				mu.Lock()
				got[name] = time.Since(t0)
				mu.Unlock()
			})
			synctest.Wait() // in line before the next one comes
		}
		start("first", 0) // takes the token at once
		start("A", 0)
		start("B", 0)
		start("U", 3)
		start("C", 0)
		start("V", 3)
		wg.Wait()
		ms := time.Millisecond
		assert.Equal(t, map[string]time.Duration{
			"first": 0, "U": 100 * ms, "V": 200 * ms, "A": 300 * ms, "B": 400 * ms, "C": 500 * ms,
		}, got)
		s := l.Stats()
		assert.Equal(t, uint64(6), s.Started)
		assert.Equal(t, uint64(5), s.Waited)
	})
}

// TestRateLimiterOvertakenWaiterRefusedAtOnce: a waiting job that an
// urgent one overtakes, and that can then no longer get its token within
// its max wait, is refused at once, not when the max wait has passed.
func TestRateLimiterOvertakenWaiterRefusedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(10, 1, crew.WithMaxWait(150*time.Millisecond))
		ctx := context.Background()
		tk, err := l.Admit(ctx)
		require.NoError(t, err)
		_, err = l.Start(ctx, tk) // the token at 0
		require.NoError(t, err)
		tk, err = l.Admit(ctx)
		require.NoError(t, err, "its token comes at 100ms")
		t0 := time.Now()
		refused := make(chan error)
		go func() {
			_, err := l.Start(ctx, tk)
			refused <- err
		}()
		synctest.Wait()
		urgent := crew.WithPriority(ctx, 1)
		utk, err := l.Admit(urgent)
		require.NoError(t, err)
		done := make(chan error)
		go func() {
			_, err := l.Start(urgent, utk)
			done <- err
		}()
		err = <-refused
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 50*time.Millisecond) // 200ms now
		assert.Equal(t, t0, time.Now(), "refused when overtaken")
		require.NoError(t, <-done)
		assert.Equal(t, 100*time.Millisecond, time.Since(t0))
		assert.Equal(t, uint64(1), l.Stats().RefusedAtStart)
	})
}

// TestRateLimiterPriorityTravelsInTheTicket: a job's priority at Start and
// Abandon is the one it was admitted with, so the books balance.
func TestRateLimiterPriorityTravelsInTheTicket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(1, 1)
		for _, prio := range []int{7, -7, 0, 1 << 40, -1 << 40} {
			ctx := crew.WithPriority(context.Background(), prio)
			tk, err := l.Admit(ctx)
			require.NoError(t, err)
			l.Abandon(tk)
		}
		s := l.Stats()
		assert.Zero(t, s.Pending)
		assert.Equal(t, uint64(5), s.Abandoned)
		// Nobody is ahead of a new urgent job: it takes the token at once.
		ctx, cancel := context.WithTimeout(crew.WithPriority(context.Background(), 7), time.Millisecond)
		defer cancel()
		tk, err := l.Admit(ctx)
		require.NoError(t, err)
		_, err = l.Start(ctx, tk)
		require.NoError(t, err)
		_, err = l.Admit(ctx)
		assert.True(t, errors.Is(err, crew.ErrRateLimited), "the token is spent")
	})
}
