package crew_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// TestRateLimiterRetryAfterHonouredExactly is the hardening report's repro:
// at 3/s with burst 2 and no waiting, the third Submit said RetryAfter
// 333.333334ms, and a retry after exactly that was refused again ("retry
// after 1ns"). Now a retry after exactly RetryAfter is admitted, and one a
// nanosecond sooner is told to wait that nanosecond.
func TestRateLimiterRetryAfterHonouredExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](4), crew.NewRateLimiter(3, 2, crew.WithMaxWait(0)))
		job := func(context.Context) (int, error) { return 0, nil }
		for range 2 {
			_, err := p.Submit(context.Background(), job)
			require.NoError(t, err)
		}
		// Both jobs start: a Submit that met one as it took its token
		// would count it twice (RateLimiter's doc says so).
		synctest.Wait()
		_, err := p.Submit(context.Background(), job)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 333_333_334) // 1/3 s, rounded up
		time.Sleep(333_333_333)
		_, err = p.Submit(context.Background(), job)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 1)
		time.Sleep(time.Nanosecond)
		_, err = p.Submit(context.Background(), job)
		assert.NoError(t, err)
		closePool(t, p)
	})
}

// TestRateLimiterTinyLimitIsNotUnlimited is the hardening report's repro:
// at 1e-300 starts a second with burst 1 the second job started at once. A
// positive limit never becomes unlimited: too small for one token in 2^62
// ns it refills nothing, and the second job is refused at Submit; a small
// one that does refill keeps its interval.
func TestRateLimiterTinyLimitIsNotUnlimited(t *testing.T) {
	for _, limit := range []rate.Limit{1e-300, 1e-290, 2e-10, math.SmallestNonzeroFloat64} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log startLog
				p := crew.Chain(crew.NewPool[int](2), crew.NewRateLimiter(limit, 1))
				_, err := p.Submit(context.Background(), log.job(1))
				require.NoError(t, err)
				_, err = p.Submit(context.Background(), log.job(2))
				assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 0) // no token will come
				closePool(t, p)
				assert.Len(t, log.times(), 1)
			})
		})
	}
	t.Run("one token in 31.7 years", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := crew.NewRateLimiter(1e-9, 1, crew.WithMaxWait(time.Hour))
			ctx := context.Background()
			tk, err := l.Admit(ctx)
			require.NoError(t, err)
			_, err = l.Start(ctx, tk)
			require.NoError(t, err)
			_, err = l.Admit(ctx)
			var re *crew.RejectedError
			require.ErrorAs(t, err, &re)
			assert.InEpsilon(t, 1e18-float64(time.Hour), float64(re.RetryAfter), 1e-12)
		})
	})
}

// TestRateLimiterSettingsChecked: every limit and burst is either refused
// at construction with a crew: panic or works, huge values included.
func TestRateLimiterSettingsChecked(t *testing.T) {
	panics := []struct {
		name string
		give func()
	}{
		{"NaN limit", func() { crew.NewRateLimiter(rate.Limit(math.NaN()), 1) }},
		{"negative limit", func() { crew.NewRateLimiter(-1, 1) }},
		{"-Inf limit", func() { crew.NewRateLimiter(rate.Limit(math.Inf(-1)), 1) }},
		{"negative burst", func() { crew.NewRateLimiter(1, -1) }},
		{"MinInt burst", func() { crew.NewRateLimiter(1, math.MinInt) }},
		{"zero burst, finite limit", func() { crew.NewRateLimiter(1e300, 0) }},
		{"SetLimit NaN", func() { crew.NewRateLimiter(1, 1).SetLimit(rate.Limit(math.NaN())) }},
		{"SetLimit finite, burst 0", func() { crew.NewRateLimiter(rate.Inf, 0).SetLimit(1) }},
		{"SetBurst negative", func() { crew.NewRateLimiter(1, 1).SetBurst(-1) }},
		{"SetBurst 0, finite limit", func() { crew.NewRateLimiter(1, 1).SetBurst(0) }},
		{"shared over nil", func() { crew.NewSharedRateLimiter(nil) }},
	}
	for _, tt := range panics {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "no panic")
				assert.True(t, strings.HasPrefix(fmt.Sprint(r), "crew: "), "panic %q lacks the crew: prefix", r)
			}()
			tt.give()
		})
	}

	works := []struct {
		name  string
		limit rate.Limit
		burst int
		at0   int // jobs that start at once, of 10 submitted with WithMaxWait(0)
	}{
		{"+Inf is rate.Inf", rate.Limit(math.Inf(1)), 0, 10},
		{"rate.Inf", rate.Inf, 0, 10},
		{"finite near MaxFloat64: one start a nanosecond", rate.Limit(math.Nextafter(math.MaxFloat64, 0)), 1, 1},
		{"1e300: one start a nanosecond", 1e300, 3, 3},
		{"MaxInt burst", 1, math.MaxInt, 10},
		{"-0 is 0", rate.Limit(math.Copysign(0, -1)), 4, 4},
	}
	for _, tt := range works {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := crew.NewRateLimiter(tt.limit, tt.burst, crew.WithMaxWait(0))
				ctx := context.Background()
				n := 0
				for range 10 {
					if tk, err := l.Admit(ctx); err == nil {
						_, err = l.Start(ctx, tk)
						require.NoError(t, err, "admitted with a token there")
						n++
					}
				}
				assert.Equal(t, tt.at0, n)
				l.SetBurst(math.MaxInt) // never panics with a limit already accepted
				l.SetLimit(tt.limit)
				assert.Equal(t, math.MaxInt, l.Burst())
			})
		})
	}
}

