package crew_test

import (
	"context"
	"fmt"
	"math"
	"slices"
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

// startLog records when jobs start, in the bubble's fake time.
type startLog struct {
	mu sync.Mutex
	at []time.Time
}

func (l *startLog) job(v int) crew.Job[int] {
	return func(context.Context) (int, error) {
		l.mu.Lock()
		l.at = append(l.at, time.Now())
		l.mu.Unlock()
		return v, nil
	}
}

func (l *startLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := slices.Clone(l.at)
	slices.SortFunc(at, time.Time.Compare)
	return at
}

// offsets returns the start times as durations since t0.
func (l *startLog) offsets(t0 time.Time) []time.Duration {
	var d []time.Duration
	for _, t := range l.times() {
		d = append(d, t.Sub(t0))
	}
	return d
}

// assertRejected checks guarantee 11 on err: a *RejectedError from guard,
// matching sentinel with errors.Is, with RetryAfter after.
func assertRejected(t *testing.T, err error, guard string, sentinel error, after time.Duration) {
	t.Helper()
	var re *crew.RejectedError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, sentinel)
	assert.Equal(t, guard, re.Guard)
	assert.Equal(t, after, re.RetryAfter)
}

// checkWindowBound checks guarantee 7 on start times in order, with no
// tolerance: every run of starts, from its first to its last w apart,
// numbers at most burst + limit*w.
func checkWindowBound(t *testing.T, starts []time.Time, limit rate.Limit, burst int) {
	t.Helper()
	for i := range starts {
		for j := i + 1; j < len(starts); j++ {
			if n, w := j-i+1, starts[j].Sub(starts[i]); !withinBound(n, w, limit, burst) {
				t.Fatalf("%d starts within %v; at most %v + %v*w allowed", n, w, burst, limit)
			}
		}
	}
}

// withinBound reports whether n <= burst + limit*w, exactly: it is
// (n-burst)*1e9 <= limit*w in nanoseconds, and one fused multiply-add
// rounds limit*w - (n-burst)*1e9 only once, which keeps its sign (both
// integers are below 2^53, so exact as float64).
func withinBound(n int, w time.Duration, limit rate.Limit, burst int) bool {
	return math.FMA(float64(limit), float64(w), -float64(n-burst)*1e9) >= 0
}

// TestRateLimiterBoundsStartsInEveryWindow checks guarantee 7's bound: in
// any window of length w, starts <= burst + limit*w.
func TestRateLimiterBoundsStartsInEveryWindow(t *testing.T) {
	tests := []struct {
		name    string
		limit   rate.Limit
		burst   int
		workers int
		jobs    int
	}{
		{name: "burst 1", limit: 100, burst: 1, workers: 4, jobs: 200},
		{name: "burst 10", limit: 50, burst: 10, workers: 16, jobs: 200},
		{name: "more workers than burst", limit: 1000, burst: 3, workers: 64, jobs: 400},
		{name: "one worker", limit: 20, burst: 5, workers: 1, jobs: 60},
		{name: "below 1/s", limit: rate.Every(10 * time.Second), burst: 2, workers: 4, jobs: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log startLog
				p := crew.Chain(crew.NewPool[int](tt.workers), crew.NewRateLimiter(tt.limit, tt.burst))
				for i := range tt.jobs {
					_, err := p.Submit(context.Background(), log.job(i))
					require.NoError(t, err)
				}
				closePool(t, p)
				at := log.times()
				require.Len(t, at, tt.jobs)
				checkWindowBound(t, at, tt.limit, tt.burst)
			})
		})
	}
}

// TestRateLimiterPrecision checks the rate achieved under fake time: at
// 10,000 starts a second, 1/limit is a whole 100µs and the rate is exact
// (20,000 starts in the first 2 s, the first at 0); at 3,333 a second the
// token interval rounds up to 300,031ns, less than 0.1% slow (0.0001%).
func TestRateLimiterPrecision(t *testing.T) {
	for _, tt := range []struct {
		limit rate.Limit
		want  int // starts in [0, 2s)
	}{
		{10_000, 20_000},
		{3_333, 6_666}, // 0, 300031ns, ..., 6665*300031ns = 1.9997s
	} {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log startLog
				p := crew.Chain(crew.NewPool[int](64), crew.NewRateLimiter(tt.limit, 1))
				t0 := time.Now()
				for i := range tt.want + 100 {
					_, err := p.Submit(context.Background(), log.job(i))
					require.NoError(t, err)
				}
				closePool(t, p)
				n := 0
				for _, d := range log.offsets(t0) {
					if d < 2*time.Second {
						n++
					}
				}
				assert.Equal(t, tt.want, n, "starts in the first 2 s")
				assert.InEpsilon(t, float64(tt.limit)*2, n, 0.001)
			})
		})
	}
}

