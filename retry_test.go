package crew_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// Guarantee 13 (Retry) and guarantee 14 (run timeout).

// retryBases are the ways Retry meets its base: a crew pool, a Chain of
// one (attempts pass the guards), and a Pool crew cannot see into.
var retryBases = []struct {
	name string
	new  func(workers int, guards ...crew.Guard) crew.Pool[int]
}{
	{"pool", func(w int, g ...crew.Guard) crew.Pool[int] { return crew.Chain(crew.NewPool[int](w), g...) }},
	{"priority", func(w int, g ...crew.Guard) crew.Pool[int] {
		return crew.Chain(crew.NewPriorityPool[int](w), append(g, passGuard{})...)
	}},
	{"foreign", func(w int, g ...crew.Guard) crew.Pool[int] {
		return crew.Chain[int](foreignPool[int]{crew.NewPool[int](w)}, g...)
	}},
}

func forEachRetryBase(t *testing.T, test func(t *testing.T, newBase func(workers int, guards ...crew.Guard) crew.Pool[int])) {
	for _, b := range retryBases {
		t.Run(b.name, func(t *testing.T) { test(t, b.new) })
	}
}

// flaky fails its first n calls with err, then returns the call count;
// it records when each call started.
type flaky struct {
	mu    sync.Mutex
	n     int
	err   error
	calls []time.Duration // since start
	start time.Time
}

func newFlaky(n int, err error) *flaky { return &flaky{n: n, err: err, start: time.Now()} }

func (f *flaky) job(context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, time.Since(f.start))
	if len(f.calls) <= f.n {
		return 0, f.err
	}
	return len(f.calls), nil
}

func (f *flaky) times() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.calls...)
}

var errFlaky = errors.New("flaky")

func TestRetryTriesAgainWithBackoff(t *testing.T) {
	forEachRetryBase(t, func(t *testing.T, newBase func(int, ...crew.Guard) crew.Pool[int]) {
		synctest.Test(t, func(t *testing.T) {
			base := newBase(2)
			p := crew.Retry(base, crew.RetryPolicy{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond})
			fl := newFlaky(2, errFlaky)
			v, err := crew.Do(context.Background(), p, fl.job)
			require.NoError(t, err)
			assert.Equal(t, 3, v, "the third attempt succeeded")
			c := fl.times()
			require.Len(t, c, 3)
			// Back-off 100ms then 200ms, each drawn from its upper half.
			assert.GreaterOrEqual(t, c[1]-c[0], 50*time.Millisecond)
			assert.LessOrEqual(t, c[1]-c[0], 100*time.Millisecond)
			assert.GreaterOrEqual(t, c[2]-c[1], 100*time.Millisecond)
			assert.LessOrEqual(t, c[2]-c[1], 200*time.Millisecond)
			require.NoError(t, p.Close(context.Background()))
			s := p.Stats()
			assert.Equal(t, crew.Stats{Submitted: 1, Completed: 1}, s, "Retry counts jobs")
			assert.EqualValues(t, 3, base.Stats().Submitted, "base counts attempts")
		})
	})
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	forEachRetryBase(t, func(t *testing.T, newBase func(int, ...crew.Guard) crew.Pool[int]) {
		synctest.Test(t, func(t *testing.T) {
			var retries []int
			p := crew.Retry(newBase(1), crew.RetryPolicy{OnRetry: func(attempt int, err error, wait time.Duration) {
				assert.ErrorIs(t, err, errFlaky)
				assert.Positive(t, wait)
				retries = append(retries, attempt)
			}})
			fl := newFlaky(10, errFlaky)
			_, err := crew.Do(context.Background(), p, fl.job)
			require.ErrorIs(t, err, errFlaky, "the last attempt's error")
			assert.Len(t, fl.times(), 3, "default MaxAttempts")
			assert.Equal(t, []int{2, 3}, retries)
			require.NoError(t, p.Close(context.Background()))
			assert.Equal(t, crew.Stats{Submitted: 1, Completed: 1, Failed: 1}, p.Stats())
		})
	})
}

// retryAfterErr says when to come back through a method.
type retryAfterErr struct{ after time.Duration }

func (e retryAfterErr) Error() string             { return fmt.Sprintf("come back in %v", e.after) }
func (e retryAfterErr) RetryAfter() time.Duration { return e.after }

func TestRetryWaitsAtLeastRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"RejectedError", &crew.RejectedError{Guard: "g", RetryAfter: 3 * time.Second, Err: crew.ErrRateLimited}},
		{"RetryAfter method, wrapped", fmt.Errorf("calling: %w", retryAfterErr{3 * time.Second})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.Retry(crew.NewPool[int](1), crew.RetryPolicy{MaxDelay: time.Second})
				fl := newFlaky(1, tt.err)
				_, err := crew.Do(context.Background(), p, fl.job)
				require.NoError(t, err)
				c := fl.times()
				require.Len(t, c, 2)
				assert.GreaterOrEqual(t, c[1]-c[0], 3*time.Second, "at least RetryAfter, MaxDelay or not")
				assert.LessOrEqual(t, c[1]-c[0], 3300*time.Millisecond, "a tenth of jitter at most")
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

func TestRetryNeverRetriesByDefault(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	tests := []struct {
		name string
		ctx  context.Context
		job  func(calls *atomic.Int32) crew.Job[int]
		want error
	}{
		{"a panic", context.Background(), func(c *atomic.Int32) crew.Job[int] {
			return func(context.Context) (int, error) { c.Add(1); panic("boom") }
		}, nil},
		{"ErrClosed", context.Background(), func(c *atomic.Int32) crew.Job[int] {
			return func(context.Context) (int, error) { c.Add(1); return 0, fmt.Errorf("inner pool: %w", crew.ErrClosed) }
		}, crew.ErrClosed},
		{"the submit ctx's own end", ended, func(c *atomic.Int32) crew.Job[int] {
			return func(context.Context) (int, error) { c.Add(1); cancel(); return 0, context.Canceled }
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.Retry(crew.NewPool[int](1), crew.RetryPolicy{MaxAttempts: 5})
				var calls atomic.Int32
				f, err := p.Submit(tt.ctx, tt.job(&calls))
				require.NoError(t, err)
				_, err = f.Wait(context.Background())
				if tt.want == nil {
					var pe *crew.PanicError
					assert.ErrorAs(t, err, &pe)
				} else {
					assert.ErrorIs(t, err, tt.want)
				}
				assert.EqualValues(t, 1, calls.Load())
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

func TestRetryGivesUpWhenTheDeadlineCannotBeMet(t *testing.T) {
	forEachRetryBase(t, func(t *testing.T, newBase func(int, ...crew.Guard) crew.Pool[int]) {
		synctest.Test(t, func(t *testing.T) {
			p := crew.Retry(newBase(1), crew.RetryPolicy{MaxAttempts: 10})
			err100 := &crew.RejectedError{Guard: "g", RetryAfter: 100 * time.Millisecond, Err: errFlaky}
			fl := newFlaky(10, err100)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := crew.Do(ctx, p, fl.job)
			require.ErrorIs(t, err, errFlaky, "the last error, not the deadline")
			assert.Len(t, fl.times(), 2, "a third attempt could not start before 150ms")
			assert.Less(t, time.Since(start), 150*time.Millisecond, "it gave up at once")
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

func TestRetryHoldsNoWorkerBetweenAttempts(t *testing.T) {
	forEachRetryBase(t, func(t *testing.T, newBase func(int, ...crew.Guard) crew.Pool[int]) {
		synctest.Test(t, func(t *testing.T) {
			base := newBase(1)
			p := crew.Retry(base, crew.RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour})
			fl := newFlaky(1, errFlaky)
			f, err := p.Submit(context.Background(), fl.job)
			require.NoError(t, err)
			synctest.Wait() // the first attempt failed; the retry waits an hour
			s := base.Stats()
			assert.Zero(t, s.Busy)
			assert.Zero(t, s.Queued)
			v, err := crew.Do(context.Background(), p, value(7))
			require.NoError(t, err, "the one worker is free")
			assert.Equal(t, 7, v)
			_, err = f.Wait(context.Background())
			require.NoError(t, err)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

func TestRetryEveryAttemptPassesTheGuards(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		t.Run(fmt.Sprint("foreign=", foreign), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &callLog{}
				g := &recGuard{name: "g", log: log}
				var base crew.Pool[int] = crew.NewPool[int](1)
				if foreign {
					base = foreignPool[int]{base}
				}
				p := crew.Retry(crew.Chain(base, g), crew.RetryPolicy{})
				_, err := crew.Do(context.Background(), p, newFlaky(2, errFlaky).job)
				require.NoError(t, err)
				require.NoError(t, p.Close(context.Background()))
				want := []string{}
				for range 3 {
					want = append(want, "g.Admit", "g.Start", "g.Done")
				}
				assert.Equal(t, want, log.take())
			})
		})
	}
}

// TestRetryFirstAttemptRefusedAtSubmit: an open breaker refuses the first
// attempt at Submit with a RetryAfter; Retry accepts the job and tries
// again once the circuit lets it through.
func TestRetryFirstAttemptRefusedAtSubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second})
		b.Trip()
		p := crew.Retry(crew.Chain(crew.NewPool[int](1), b), crew.RetryPolicy{})
		start := time.Now()
		v, err := crew.Do(context.Background(), p, value(5))
		require.NoError(t, err)
		assert.Equal(t, 5, v)
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "not before the circuit half-opened")
		require.NoError(t, p.Close(context.Background()))
		assert.Equal(t, crew.Stats{Submitted: 1, Completed: 1}, p.Stats())

		// A refusal not worth a retry is Submit's answer.
		q := crew.Retry(crew.NewPool[int](1), crew.RetryPolicy{})
		require.NoError(t, q.Close(context.Background()))
		_, err = q.Submit(context.Background(), value(1))
		assert.ErrorIs(t, err, crew.ErrClosed)
		assert.EqualValues(t, 1, q.Stats().Rejected)
	})
}

func TestRetryCtxEndingBetweenAttemptsResolvesAtOnce(t *testing.T) {
	forEachRetryBase(t, func(t *testing.T, newBase func(int, ...crew.Guard) crew.Pool[int]) {
		synctest.Test(t, func(t *testing.T) {
			p := crew.Retry(newBase(1), crew.RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour})
			ctx, cancel := context.WithCancel(context.Background())
			f, err := p.Submit(ctx, newFlaky(1, errFlaky).job)
			require.NoError(t, err)
			synctest.Wait()
			start := time.Now()
			cancel()
			_, err = f.Wait(context.Background())
			assert.ErrorIs(t, err, context.Canceled)
			assert.Zero(t, time.Since(start))
			require.NoError(t, p.Close(context.Background()))
			assert.Equal(t, crew.Stats{Submitted: 1, Canceled: 1}, p.Stats())
		})
	})
}

// TestRetryBudgetCapsRetries: at most BudgetRatio of the live jobs (and
// at least BudgetReserve) retry at once; the others end with their error.
func TestRetryBudgetCapsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var retries atomic.Int32 // jobs that began retrying
		p := crew.Retry(crew.NewPool[int](4), crew.RetryPolicy{
			MaxAttempts: 5, BudgetRatio: 0.1, BudgetReserve: 3,
			OnRetry: func(attempt int, _ error, _ time.Duration) {
				if attempt == 2 {
					retries.Add(1)
				}
			},
		})
		var futs []*crew.Future[int]
		for range 100 {
			f, err := p.Submit(context.Background(), func(context.Context) (int, error) { return 0, errFlaky })
			require.NoError(t, err)
			futs = append(futs, f)
		}
		for _, f := range futs {
			_, err := f.Wait(context.Background())
			require.ErrorIs(t, err, errFlaky)
		}
		assert.LessOrEqual(t, retries.Load(), int32(10), "a tenth of the 100 jobs live at most")
		assert.GreaterOrEqual(t, retries.Load(), int32(3), "the reserve at least")
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestRetryCallbackPanicsEndTheJob(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy crew.RetryPolicy
	}{
		{"Retryable", crew.RetryPolicy{Retryable: func(error) bool { panic("retryable bug") }}},
		{"OnRetry", crew.RetryPolicy{OnRetry: func(int, error, time.Duration) { panic("hook bug") }}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.Retry(crew.NewPool[int](1), tt.policy)
				_, err := crew.Do(context.Background(), p, newFlaky(1, errFlaky).job)
				var pe *crew.PanicError
				require.ErrorAs(t, err, &pe)
				v, err := crew.Do(context.Background(), p, value(2))
				require.NoError(t, err, "the pool goes on")
				assert.Equal(t, 2, v)
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

func TestRetryClose(t *testing.T) {
	forEachRetryBase(t, func(t *testing.T, newBase func(int, ...crew.Guard) crew.Pool[int]) {
		t.Run("drains waiting retries", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.Retry(newBase(1), crew.RetryPolicy{})
				fl := newFlaky(2, errFlaky)
				f, err := p.Submit(context.Background(), fl.job)
				require.NoError(t, err)
				synctest.Wait() // waiting for its second attempt
				require.NoError(t, p.Close(context.Background()))
				v, err := f.Wait(context.Background())
				require.NoError(t, err, "Close let it finish its retries")
				assert.Equal(t, 3, v)
				_, err = p.Submit(context.Background(), value(1))
				assert.ErrorIs(t, err, crew.ErrClosed)
			})
		})
		t.Run("gives up", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.Retry(newBase(1), crew.RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour})
				waiting, err := p.Submit(context.Background(), newFlaky(1, errFlaky).job)
				require.NoError(t, err)
				synctest.Wait()
				blk := newBlocker()
				running, err := p.Submit(context.Background(), blk.job)
				require.NoError(t, err)
				<-blk.started
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				start := time.Now()
				require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
				assert.Equal(t, time.Second, time.Since(start))
				_, err = waiting.Wait(context.Background())
				assert.ErrorIs(t, err, crew.ErrClosed, "waiting between attempts when Close gave up")
				_, err = running.Wait(context.Background())
				assert.ErrorIs(t, err, context.Canceled, "its ctx was cancelled; not retried")
				assert.ErrorIs(t, p.Close(context.Background()), context.DeadlineExceeded, "the first result")
				s := p.Stats()
				assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
			})
		})
	})
}