// TestRateLimiterSetLimitBindsWaitingJobs: lowering the limit applies to
// jobs already waiting for their tokens: their times are worked out anew
// from the tokens the bucket holds, and a job that can no longer make its
// deadline is refused then, not at the deadline. Raising it hurries them.
func TestRateLimiterSetLimitBindsWaitingJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		l := crew.NewRateLimiter(10, 1)
		p := crew.Chain(crew.NewPool[int](4), l)
		t0 := time.Now()
		submit := func(ctx context.Context, v int) *crew.Future[int] {
			f, err := p.Submit(ctx, log.job(v))
			require.NoError(t, err)
			synctest.Wait() // in line before the next
			return f
		}
		submit(context.Background(), 1) // at 0
		submit(context.Background(), 2) // due at 100ms
		dl, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		late := submit(dl, 3)           // due at 200ms, deadline 1s
		submit(context.Background(), 4) // due at 300ms
		time.Sleep(50 * time.Millisecond)
		l.SetLimit(1) // half a token short at 50ms: job 2 at 550ms, job 3 at 1.55s
		_, err := late.Wait(context.Background())
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 550*time.Millisecond+1)
		assert.Equal(t, 50*time.Millisecond, time.Since(t0), "refused when the limit fell")
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		l.SetLimit(100) // at 550ms: job 2 has started; job 4 is a whole token short: 10ms
		closePool(t, p)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, 550 * ms, 560 * ms}, log.offsets(t0))
		s := l.Stats()
		assert.Equal(t, uint64(3), s.Started)
		assert.Equal(t, uint64(1), s.RefusedAtStart)
	})
}

// TestRateLimiterSetLimitZeroRefusesWaitersAtOnce: with no token left and
// none to come, the jobs waiting are refused at once.
func TestRateLimiterSetLimitZeroRefusesWaitersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		l := crew.NewRateLimiter(10, 1)
		p := crew.Chain(crew.NewPool[int](4), l)
		var futures []*crew.Future[int]
		for i := range 3 {
			f, err := p.Submit(context.Background(), log.job(i))
			require.NoError(t, err)
			futures = append(futures, f)
		}
		synctest.Wait()
		time.Sleep(50 * time.Millisecond)
		l.SetLimit(0) // half a token: none whole
		for _, f := range futures[1:] {
			_, err := f.Wait(context.Background())
			assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 0)
		}
		_, err := p.Submit(context.Background(), log.job(9))
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 0)
		closePool(t, p)
		assert.Len(t, log.times(), 1)
	})
}

