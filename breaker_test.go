package crew_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

var (
	errBoom     = errors.New("boom")
	errNotFound = errors.New("not found")
)

func succeed(context.Context) error { return nil }
func fail(context.Context) error    { return errBoom }
func returns(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

// hookLog records OnStateChange calls and the state the hook read back.
type hookLog struct {
	mu   sync.Mutex
	b    *crew.Breaker
	list []string
}

func (h *hookLog) hook(from, to crew.CircuitState) {
	s := h.b.State() // must not deadlock: the hook runs outside the lock
	h.mu.Lock()
	h.list = append(h.list, fmt.Sprintf("%v->%v (%v)", from, to, s))
	h.mu.Unlock()
}

func (h *hookLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.list...)
}

// newLoggedBreaker returns a Breaker whose state changes are logged.
func newLoggedBreaker(cfg crew.BreakerConfig) (*crew.Breaker, *hookLog) {
	h := &hookLog{}
	cfg.OnStateChange = h.hook
	h.b = crew.NewBreaker(cfg)
	return h.b, h
}

func TestBreakerCountsFailures(t *testing.T) {
	notFoundIsFine := func(err error) bool { return !errors.Is(err, errNotFound) }
	never := func(error) bool { return false }
	always := func(error) bool { return true }
	tests := []struct {
		name  string
		cfg   crew.BreakerConfig
		calls []func(context.Context) error
		want  crew.CircuitState
	}{
		{name: "4 of default 5", calls: repeat(4, fail), want: crew.StateClosed},
		{name: "5 of default 5", calls: repeat(5, fail), want: crew.StateOpen},
		{name: "success resets the count", cfg: crew.BreakerConfig{FailureThreshold: 3},
			calls: []func(context.Context) error{fail, fail, succeed, fail, fail}, want: crew.StateClosed},
		{name: "Canceled is not a failure", cfg: crew.BreakerConfig{FailureThreshold: 1},
			calls: []func(context.Context) error{returns(context.Canceled)}, want: crew.StateClosed},
		{name: "wrapped Canceled is not a failure", cfg: crew.BreakerConfig{FailureThreshold: 1},
			calls: []func(context.Context) error{returns(fmt.Errorf("call: %w", context.Canceled))}, want: crew.StateClosed},
		{name: "Canceled does not reset the count", cfg: crew.BreakerConfig{FailureThreshold: 2},
			calls: []func(context.Context) error{fail, returns(context.Canceled), fail}, want: crew.StateOpen},
		{name: "DeadlineExceeded is a failure", cfg: crew.BreakerConfig{FailureThreshold: 1},
			calls: []func(context.Context) error{returns(context.DeadlineExceeded)}, want: crew.StateOpen},
		{name: "another guard's rejection is not a failure", cfg: crew.BreakerConfig{FailureThreshold: 1},
			calls: []func(context.Context) error{returns(fmt.Errorf("inner: %w", &crew.RejectedError{Guard: "ratelimit", Err: crew.ErrRateLimited}))},
			want:  crew.StateClosed},
		{name: "panic is a failure", cfg: crew.BreakerConfig{FailureThreshold: 1},
			calls: []func(context.Context) error{func(context.Context) error { panic("oops") }}, want: crew.StateOpen},
		{name: "IsFailure: not found is fine", cfg: crew.BreakerConfig{FailureThreshold: 1, IsFailure: notFoundIsFine},
			calls: []func(context.Context) error{returns(errNotFound)}, want: crew.StateClosed},
		{name: "IsFailure: other errors fail", cfg: crew.BreakerConfig{FailureThreshold: 1, IsFailure: notFoundIsFine},
			calls: []func(context.Context) error{fail}, want: crew.StateOpen},
		{name: "IsFailure: a success resets", cfg: crew.BreakerConfig{FailureThreshold: 2, IsFailure: notFoundIsFine},
			calls: []func(context.Context) error{fail, returns(errNotFound), fail}, want: crew.StateClosed},
		{name: "IsFailure is not asked about Canceled", cfg: crew.BreakerConfig{FailureThreshold: 1, IsFailure: always},
			calls: []func(context.Context) error{returns(context.Canceled)}, want: crew.StateClosed},
		{name: "a panic fails whatever IsFailure says", cfg: crew.BreakerConfig{FailureThreshold: 1, IsFailure: never},
			calls: []func(context.Context) error{func(context.Context) error { panic(errNotFound) }}, want: crew.StateOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := crew.NewBreaker(tt.cfg)
			for _, fn := range tt.calls {
				_ = b.Execute(context.Background(), fn)
			}
			assert.Equal(t, tt.want, b.State())
		})
	}
}