func TestRetryBadInput(t *testing.T) {
	pool := crew.NewPool[int](1)
	defer pool.Close(context.Background())
	for _, tt := range []struct {
		name string
		give func()
	}{
		{"nil base", func() { crew.Retry[int](nil, crew.RetryPolicy{}) }},
		{"nil pointer base", func() { crew.Retry[int]((*crew.WorkerPool[int])(nil), crew.RetryPolicy{}) }},
		{"negative MaxAttempts", func() { crew.Retry[int](pool, crew.RetryPolicy{MaxAttempts: -1}) }},
		{"negative BaseDelay", func() { crew.Retry[int](pool, crew.RetryPolicy{BaseDelay: -1}) }},
		{"negative MaxDelay", func() { crew.Retry[int](pool, crew.RetryPolicy{MaxDelay: -1}) }},
		{"NaN budget", func() { crew.Retry[int](pool, crew.RetryPolicy{BudgetRatio: math.NaN()}) }},
		{"infinite budget", func() { crew.Retry[int](pool, crew.RetryPolicy{BudgetRatio: math.Inf(1)}) }},
		{"negative reserve", func() { crew.Retry[int](pool, crew.RetryPolicy{BudgetReserve: -1}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := panicText(tt.give)
			require.NotNil(t, v, "it panics")
			assert.True(t, strings.HasPrefix(fmt.Sprint(v), "crew: Retry: "), "%v", v)
		})
	}
	p := crew.Retry[int](pool, crew.RetryPolicy{MaxAttempts: 1})
	_, err := p.Submit(nilCtx, value(1))
	assert.Error(t, err)
	_, err = p.Submit(context.Background(), nil)
	assert.Error(t, err)
	assert.EqualValues(t, 2, p.Stats().Rejected)
	assert.Error(t, p.Close(nilCtx))
}

// panicText returns what f panics with, nil if it does not panic.
func panicText(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// refuseFirst refuses the first n jobs at Start, with no RetryAfter.
type refuseFirst struct {
	mu sync.Mutex
	n  int
}

func (g *refuseFirst) Admit(context.Context) (crew.Ticket, error) { return 0, nil }
func (g *refuseFirst) Start(context.Context, crew.Ticket) (crew.Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n > 0 {
		g.n--
		return 0, &crew.RejectedError{Guard: "first", Err: crew.ErrCircuitOpen}
	}
	return 0, nil
}
func (g *refuseFirst) Done(crew.Ticket, error, time.Duration) {}
func (g *refuseFirst) Abandon(crew.Ticket)                    {}

// TestRetryRefusalsDoNotLengthenTheBackoff: attempts a guard refused did
// not run, and the back-off doubles only for attempts that ran.
func TestRetryRefusalsDoNotLengthenTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var waits []time.Duration
		p := crew.Retry(crew.Chain(crew.NewPool[int](1), &refuseFirst{n: 3}), crew.RetryPolicy{
			MaxAttempts: 6, BaseDelay: 100 * time.Millisecond,
			OnRetry: func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) },
		})
		fl := newFlaky(1, errFlaky)
		v, err := crew.Do(context.Background(), p, fl.job)
		require.NoError(t, err)
		assert.Equal(t, 2, v, "refused three times, failed once, then succeeded")
		require.Len(t, waits, 4)
		for _, w := range waits {
			assert.LessOrEqual(t, w, 100*time.Millisecond, "no doubling: only one attempt that ran failed")
		}
		require.NoError(t, p.Close(context.Background()))
	})
}
