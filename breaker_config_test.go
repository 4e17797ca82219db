package crew_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

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
