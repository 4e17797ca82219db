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
		assertRejected(t, err, "breaker", crew.ErrCircuitOpen, 7*time.Second)
		closePool(t, p)
		assert.False(t, ran)
		assert.Equal(t, uint64(1), p.Stats().Rejected)
	})
}

func TestBreakerHalfOpenWhenResetTimeoutPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := newLoggedBreaker(crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: 10 * time.Second})
		require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
		time.Sleep(10*time.Second - time.Nanosecond)
		assert.Equal(t, crew.StateOpen, b.State())
		time.Sleep(time.Nanosecond)
		assert.Equal(t, crew.StateHalfOpen, b.State())
		require.NoError(t, b.Execute(context.Background(), succeed))
		assert.Equal(t, crew.StateClosed, b.State())
		assert.Equal(t, []string{"closed->open (open)", "open->half-open (half-open)", "half-open->closed (closed)"}, log.get())
	})
}

// TestBreakerHalfOpenAdmitsExactlyMaxProbes: when more calls arrive than
// HalfOpenMaxRequests, exactly that many run; the rest are refused at once.
func TestBreakerHalfOpenAdmitsExactlyMaxProbes(t *testing.T) {
	for _, max := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("pool/max=%d", max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{HalfOpenMaxRequests: max, ResetTimeout: time.Second})
				p := crew.Chain(crew.NewPool[int](20), b)
				b.Trip()
				time.Sleep(time.Second)
				release := make(chan struct{})
				var running atomic.Int32
				accepted, rejected := 0, 0
				for range 20 {
					_, err := p.Submit(context.Background(), func(context.Context) (int, error) {
						running.Add(1)
						<-release
						return 0, nil
					})
					if err == nil {
						accepted++
						continue
					}
					rejected++
					assertRejected(t, err, "breaker", crew.ErrCircuitOpen, 0)
				}
				synctest.Wait()
				assert.Equal(t, max, accepted)
				assert.Equal(t, int32(max), running.Load())
				close(release)
				closePool(t, p)
				assert.Equal(t, crew.StateClosed, b.State(), "max successful probes close it")
			})
		})
		t.Run(fmt.Sprintf("Execute/max=%d", max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{HalfOpenMaxRequests: max, ResetTimeout: time.Second})
				b.Trip()
				time.Sleep(time.Second)
				release := make(chan struct{})
				var running, refused atomic.Int32
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						err := b.Execute(context.Background(), func(context.Context) error {
							running.Add(1)
							<-release
							return nil
						})
						if errors.Is(err, crew.ErrCircuitOpen) {
							refused.Add(1)
						}
					})
				}
				synctest.Wait()
				assert.Equal(t, int32(max), running.Load())
				assert.Equal(t, int32(20-max), refused.Load())
				close(release)
				wg.Wait()
				assert.Equal(t, crew.StateClosed, b.State())
			})
		})
	}
}

func TestBreakerHalfOpenRound(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		calls []func(context.Context) error
		want  crew.CircuitState
	}{
		{name: "max successes close", max: 3, calls: repeat(3, succeed), want: crew.StateClosed},
		{name: "fewer stay half-open", max: 3, calls: repeat(2, succeed), want: crew.StateHalfOpen},
		{name: "a failure reopens", max: 3, calls: []func(context.Context) error{succeed, fail}, want: crew.StateOpen},
		{name: "a slot used up is refused", max: 2, calls: []func(context.Context) error{returns(context.Canceled), succeed, succeed}, want: crew.StateClosed},
		{name: "a panic reopens", max: 2, calls: []func(context.Context) error{func(context.Context) error { panic(1) }}, want: crew.StateOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{HalfOpenMaxRequests: tt.max, ResetTimeout: time.Second})
				b.Trip()
				time.Sleep(time.Second)
				for _, fn := range tt.calls {
					err := b.Execute(context.Background(), fn)
					require.NotErrorIs(t, err, crew.ErrCircuitOpen)
				}
				assert.Equal(t, tt.want, b.State())
			})
		})
	}
}