// TestRateLimiterSubmitRejectsAtOnce checks that a job that could not start
// within its ctx deadline or the max wait is rejected at Submit, with
// RetryAfter, and that Submit never waits for a token.
func TestRateLimiterSubmitRejectsAtOnce(t *testing.T) {
	tests := []struct {
		name      string
		opts      []crew.RateLimitOption
		deadline  time.Duration // 0: none
		admitted  int           // of 6 Submits in a row
		wantAfter time.Duration
	}{
		{name: "max wait 0", opts: []crew.RateLimitOption{crew.WithMaxWait(0)}, admitted: 1, wantAfter: 100 * time.Millisecond},
		{name: "max wait 150ms", opts: []crew.RateLimitOption{crew.WithMaxWait(150 * time.Millisecond)}, admitted: 2, wantAfter: 50 * time.Millisecond},
		// A token must come strictly before the deadline: one due at 300ms
		// misses a deadline at 250ms by 50ms and a nanosecond.
		{name: "deadline 250ms", deadline: 250 * time.Millisecond, admitted: 3, wantAfter: 50*time.Millisecond + 1},
		{name: "deadline shorter than max wait", opts: []crew.RateLimitOption{crew.WithMaxWait(time.Second)}, deadline: 50 * time.Millisecond, admitted: 1, wantAfter: 50*time.Millisecond + 1},
		{name: "no bound", admitted: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				var log startLog
				p := crew.Chain(crew.NewPool[int](4), crew.NewRateLimiter(10, 1, tt.opts...))
				t0 := time.Now()
				var rejected []error
				for i := range 6 {
					if _, err := p.Submit(ctx, log.job(i)); err != nil {
						rejected = append(rejected, err)
					}
					// The job reaches Start or its wait: a Submit that met
					// a job as it took its token would count it twice.
					synctest.Wait()
				}
				assert.Equal(t, t0, time.Now(), "Submit waited")
				assert.Len(t, rejected, 6-tt.admitted)
				for _, err := range rejected {
					assertRejected(t, err, "ratelimit", crew.ErrRateLimited, tt.wantAfter)
				}
				closePool(t, p)
				assert.Len(t, log.times(), tt.admitted, "only admitted jobs run")
				assert.Equal(t, uint64(6-tt.admitted), p.Stats().Rejected)
			})
		})
	}
}

// TestRateLimiterCancelledWaitGivesTokenBack: a job whose ctx ends while it
// waits for its token gives the token back to the jobs behind it.
func TestRateLimiterCancelledWaitGivesTokenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		p := crew.Chain(crew.NewPool[int](4), crew.NewRateLimiter(1, 1))
		t0 := time.Now()
		_, err := p.Submit(context.Background(), log.job(1)) // takes the token
		require.NoError(t, err)
		synctest.Wait() // job 1 has started: job 2 cannot take its token first
		ctx, cancel := context.WithCancel(context.Background())
		waiting, err := p.Submit(ctx, log.job(2)) // waits for the token due at 1s
		require.NoError(t, err)
		synctest.Wait()
		time.Sleep(500 * time.Millisecond)
		cancel()
		_, err = waiting.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		_, err = p.Submit(context.Background(), log.job(3))
		require.NoError(t, err)
		closePool(t, p)
		assert.Equal(t, []time.Duration{0, time.Second}, log.offsets(t0),
			"the third job takes the token the second gave back")
		assert.Equal(t, uint64(1), p.Stats().Canceled)
	})
}

// TestRateLimiterJobThatNeverStartsLeavesTheLine: an admitted job dropped
// from the queue no longer counts in the backlog Submit estimates from.
func TestRateLimiterJobThatNeverStartsLeavesTheLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](1), crew.NewRateLimiter(10, 1, crew.WithMaxWait(150*time.Millisecond)))
		release := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil })
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		queued, err := p.Submit(ctx, func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err, "second in line: 100ms")
		_, err = p.Submit(context.Background(), func(context.Context) (int, error) { return 0, nil })
		require.ErrorIs(t, err, crew.ErrRateLimited, "third in line: 200ms")
		cancel()
		_, err = queued.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		synctest.Wait() // the engine tells the guards after it resolves the Future
		_, err = p.Submit(context.Background(), func(context.Context) (int, error) { return 0, nil })
		assert.NoError(t, err, "second in line again")
		close(release)
		closePool(t, p)
	})
}

// TestRateLimiterStartRefusesAWaitTooLong: when the wait at start turns out
// longer than the max wait (the limit dropped after Submit), the job is
// refused at start without running.
func TestRateLimiterStartRefusesAWaitTooLong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := crew.NewRateLimiter(10, 1, crew.WithMaxWait(150*time.Millisecond))
		p := crew.Chain(crew.NewPool[int](1), l)
		release := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil })
		require.NoError(t, err)
		ran := false
		f, err := p.Submit(context.Background(), func(context.Context) (int, error) { ran = true; return 0, nil })
		require.NoError(t, err)
		l.SetLimit(1) // the second job's token now comes in 1s
		close(release)
		_, err = f.Wait(context.Background())
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 850*time.Millisecond)
		closePool(t, p)
		assert.False(t, ran)
		assert.Equal(t, uint64(1), p.Stats().Canceled)
	})
}