// assertRefused checks a Breaker's refusal (guarantee 11): a
// *RejectedError naming guard, matching ErrCircuitOpen, whose RetryAfter is
// within [lo, hi].
func assertRefused(t *testing.T, err error, guard string, lo, hi time.Duration) {
	t.Helper()
	var re *crew.RejectedError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, crew.ErrCircuitOpen)
	assert.Equal(t, guard, re.Guard)
	assert.GreaterOrEqual(t, re.RetryAfter, lo, "RetryAfter")
	assert.LessOrEqual(t, re.RetryAfter, hi, "RetryAfter")
}

func repeat(n int, fn func(context.Context) error) []func(context.Context) error {
	var fns []func(context.Context) error
	for range n {
		fns = append(fns, fn)
	}
	return fns
}

func TestBreakerExecuteReturns(t *testing.T) {
	b := crew.NewBreaker(crew.BreakerConfig{})
	assert.NoError(t, b.Execute(context.Background(), succeed))
	assert.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
	err := b.Execute(context.Background(), func(context.Context) error { panic(errNotFound) })
	var pe *crew.PanicError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, errNotFound)
	assert.Contains(t, string(pe.Stack), "breaker_test.go")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err = b.Execute(ctx, func(context.Context) error { called = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "fn ran with an ended ctx")
}

// TestBreakerOpenRejectsAtSubmit: while open, Submit fails at once with a
// *RejectedError that says how long the circuit stays open.
func TestBreakerOpenRejectsAtSubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 2, ResetTimeout: 10 * time.Second})
		p := crew.Chain(crew.NewPool[int](2), b)
		for range 2 {
			_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) { return 0, errBoom })
			require.ErrorIs(t, err, errBoom)
		}
		time.Sleep(3 * time.Second)
		ran := false
		t0 := time.Now()
		_, err := p.Submit(context.Background(), func(context.Context) (int, error) { ran = true; return 1, nil })
		assert.Equal(t, t0, time.Now(), "Submit waited")
		assertRefused(t, err, "breaker", 7*time.Second, 12*time.Second-1) // time left + [0, RetrySpread)
		closePool(t, p)
		assert.False(t, ran)
		assert.Equal(t, uint64(1), p.Stats().Rejected)
	})
}

// TestBreakerJobsQueuedBeforeOpenFailAtStart: a job accepted while closed
// but taken by a worker after the circuit opened does not run.
func TestBreakerJobsQueuedBeforeOpenFailAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: 10 * time.Second})
		p := crew.Chain(crew.NewPool[int](1), b)
		release := make(chan struct{})
		first, err := p.Submit(context.Background(), func(context.Context) (int, error) { <-release; return 0, errBoom })
		require.NoError(t, err)
		ran := false
		queued, err := p.Submit(context.Background(), func(context.Context) (int, error) { ran = true; return 0, nil })
		require.NoError(t, err)
		close(release)
		_, err = first.Wait(context.Background())
		require.ErrorIs(t, err, errBoom)
		_, err = queued.Wait(context.Background())
		assertRefused(t, err, "breaker", 10*time.Second, 15*time.Second-1)
		closePool(t, p)
		assert.False(t, ran)
		assert.Equal(t, uint64(1), p.Stats().Canceled)
	})
}