// TestBreakerStaleResultsDoNotDecide: the outcome of a call admitted before
// a change of state is ignored.
func TestBreakerStaleResultsDoNotDecide(t *testing.T) {
	tests := []struct {
		name   string
		change func(b *crew.Breaker) // after the slow call started
		result error                 // of the slow call
		want   crew.CircuitState
	}{
		{name: "success from closed does not close half-open", change: tripAndWait, result: nil, want: crew.StateHalfOpen},
		{name: "failure from closed does not reopen half-open", change: tripAndWait, result: errBoom, want: crew.StateHalfOpen},
		{name: "failure from before Reset does not count", change: func(b *crew.Breaker) {
			_ = b.Execute(context.Background(), fail) // 1 of 2
			b.Reset()
			_ = b.Execute(context.Background(), fail) // 1 of 2 again
		}, result: errBoom, want: crew.StateClosed},
		{name: "failure from half-open does not count when closed", change: func(b *crew.Breaker) {
			b.Reset()
			_ = b.Execute(context.Background(), fail) // 1 of 2
		}, result: errBoom, want: crew.StateClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 2, ResetTimeout: time.Second})
				if strings.Contains(tt.name, "from half-open") {
					tripAndWait(b)
				}
				release := make(chan struct{})
				started := make(chan struct{})
				done := make(chan error)
				go func() {
					done <- b.Execute(context.Background(), func(context.Context) error {
						close(started)
						<-release
						return tt.result
					})
				}()
				<-started
				tt.change(b)
				close(release)
				assert.Equal(t, tt.result, <-done, "the caller still gets the result")
				assert.Equal(t, tt.want, b.State())
			})
		})
	}
}

func tripAndWait(b *crew.Breaker) {
	b.Trip()
	time.Sleep(time.Second)
}

// TestBreakerHungProbeIsBounded: a probe that never reports holds the
// circuit half-open for ProbeTimeout at most; its late result is ignored.
func TestBreakerHungProbeIsBounded(t *testing.T) {
	tests := []struct {
		name        string
		probeTO     time.Duration
		wantBounded time.Duration
	}{
		{name: "ProbeTimeout", probeTO: 5 * time.Second, wantBounded: 5 * time.Second},
		{name: "default: ResetTimeout", wantBounded: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, log := newLoggedBreaker(crew.BreakerConfig{ResetTimeout: 10 * time.Second, ProbeTimeout: tt.probeTO})
				b.Trip()
				time.Sleep(10 * time.Second)
				release := make(chan struct{})
				started := make(chan struct{})
				done := make(chan error)
				go func() {
					done <- b.Execute(context.Background(), func(context.Context) error {
						close(started)
						<-release
						return nil
					})
				}()
				<-started
				require.ErrorIs(t, b.Execute(context.Background(), succeed), crew.ErrCircuitOpen, "the slot is taken")
				time.Sleep(tt.wantBounded - time.Nanosecond)
				assert.Equal(t, crew.StateHalfOpen, b.State())
				time.Sleep(time.Nanosecond)
				assert.Equal(t, crew.StateOpen, b.State(), "the round failed")
				assertRejected(t, b.Execute(context.Background(), succeed), "breaker", crew.ErrCircuitOpen, 10*time.Second)
				time.Sleep(10 * time.Second)
				require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom) // a new probe fails...
				close(release)
				require.NoError(t, <-done) // ...and the hung one's late success does not close it
				assert.Equal(t, crew.StateOpen, b.State())
				assert.Equal(t, []string{
					"closed->open (open)", "open->half-open (half-open)", "half-open->open (open)",
					"open->half-open (half-open)", "half-open->open (open)",
				}, log.get())
			})
		})
	}
}