// TestRateLimiterSetLimitAndBurst changes the rate while jobs run.
func TestRateLimiterSetLimitAndBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		l := crew.NewRateLimiter(1, 1)
		p := crew.Chain(crew.NewPool[int](4), l)
		t0 := time.Now()
		do := func(n int) {
			for i := range n {
				_, err := crew.Do(context.Background(), p, log.job(i))
				require.NoError(t, err)
			}
		}
		do(2) // 0s, 1s
		l.SetLimit(100)
		do(2) // 1.01s, 1.02s
		time.Sleep(time.Second)
		l.SetBurst(3)
		time.Sleep(time.Second) // the bucket fills up to the new burst
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { do(1) })
		}
		wg.Wait() // 3.02s three times
		closePool(t, p)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, time.Second, 1010 * ms, 1020 * ms, 3020 * ms, 3020 * ms, 3020 * ms}, log.offsets(t0))
		assert.Equal(t, rate.Limit(100), l.Limit())
		assert.Equal(t, 3, l.Burst())
	})
}

// TestRateLimiterZeroLimit: a zero limit lets burst jobs through, then
// refuses the rest at Submit, since no token can come, rather than taking
// them in and refusing them at start with a worker held.
func TestRateLimiterZeroLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		p := crew.Chain(crew.NewPool[int](1), crew.NewRateLimiter(0, 2))
		for i := range 2 {
			_, err := p.Submit(context.Background(), log.job(i))
			require.NoError(t, err)
		}
		_, err := p.Submit(context.Background(), log.job(2))
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 0) // no token will come
		closePool(t, p)
		assert.Len(t, log.times(), 2)
		assert.Zero(t, p.Stats().Canceled, "nothing refused at start")
	})
}

// TestRateLimiterInfinite lets everything through, even with burst 0.
func TestRateLimiterInfinite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log startLog
		p := crew.Chain(crew.NewPool[int](8), crew.NewRateLimiter(rate.Inf, 0, crew.WithMaxWait(0)))
		for i := range 100 {
			_, err := p.Submit(context.Background(), log.job(i))
			require.NoError(t, err)
		}
		closePool(t, p)
		assert.Len(t, log.times(), 100)
		assert.Equal(t, time.Duration(0), log.times()[99].Sub(log.times()[0]))
	})
}

func TestRateLimiterPanicsOnMisuse(t *testing.T) {
	tests := []struct {
		name string
		give func()
	}{
		{"negative limit", func() { crew.NewRateLimiter(-1, 1) }},
		{"NaN limit", func() { crew.NewRateLimiter(rate.Limit(math.NaN()), 1) }},
		{"negative burst", func() { crew.NewRateLimiter(1, -1) }},
		{"zero burst with a finite limit", func() { crew.NewRateLimiter(1, 0) }},
		{"negative max wait", func() { crew.WithMaxWait(-time.Second) }},
		{"SetBurst 0", func() { crew.NewRateLimiter(1, 1).SetBurst(0) }},
		{"SetLimit negative", func() { crew.NewRateLimiter(1, 1).SetLimit(-2) }},
		{"SetLimit finite with burst 0", func() { crew.NewRateLimiter(rate.Inf, 0).SetLimit(5) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "no panic")
				assert.True(t, strings.HasPrefix(fmt.Sprint(r), "crew: "), "panic %q lacks the crew: prefix", r)
			}()
			tt.give()
		})
	}
}

// TestRateLimiterRetryAfterIsWhenItFits: retrying after RetryAfter, with
// the same bound and nothing else submitted, is admitted, and a nanosecond
// earlier is not.
func TestRateLimiterRetryAfterIsWhenItFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](2), crew.NewRateLimiter(4, 2, crew.WithMaxWait(100*time.Millisecond)))
		job := func(context.Context) (int, error) { return 0, nil }
		var err error
		for err == nil {
			_, err = p.Submit(context.Background(), job)
		}
		var re *crew.RejectedError
		require.ErrorAs(t, err, &re)
		require.Positive(t, re.RetryAfter)
		time.Sleep(re.RetryAfter - 1)
		synctest.Wait()
		_, err = p.Submit(context.Background(), job)
		assertRejected(t, err, "ratelimit", crew.ErrRateLimited, 1)
		time.Sleep(time.Nanosecond)
		_, err = p.Submit(context.Background(), job)
		require.NoError(t, err)
		closePool(t, p)
	})
}

var _ crew.Guard = (*crew.RateLimiter)(nil)