// TestBreakerIgnoresInnerGuardRefusals: with the breaker outside a limiter,
// the limiter's refusals at start reach the breaker's Done and are not
// failures.
func TestBreakerIgnoresInnerGuardRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1})
		l := crew.NewRateLimiter(10, 1, crew.WithMaxWait(100*time.Millisecond))
		p := crew.Chain(crew.NewPool[int](1), b, l)
		release := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil })
		require.NoError(t, err)
		synctest.Wait()
		f, err := p.Submit(context.Background(), func(context.Context) (int, error) { return 0, nil })
		require.NoError(t, err, "its token comes in 100ms")
		l.SetLimit(rate1PerMinute) // now it cannot get its token in time
		close(release)
		_, err = f.Wait(context.Background())
		require.ErrorIs(t, err, crew.ErrRateLimited)
		closePool(t, p)
		assert.Equal(t, crew.StateClosed, b.State())
	})
}

const rate1PerMinute = 1.0 / 60

func TestBreakerFailureRatio(t *testing.T) {
	type step struct {
		sleep time.Duration
		calls []func(context.Context) error
	}
	cfg := crew.BreakerConfig{FailureRatio: 0.5, Window: 10 * time.Second, MinimumCalls: 10, FailureThreshold: 1}
	tests := []struct {
		name  string
		steps []step
		want  crew.CircuitState
	}{
		{name: "below the minimum calls", steps: []step{{calls: repeat(9, fail)}}, want: crew.StateClosed},
		{name: "ratio reached", steps: []step{{calls: append(repeat(5, succeed), repeat(5, fail)...)}}, want: crew.StateOpen},
		{name: "ratio not reached", steps: []step{{calls: append(repeat(6, succeed), repeat(4, fail)...)}}, want: crew.StateClosed},
		{name: "old calls leave the window", steps: []step{
			{calls: repeat(9, fail)}, {sleep: 11 * time.Second, calls: repeat(1, fail)},
		}, want: crew.StateClosed},
		{name: "calls within the window count", steps: []step{
			{calls: repeat(9, fail)}, {sleep: 8 * time.Second, calls: repeat(1, fail)},
		}, want: crew.StateOpen},
		{name: "cancellations are not calls", steps: []step{
			{calls: append(repeat(5, fail), repeat(5, returns(context.Canceled))...)},
		}, want: crew.StateClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(cfg)
				for _, s := range tt.steps {
					time.Sleep(s.sleep)
					for _, fn := range s.calls {
						_ = b.Execute(context.Background(), fn)
					}
				}
				assert.Equal(t, tt.want, b.State())
			})
		})
	}
}

// TestBreakerSlowCalls: a call slower than SlowCallThreshold counts as a
// failure, and its result still reaches the caller.
func TestBreakerSlowCalls(t *testing.T) {
	slowly := func(d time.Duration, err error) func(context.Context) error {
		return func(context.Context) error { time.Sleep(d); return err }
	}
	tests := []struct {
		name     string
		halfOpen bool
		call     func(context.Context) error
		want     crew.CircuitState
	}{
		{name: "fast", call: slowly(time.Second, nil), want: crew.StateClosed},
		{name: "slow", call: slowly(time.Second+time.Nanosecond, nil), want: crew.StateOpen},
		{name: "slow and cancelled", call: slowly(2*time.Second, context.Canceled), want: crew.StateClosed},
		{name: "fast probe", halfOpen: true, call: slowly(time.Second, nil), want: crew.StateClosed},
		{name: "slow probe", halfOpen: true, call: slowly(2*time.Second, nil), want: crew.StateOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, SlowCallThreshold: time.Second, ResetTimeout: time.Second, ProbeTimeout: time.Minute})
				if tt.halfOpen {
					tripAndWait(b)
				}
				err := b.Execute(context.Background(), tt.call)
				assert.NotErrorIs(t, err, crew.ErrCircuitOpen)
				assert.Equal(t, tt.want, b.State(), "via Execute")
			})
		})
	}
	t.Run("in a pool", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, SlowCallThreshold: time.Second})
			p := crew.Chain(crew.NewPool[int](1), b)
			v, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
				time.Sleep(2 * time.Second)
				return 42, nil
			})
			require.NoError(t, err)
			assert.Equal(t, 42, v)
			closePool(t, p)
			assert.Equal(t, crew.StateOpen, b.State())
		})
	})
}

func TestBreakerName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{Name: "payments"})
		b.Trip()
		assertRefused(t, b.Execute(context.Background(), succeed), "payments", 30*time.Second, 45*time.Second-1)
	})
}