// TestBreakerProbeSlotIsReleased: a probe that ends without a verdict
// (cancelled, refused by another guard, or dropped from the queue) gives its
// slot back, so the round goes on.
func TestBreakerProbeSlotIsReleased(t *testing.T) {
	rejectedInside := &crew.RejectedError{Guard: "ratelimit", Err: crew.ErrRateLimited}
	for _, tt := range []struct {
		name string
		give error
	}{
		{"cancelled", context.Canceled},
		{"refused by another guard", rejectedInside},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second})
				tripAndWait(b)
				require.ErrorIs(t, b.Execute(context.Background(), returns(tt.give)), tt.give)
				assert.Equal(t, crew.StateHalfOpen, b.State())
				require.NoError(t, b.Execute(context.Background(), succeed), "the slot is free again")
				assert.Equal(t, crew.StateClosed, b.State())
			})
		})
	}
	t.Run("dropped from the queue", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second})
			p := crew.Chain(crew.NewPool[int](1), b)
			release := make(chan struct{})
			_, err := p.Submit(context.Background(), func(context.Context) (int, error) { <-release; return 0, errBoom })
			require.NoError(t, err)
			synctest.Wait()
			tripAndWait(b)
			ctx, cancel := context.WithCancel(context.Background())
			queued, err := p.Submit(ctx, func(context.Context) (int, error) { return 0, nil })
			require.NoError(t, err, "takes the one slot")
			job := func(context.Context) (int, error) { return 7, nil }
			_, err = p.Submit(context.Background(), job)
			require.ErrorIs(t, err, crew.ErrCircuitOpen)
			cancel()
			_, err = queued.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
			synctest.Wait() // the engine tells the guards after it resolves the Future
			probe, err := p.Submit(context.Background(), job)
			require.NoError(t, err, "the slot was given back")
			close(release) // the first job's failure is stale: it started while closed
			v, err := probe.Wait(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 7, v)
			closePool(t, p)
			assert.Equal(t, crew.StateClosed, b.State())
		})
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
		assertRejected(t, err, "breaker", crew.ErrCircuitOpen, 10*time.Second)
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

func TestBreakerTripAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := newLoggedBreaker(crew.BreakerConfig{ResetTimeout: time.Minute})
		b.Trip()
		time.Sleep(30 * time.Second)
		b.Trip() // again: open for a full ResetTimeout from now
		assertRejected(t, b.Execute(context.Background(), succeed), "breaker", crew.ErrCircuitOpen, time.Minute)
		b.Reset()
		assert.Equal(t, crew.StateClosed, b.State())
		require.NoError(t, b.Execute(context.Background(), succeed))
		b.Reset() // already closed: no change to report
		assert.Equal(t, []string{"closed->open (open)", "open->closed (closed)"}, log.get())
	})
}

// TestBreakerOnStateChangeMayReenter: the hook may call any method of the
// breaker, also one that changes the state again.
func TestBreakerOnStateChangeMayReenter(t *testing.T) {
	var b *crew.Breaker
	var seen []crew.CircuitState
	b = crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, OnStateChange: func(_, to crew.CircuitState) {
		seen = append(seen, to)
		if to == crew.StateOpen {
			b.Reset() // a hook that closes right away
		}
	}})
	require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
	assert.Equal(t, []crew.CircuitState{crew.StateOpen, crew.StateClosed}, seen)
	assert.Equal(t, crew.StateClosed, b.State())
}

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
		assertRejected(t, b.Execute(context.Background(), succeed), "payments", crew.ErrCircuitOpen, 30*time.Second)
	})
}

func TestBreakerPanicsOnMisuse(t *testing.T) {
	tests := []struct {
		name string
		give crew.BreakerConfig
	}{
		{"negative FailureThreshold", crew.BreakerConfig{FailureThreshold: -1}},
		{"negative HalfOpenMaxRequests", crew.BreakerConfig{HalfOpenMaxRequests: -1}},
		{"negative MinimumCalls", crew.BreakerConfig{MinimumCalls: -1}},
		{"negative ResetTimeout", crew.BreakerConfig{ResetTimeout: -1}},
		{"negative ProbeTimeout", crew.BreakerConfig{ProbeTimeout: -1}},
		{"negative Window", crew.BreakerConfig{Window: -1}},
		{"negative SlowCallThreshold", crew.BreakerConfig{SlowCallThreshold: -1}},
		{"FailureRatio above 1", crew.BreakerConfig{FailureRatio: 1.5}},
		{"negative FailureRatio", crew.BreakerConfig{FailureRatio: -0.1}},
		{"NaN FailureRatio", crew.BreakerConfig{FailureRatio: math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "no panic")
				assert.True(t, strings.HasPrefix(fmt.Sprint(r), "crew: "), "panic %q lacks the crew: prefix", r)
			}()
			crew.NewBreaker(tt.give)
		})
	}
}

