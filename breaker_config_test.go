package crew_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

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
		{"+Inf FailureRatio", crew.BreakerConfig{FailureRatio: math.Inf(1)}},
		{"-Inf FailureRatio", crew.BreakerConfig{FailureRatio: math.Inf(-1)}},
		{"negative RetrySpread", crew.BreakerConfig{RetrySpread: -1}},
		{"negative RampUp", crew.BreakerConfig{RampUp: math.MinInt64}},
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

// TestBreakerHugeConfig: math.MaxInt counts and math.MaxInt64 durations
// mean "never", and nothing overflows on the way: a RetryAfter saturates
// instead of wrapping around to a negative or small value.
func TestBreakerHugeConfig(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	t.Run("FailureThreshold", func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: math.MaxInt})
		for range 1000 {
			_ = b.Execute(context.Background(), fail)
		}
		assert.Equal(t, crew.StateClosed, b.State())
		assert.Equal(t, 1000, b.Stats().ConsecutiveFailures)
	})
	t.Run("ResetTimeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: forever})
			b.Trip()
			assertRefused(t, b.Execute(context.Background(), succeed), "breaker", forever, forever)
			time.Sleep(100 * 365 * 24 * time.Hour)
			assert.Equal(t, crew.StateOpen, b.State(), "open until Reset")
			var re *crew.RejectedError
			require.ErrorAs(t, b.Execute(context.Background(), succeed), &re)
			assert.Greater(t, re.RetryAfter, 150*365*24*time.Hour, "saturated, then shrinking with time")
			b.Reset()
			assert.NoError(t, b.Execute(context.Background(), succeed))
		})
	})
	t.Run("RetrySpread", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second, RetrySpread: forever})
			b.Trip()
			for range 100 {
				assertRefused(t, b.Execute(context.Background(), succeed), "breaker", time.Second, forever)
			}
			time.Sleep(time.Second)
			block := make(chan struct{})
			defer close(block)
			go func() { _ = b.Execute(context.Background(), func(context.Context) error { <-block; return nil }) }()
			synctest.Wait() // the probe holds the slot
			for range 100 {
				assertRefused(t, b.Execute(context.Background(), succeed), "breaker", 1, forever)
			}
		})
	})
	t.Run("RampUp, ProbeTimeout, Window, HalfOpenMaxRequests, MinimumCalls", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{
				ResetTimeout: time.Second, RampUp: forever, ProbeTimeout: forever,
				FailureRatio: 1e-300, Window: forever, MinimumCalls: math.MaxInt,
			})
			for range 100 {
				_ = b.Execute(context.Background(), fail)
			}
			assert.Equal(t, crew.StateClosed, b.State(), "below MinimumCalls")
			tripAndWait(b)
			require.NoError(t, b.Execute(context.Background(), succeed), "the probe")
			require.NoError(t, b.Execute(context.Background(), succeed), "the first call of the ramp")
			assertRefused(t, b.Execute(context.Background(), succeed), "breaker", 1, time.Second/2)
			assert.True(t, b.Stats().RampingUp)
		})
	})
}

// FuzzBreakerConfig builds Breakers from arbitrary config values and drives
// them: a config NewBreaker accepts must never make a later call panic,
// hang or return a refusal without a positive RetryAfter, and one it
// refuses must panic with the crew: prefix, exactly when a value is
// negative or FailureRatio is not within [0, 1].
func FuzzBreakerConfig(f *testing.F) {
	f.Add(5, int64(30e9), 1, int64(0), 0.0, int64(0), 10, int64(0), int64(0), int64(0), []byte{1, 1, 1, 1, 1, 0, 4, 40, 0, 5})
	f.Add(math.MaxInt, int64(math.MaxInt64), math.MaxInt, int64(math.MaxInt64), 1e-300, int64(math.MaxInt64),
		math.MaxInt, int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), []byte{2, 0, 4, 62, 0, 5, 3, 0})
	f.Add(1, int64(1), 2, int64(1), 1.0, int64(1), 1, int64(1), int64(1), int64(1), []byte{1, 4, 1, 0, 0, 6, 1, 5, 4, 3, 0})
	f.Add(0, int64(0), 0, int64(0), math.NaN(), int64(0), 0, int64(0), int64(0), int64(0), []byte{})
	f.Add(-1, int64(-1), 0, int64(0), 0.5, int64(0), 0, int64(0), int64(0), int64(0), []byte{})
	f.Fuzz(func(t *testing.T, threshold int, reset int64, halfOpen int, probeTO int64, ratio float64,
		window int64, minCalls int, slow, spread, ramp int64, ops []byte) {
		cfg := crew.BreakerConfig{
			FailureThreshold: threshold, ResetTimeout: time.Duration(reset), HalfOpenMaxRequests: halfOpen,
			ProbeTimeout: time.Duration(probeTO), FailureRatio: ratio, Window: time.Duration(window),
			MinimumCalls: minCalls, SlowCallThreshold: time.Duration(slow), RetrySpread: time.Duration(spread),
			RampUp: time.Duration(ramp),
		}
		valid := threshold >= 0 && halfOpen >= 0 && minCalls >= 0 && reset >= 0 && probeTO >= 0 &&
			window >= 0 && slow >= 0 && spread >= 0 && ramp >= 0 && ratio >= 0 && ratio <= 1
		if !valid {
			defer func() {
				assert.True(t, strings.HasPrefix(fmt.Sprint(recover()), "crew: NewBreaker: "), "no crew: panic for %+v", cfg)
			}()
			crew.NewBreaker(cfg)
			return
		}
		synctest.Test(t, func(t *testing.T) { driveBreaker(t, crew.NewBreaker(cfg), ops) })
	})
}

// driveBreaker runs ops on b: calls that succeed, fail, run slowly or are
// cancelled, Trip, Reset and the passing of time (from 1ns to about 150
// years at once, 250 years in all), checking each answer.
func driveBreaker(t *testing.T, b *crew.Breaker, ops []byte) {
	var slept time.Duration
	for len(ops) >= 2 {
		op, arg := ops[0]%7, ops[1]
		ops = ops[2:]
		var err error
		switch op {
		case 0:
			err = b.Execute(context.Background(), succeed)
		case 1:
			err = b.Execute(context.Background(), fail)
		case 2:
			err = b.Execute(context.Background(), func(context.Context) error {
				time.Sleep(time.Duration(arg) * time.Millisecond)
				return nil
			})
		case 3:
			err = b.Execute(context.Background(), returns(context.Canceled))
		case 4:
			if d := time.Duration(1) << (arg % 63); slept <= 250*365*24*time.Hour-d {
				time.Sleep(d)
				slept += d
			}
		case 5:
			if arg%2 == 0 {
				b.Trip()
			} else {
				b.Reset()
			}
		case 6:
			s := b.Stats()
			require.Equal(t, b.State(), s.State)
			require.GreaterOrEqual(t, s.TotalCalls, s.TotalFailures)
			require.GreaterOrEqual(t, s.Probes, s.ProbeSuccesses+s.ProbeFailures)
		}
		if re, ok := errors.AsType[*crew.RejectedError](err); ok {
			require.ErrorIs(t, err, crew.ErrCircuitOpen)
			require.Positive(t, re.RetryAfter, "a refusal without a RetryAfter")
			if s := b.Stats(); s.State == crew.StateOpen {
				require.False(t, time.Now().Add(re.RetryAfter).Before(s.OpenUntil), "a RetryAfter that returns while open")
			}
		}
	}
}