// TestRateLimiterNoTokenOnADeadline: a token due exactly at the job's
// deadline is too late: the job could only start with its ctx ended.
func TestRateLimiterNoTokenOnADeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(10, 1)
		ctx := context.Background()
		tk, err := l.Admit(ctx)
		require.NoError(t, err)
		_, err = l.Start(ctx, tk)
		require.NoError(t, err)
		on, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = l.Admit(on)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 1)
		after, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond+1)
		defer cancel2()
		tk, err = l.Admit(after)
		require.NoError(t, err)
		_, err = l.Start(after, tk)
		assert.NoError(t, err)
	})
}

// TestRateLimiterStats checks each counter against a known history.
func TestRateLimiterStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(10, 2, crew.WithMaxWait(150*time.Millisecond))
		ctx := context.Background()
		admit := func() crew.Ticket {
			tk, err := l.Admit(ctx)
			require.NoError(t, err)
			return tk
		}
		var tks []crew.Ticket
		for range 4 { // 0, 0, 100ms, 200ms > 150ms: three admitted
			if tk, err := l.Admit(ctx); err == nil {
				tks = append(tks, tk)
			}
		}
		require.Len(t, tks, 3)
		for _, tk := range tks[:2] {
			_, err := l.Start(ctx, tk)
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := l.Start(ctx, tks[2]) // waits for 100ms
			assert.NoError(t, err)
		})
		synctest.Wait()
		s := l.Stats()
		assert.Equal(t, 1, s.Waiting)
		assert.Equal(t, 1, s.Pending)
		wg.Wait()
		l.Abandon(admit())
		cctx, cancel := context.WithCancel(ctx)
		tk := admit()
		cancel()
		_, err := l.Start(cctx, tk)
		require.ErrorIs(t, err, context.Canceled)
		l.SetBurst(1)
		l.SetLimit(5)
		assert.Equal(t, crew.RateLimiterStats{
			Limit: 5, Burst: 1,
			Admitted: 5, RefusedAtSubmit: 1, Started: 3, Waited: 1,
			Canceled: 1, Abandoned: 1,
		}, l.Stats())
	})
}

// TestRateLimiterNoStartANanosecondEarly: the k-th token after the burst
// comes k intervals after the first start, the interval being 1/limit
// rounded up to the nanosecond, and not a nanosecond sooner: a Start
// asking a nanosecond before waits that nanosecond, and a Submit with no
// wait allowed is told to retry after it.
func TestRateLimiterNoStartANanosecondEarly(t *testing.T) {
	for _, tt := range []struct {
		limit    rate.Limit
		interval time.Duration
	}{
		{3, 333_333_334},
		{7, 142_857_143},
		{10_000, 100_000},
		{1.0 / 3, 3*time.Second + 1}, // the float64 nearest 1/3 is a little less
		{999_999, 1001},
		{0.5, 2 * time.Second},
		{3e8, 4}, // 3.33ns rounds up to 4
	} {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const burst = 3
				l := crew.NewRateLimiter(tt.limit, burst)
				strict := crew.NewRateLimiter(tt.limit, burst, crew.WithMaxWait(0))
				ctx := context.Background()
				t0 := time.Now()
				require.Equal(t, burst, takeAll(t, strict, burst+1), "the burst at once")
				require.Equal(t, burst, takeAll(t, l, burst), "the burst at once")
				for k := 1; k <= 5; k++ {
					due := time.Duration(k) * tt.interval
					time.Sleep(due - 1 - time.Since(t0))
					_, err := strict.Admit(ctx)
					assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 1)
					tk, err := l.Admit(ctx)
					require.NoError(t, err)
					_, err = l.Start(ctx, tk)
					require.NoError(t, err)
					assert.Equal(t, due, time.Since(t0), "start %d after the burst", k)
					require.Equal(t, 1, takeAll(t, strict, 2), "the token is there at its time")
				}
			})
		})
	}
}

// TestRateLimiterEndedCtxTakesNoToken: a Start whose ctx has already ended
// returns its error and leaves the token for the next job.
func TestRateLimiterEndedCtxTakesNoToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(1, 1, crew.WithMaxWait(0))
		ctx, cancel := context.WithCancel(context.Background())
		tk, err := l.Admit(ctx)
		require.NoError(t, err)
		cancel()
		_, err = l.Start(ctx, tk)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, takeAll(t, l, 2), "the token is still there")
		assert.Equal(t, uint64(1), l.Stats().Canceled)
	})
}
