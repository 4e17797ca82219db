package crew_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestBreakerStats walks a Breaker through a trip and a recovery and checks
// the snapshot at each step.
func TestBreakerStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 3, ResetTimeout: 10 * time.Second, HalfOpenMaxRequests: 2})
		assert.Equal(t, crew.BreakerStats{State: crew.StateClosed, Since: t0}, b.Stats(), "new")

		for _, fn := range []func(context.Context) error{succeed, fail, succeed, fail, fail, returns(context.Canceled)} {
			_ = b.Execute(context.Background(), fn)
		}
		assert.Equal(t, crew.BreakerStats{
			State: crew.StateClosed, Since: t0,
			Calls: 5, Failures: 3, ConsecutiveFailures: 2, // a cancellation is not a call
			TotalCalls: 5, TotalFailures: 3,
		}, b.Stats(), "closed, two failures in a row")

		time.Sleep(time.Second)
		t1 := time.Now()
		require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
		assertRefused(t, b.Execute(context.Background(), succeed), "breaker", 10*time.Second, 15*time.Second)
		assert.Equal(t, crew.BreakerStats{
			State: crew.StateOpen, Since: t1, OpenUntil: t1.Add(10 * time.Second),
			TotalCalls: 6, TotalFailures: 4, Trips: 1, Refusals: 1,
		}, b.Stats(), "open: a new window")

		time.Sleep(10 * time.Second)
		require.NoError(t, b.Execute(context.Background(), succeed))
		assert.Equal(t, crew.BreakerStats{
			State: crew.StateHalfOpen, Since: t1.Add(10 * time.Second),
			Calls: 1, TotalCalls: 7, TotalFailures: 4, Trips: 1, Refusals: 1,
			Probes: 1, ProbeSuccesses: 1,
		}, b.Stats(), "half-open, one probe of two succeeded")

		require.NoError(t, b.Execute(context.Background(), succeed))
		require.NoError(t, b.Execute(context.Background(), succeed))
		assert.Equal(t, crew.BreakerStats{
			State: crew.StateClosed, Since: t1.Add(10 * time.Second),
			Calls: 1, TotalCalls: 9, TotalFailures: 4, Trips: 1, Refusals: 1,
			Probes: 2, ProbeSuccesses: 2,
		}, b.Stats(), "closed again, one call since")
	})
}

// TestBreakerStatsRatioWindow: with FailureRatio, the window counts are
// those of the sliding Window, and calls leave it as time passes.
func TestBreakerStatsRatioWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{FailureRatio: 0.9, Window: 10 * time.Second, MinimumCalls: 100})
		for _, fn := range []func(context.Context) error{fail, succeed, fail} {
			_ = b.Execute(context.Background(), fn)
		}
		time.Sleep(5 * time.Second)
		_ = b.Execute(context.Background(), succeed)
		s := b.Stats()
		assert.Equal(t, [3]uint64{4, 2, 4}, [3]uint64{s.Calls, s.Failures, s.TotalCalls})
		time.Sleep(5 * time.Second)
		s = b.Stats()
		assert.Equal(t, [3]uint64{1, 0, 4}, [3]uint64{s.Calls, s.Failures, s.TotalCalls}, "the first three left the window")
	})
}

// TestBreakerStatsRampingUp: RampingUp is set while the circuit ramps up.
func TestBreakerStatsRampingUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second, RampUp: 4 * time.Second})
		tripAndWait(b)
		require.NoError(t, b.Execute(context.Background(), succeed))
		assert.True(t, b.Stats().RampingUp)
		time.Sleep(4 * time.Second)
		assert.False(t, b.Stats().RampingUp)
	})
}

// TestBreakerClosedPathAllocatesNothing: Execute through a closed circuit,
// the Guard calls a pool makes for a job, and Stats do not allocate.
func TestBreakerClosedPathAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []crew.BreakerConfig{{}, {FailureRatio: 0.5}, {SlowCallThreshold: time.Hour}} {
		b := crew.NewBreaker(cfg)
		fn := func(context.Context) error { return nil }
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Execute(ctx, fn) }), "Execute %+v", cfg)
		assert.Zero(t, testing.AllocsPerRun(100, func() {
			adm, _ := b.Admit(ctx)
			tk, _ := b.Start(ctx, adm)
			b.Done(tk, nil, time.Millisecond)
		}), "Admit, Start, Done %+v", cfg)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Stats() }), "Stats %+v", cfg)
	}
}