func TestCircuitStateString(t *testing.T) {
	for give, want := range map[crew.CircuitState]string{
		crew.StateClosed: "closed", crew.StateOpen: "open", crew.StateHalfOpen: "half-open", 7: "CircuitState(7)",
	} {
		assert.Equal(t, want, give.String())
	}
}

func TestBreakerExecuteBadInput(t *testing.T) {
	b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1})
	var nilCtx context.Context
	require.ErrorContains(t, b.Execute(nilCtx, func(context.Context) error { return nil }), "nil context")
	require.ErrorContains(t, b.Execute(context.Background(), nil), "nil function")
	require.Equal(t, crew.StateClosed, b.State(), "bad input is not a failure of the downstream")
}

// TestBreakerAbandonOfClosedAdmissionFreesNoProbeSlot: a job admitted while
// closed and cancelled while queued during half-open held no probe slot, so
// its Abandon must not free one (it used to, letting a second probe in).
func TestBreakerAbandonOfClosedAdmissionFreesNoProbeSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := func(context.Context) (int, error) { return 0, nil }
		br := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second, HalfOpenMaxRequests: 1})
		p := crew.Chain[int](crew.NewPool[int](1), br)
		gate := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (int, error) { <-gate; return 0, nil })
		require.NoError(t, err)
		synctest.Wait()
		ctxA, cancelA := context.WithCancel(context.Background())
		_, err = p.Submit(ctxA, ok) // A: admitted while closed, queued
		require.NoError(t, err)
		br.Trip()
		time.Sleep(time.Second)
		require.Equal(t, crew.StateHalfOpen, br.State())
		_, err = p.Submit(context.Background(), ok) // B: the one probe
		require.NoError(t, err)
		_, err = p.Submit(context.Background(), ok) // C: no slot left
		require.ErrorIs(t, err, crew.ErrCircuitOpen)
		cancelA()
		synctest.Wait()
		_, err = p.Submit(context.Background(), ok) // D: still no slot
		require.ErrorIs(t, err, crew.ErrCircuitOpen, "a job that held no slot gave one back")
		close(gate)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestBreakerJobAdmittedBeforeTripIsNotAProbe: a job accepted before the
// circuit tripped must not become the half-open probe (its result would
// decide the new state, and the real probe would be refused).
func TestBreakerJobAdmittedBeforeTripIsNotAProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second, HalfOpenMaxRequests: 1})
		p := crew.Chain[string](crew.NewPool[string](2), br)
		gate := make(chan struct{})
		for range 2 {
			_, err := p.Submit(context.Background(), func(context.Context) (string, error) { <-gate; return "", nil })
			require.NoError(t, err)
		}
		synctest.Wait()
		old, err := p.Submit(context.Background(), func(context.Context) (string, error) { return "old", nil })
		require.NoError(t, err)
		br.Trip()
		time.Sleep(time.Second)
		probe, err := p.Submit(context.Background(), func(context.Context) (string, error) { return "probe", nil })
		require.NoError(t, err)
		close(gate)
		_, err = old.Wait(context.Background())
		require.ErrorIs(t, err, crew.ErrCircuitOpen, "queued before the trip: refused at start")
		v, err := probe.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, "probe", v, "the probe admitted in the half-open round runs")
		require.Equal(t, crew.StateClosed, br.State())
		require.NoError(t, p.Close(context.Background()))
	})
}
