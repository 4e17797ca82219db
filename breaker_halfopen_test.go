package crew_test

import (
	"context"
	"errors"
	"fmt"
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
					assertRefused(t, err, "breaker", time.Nanosecond, time.Second/2) // half-open: (0, RetrySpread]
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
				assertRefused(t, b.Execute(context.Background(), succeed), "breaker", 10*time.Second, 15*time.Second-1)
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
